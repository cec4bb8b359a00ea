//! Stand-in programs for the tests of scripts and of the kind backend's
//! commands: executable shell scripts in a folder put first on PATH.
#![allow(dead_code)] // each test file uses part of it

use std::process::Command;

/// Runs `script` with `PATH` and returns its exit code, its stderr and what
/// the stand-ins logged in `log`; removes `work` afterwards.
pub fn run_logged(
    mut script: Command,
    path: &str,
    log: &std::path::Path,
    work: &std::path::Path,
) -> (Option<i32>, String, String) {
    let output = script.env("PATH", path).output().expect("the script runs");
    let logged = std::fs::read_to_string(log).unwrap_or_default();
    let _ = std::fs::remove_dir_all(work);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        logged,
    )
}

/// Writes an executable shell script: a stand-in for a program.
pub fn stand_in_program(path: &std::path::Path, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}
