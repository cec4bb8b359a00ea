use std::process::ExitCode;

fn main() -> ExitCode {
    netpol_harness::cli::main()
}
