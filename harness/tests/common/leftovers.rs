//! What a run left behind, for the tests that check it left nothing: its
//! network namespaces and its run folder. Include it with
//! `#[path = "common/leftovers.rs"] mod leftovers;`.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// Namespaces of run `run_id`.
pub fn run_namespaces(run_id: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("netpol-{run_id}-")))
        .map(str::to_owned)
        .collect()
}

/// The folder of the run that process `pid` owns, if it has made one.
pub fn run_folder_of(pid: u32) -> Option<PathBuf> {
    std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("netpol-"))
                && std::fs::read_to_string(p.join("owner.pid"))
                    .is_ok_and(|o| o.trim() == pid.to_string())
        })
}
