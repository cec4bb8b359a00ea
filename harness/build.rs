//! Records the git commit in the binary, for the results file's `tool.git`.

use std::process::Command;

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for watched in [".git/HEAD", ".git/refs/heads"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(&root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok());
    if let Some(commit) = commit {
        println!("cargo:rustc-env=NETPOL_GIT={}", commit.trim());
    }
}
