//! `netpol-enforcer`; everything is in the library (see `cli`).

fn main() -> std::process::ExitCode {
    netpol_enforcer::main_from(std::env::args_os())
}
