//! Removing what runs left behind: the namespaces, the processes, the run
//! folders. `netpol cleanup` uses it for runs that were killed.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::topology::{NETNS_PREFIX, run_id_of};

/// Deletes namespaces; returns what could not be deleted.
pub fn delete_namespaces(names: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    for name in names {
        if !Path::new("/run/netns").join(name).exists() {
            continue;
        }
        match Command::new("ip").args(["netns", "del", name]).output() {
            Ok(output) if output.status.success() => {}
            Ok(output) => problems.push(format!(
                "ip netns del {name}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )),
            Err(e) => problems.push(format!("ip netns del {name}: {e}")),
        }
    }
    problems
}

/// What one cleanup did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub namespaces: Vec<String>,
    pub processes: Vec<u32>,
    pub folders: Vec<PathBuf>,
    pub problems: Vec<String>,
}

/// Is the run that owns `folder` still alive (and not us)?
fn owner_alive(folder: &Path) -> bool {
    let Ok(pid) = std::fs::read_to_string(folder.join("owner.pid")) else {
        return false;
    };
    let pid = pid.trim();
    pid != std::process::id().to_string() && Path::new("/proc").join(pid).exists()
}

fn run_folders() -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let id = name.strip_prefix(NETNS_PREFIX)?.to_owned();
            // Only folders a run made: they hold the owner's pid.
            e.path().join("owner.pid").exists().then(|| (id, e.path()))
        })
        .collect()
}

/// Removes every run whose owner is gone (or every run, with `all`): its
/// processes first (a namespace lives on while a process holds it), then its
/// namespaces and folder.
pub fn clean(all: bool) -> Report {
    let mut report = Report::default();
    let folders = run_folders();
    let live: Vec<&str> = folders
        .iter()
        .filter(|(_, f)| !all && owner_alive(f))
        .map(|(id, _)| id.as_str())
        .collect();
    for (pid, cmdline) in processes() {
        let Some(id) = folders
            .iter()
            .find(|(_, f)| cmdline.contains(&format!("{}/", f.display())))
            .map(|(id, _)| id)
        else {
            continue;
        };
        if live.contains(&id.as_str()) {
            continue;
        }
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        report.processes.push(pid);
    }
    let listed = Command::new("ip").args(["netns", "list"]).output();
    let names: Vec<String> = listed
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let ours: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| run_id_of(n).is_some_and(|id| !live.contains(&id)))
        .collect();
    report.problems.extend(delete_namespaces(&ours));
    report.namespaces = ours.iter().map(|s| (*s).to_owned()).collect();
    for (id, folder) in &folders {
        if live.contains(&id.as_str()) {
            continue;
        }
        match std::fs::remove_dir_all(folder) {
            Ok(()) => report.folders.push(folder.clone()),
            Err(e) => report
                .problems
                .push(format!("cannot remove {}: {e}", folder.display())),
        }
    }
    report
}

/// Every process with its command line.
fn processes() -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let raw = std::fs::read(e.path().join("cmdline")).ok()?;
            Some((pid, String::from_utf8_lossy(&raw).replace('\0', " ")))
        })
        .filter(|(pid, _)| *pid != std::process::id())
        .collect()
}
