//! The `netpol-probe` binary: everything lives in the library, which the harness
//! also links and runs busybox-style.

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    netpol_probe::main_from(std::env::args_os())
}
