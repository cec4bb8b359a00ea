use std::process::ExitCode;

fn main() -> ExitCode {
    match netpol_harness::multicall::dispatch(std::env::args_os().collect()) {
        Ok(code) => code,
        Err(_) => netpol_harness::cli::main(),
    }
}
