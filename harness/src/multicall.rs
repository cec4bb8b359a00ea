//! One binary, three programs: `netpol`, and under the names `netpol-probe`
//! and `netpol-enforcer` the probe agent and the reference enforcer. The netns
//! backend links those names to the running binary, so `cargo run` of the
//! harness alone brings everything a run needs.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

pub const PROBE: &str = "netpol-probe";
pub const ENFORCER: &str = "netpol-enforcer";

/// Runs the agent or the enforcer when invoked under their names.
pub fn dispatch(args: Vec<OsString>) -> Result<ExitCode, Vec<OsString>> {
    let name = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    match name {
        PROBE => Ok(netpol_probe::main_from(args)),
        ENFORCER => Ok(netpol_enforcer::main_from(args)),
        _ => Err(args),
    }
}
