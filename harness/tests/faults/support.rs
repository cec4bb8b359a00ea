//! What the fault tests share: ways to see what a run left behind
//! (namespaces, processes, folders). The gate and the world lock are
//! `common/env.rs`'s.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::networking::v1::NetworkPolicy;
use netpol_harness::model::{Change, Probe};
use netpol_harness::probe::Matrix;
use netpol_harness::truth::TruthTable;
use netpol_harness::verdict::Comparison;

#[path = "../common/leftovers.rs"]
mod leftovers;
pub use leftovers::{run_folder_of, run_namespaces};

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

pub fn netpol_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_netpol"))
}

pub fn apply(json: serde_json::Value) -> Change {
    Change::Apply(Box::new(
        serde_json::from_value::<NetworkPolicy>(json).expect("a policy"),
    ))
}

/// The cells of `matrix` that differ from `expected`, as sentences.
pub fn differences(
    matrix: &Matrix,
    expected: &std::collections::BTreeMap<Probe, TruthTable>,
) -> Vec<String> {
    expected
        .iter()
        .flat_map(|(probe, table)| match matrix.get(probe) {
            Some(observed) => Comparison::new(*probe, table, observed)
                .expect("the backend observes the model's pods")
                .mismatches()
                .iter()
                .map(ToString::to_string)
                .collect(),
            None => vec![format!("{probe} not probed")],
        })
        .collect()
}

/// Processes whose command line mentions `text`, with that command line.
pub fn processes_mentioning(text: &str) -> Vec<(u32, String)> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let raw = std::fs::read(e.path().join("cmdline")).ok()?;
            let line = String::from_utf8_lossy(&raw).replace('\0', " ");
            (pid != me && line.contains(text)).then_some((pid, line))
        })
        .collect()
}

/// Polls `found` every millisecond until it gives something or `within` passes.
pub fn wait_for<T>(within: Duration, mut found: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = found() {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The run id in a run folder's name (`/tmp/netpol-<id>`).
pub fn run_id(folder: &Path) -> String {
    folder
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("netpol-"))
        .expect("a run folder")
        .to_owned()
}

/// A scratch folder and network namespace, both removed on drop.
pub struct Scratch {
    pub dir: PathBuf,
    pub netns: String,
}

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        // Not a run id (six hex digits), so `netpol cleanup` never takes it for a run's.
        let label = format!("netpol-faults-{}-{name}", std::process::id());
        let dir = std::env::temp_dir().join(&label);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch folder");
        let _ = Command::new("ip").args(["netns", "del", &label]).output();
        let status = Command::new("ip")
            .args(["netns", "add", &label])
            .status()
            .expect("ip");
        assert!(status.success(), "ip netns add {label}");
        Scratch { dir, netns: label }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Processes first: a namespace lives on while a process holds it.
        for (pid, _) in processes_mentioning(&format!("{}/", self.dir.display())) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
