//! `netpol run` stopped by SIGINT or SIGTERM at every phase of a run leaves
//! no namespace, process or folder behind.

use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::support::{self, netpol_exe};

/// When the signal is sent.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// This long after the start: loading cases, before any world exists.
    Early(Duration),
    /// As soon as the run folder exists: namespaces are being created.
    Setup,
    /// This long after the run folder appeared: agents and enforcers start.
    Building(Duration),
    /// This long after the first snapshot: cases are running.
    Step(Duration),
    /// During a step, then again while the first signal's teardown runs.
    Twice,
}

/// How long a stopped run may take to remove its world.
const STOP_WITHIN: Duration = Duration::from_secs(60);
/// How long a run may take to build its world.
const SETUP_WITHIN: Duration = Duration::from_secs(60);
/// When the first of two signals goes, and the gap before the second.
const TWICE_AFTER: Duration = Duration::from_millis(1_000);
const TWICE_GAP: Duration = Duration::from_millis(30);

fn start() -> Child {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    Command::new(netpol_exe())
        .current_dir(&root)
        .args(["run", "--backend", "netns", "--cases", "cases"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("netpol runs")
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name}");
}

fn wait(child: &mut Child) -> ExitStatus {
    support::wait_for(STOP_WITHIN, || child.try_wait().expect("try_wait"))
        .unwrap_or_else(|| panic!("the run did not stop within {STOP_WITHIN:?}"))
}

/// Sends `name` at `phase`; returns the run folder (if the run made one by
/// then) and how the process ended.
fn stop_at(phase: Phase, name: &str) -> (u32, Option<PathBuf>, ExitStatus, String) {
    let mut child = start();
    let pid = child.id();
    let folder_with = |file: &'static str| {
        move || support::run_folder_of(pid).filter(|f| file.is_empty() || f.join(file).exists())
    };
    let folder = match phase {
        Phase::Early(after) => {
            std::thread::sleep(after);
            None
        }
        Phase::Setup => support::wait_for(SETUP_WITHIN, folder_with("")),
        Phase::Building(after) => {
            let found = support::wait_for(SETUP_WITHIN, folder_with(""));
            std::thread::sleep(after);
            found
        }
        Phase::Step(after) => {
            let found = support::wait_for(SETUP_WITHIN, folder_with("state.json"));
            std::thread::sleep(after);
            found
        }
        Phase::Twice => {
            let found = support::wait_for(SETUP_WITHIN, folder_with("state.json"));
            std::thread::sleep(TWICE_AFTER);
            found
        }
    };
    let folder = folder.or_else(|| support::run_folder_of(pid));
    if !matches!(phase, Phase::Early(_)) {
        assert!(folder.is_some(), "{phase:?}: the run made no folder");
    }
    signal(&child, name);
    if matches!(phase, Phase::Twice) {
        std::thread::sleep(TWICE_GAP);
        if child.try_wait().expect("try_wait").is_none() {
            signal(&child, name);
        }
    }
    let status = wait(&mut child);
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read as _;
        let _ = pipe.read_to_string(&mut stderr);
    }
    (pid, folder, status, stderr)
}

fn leftovers(pid_folder: Option<&Path>, pid: Option<u32>) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(folder) = pid_folder {
        let id = support::run_id(folder);
        found.extend(
            support::run_namespaces(&id)
                .into_iter()
                .map(|n| format!("namespace {n}")),
        );
        found.extend(
            support::processes_mentioning(&format!("{}/", folder.display()))
                .into_iter()
                .map(|(pid, line)| format!("process {pid}: {line}")),
        );
        if folder.exists() {
            found.push(format!("folder {}", folder.display()));
        }
    }
    if let Some(folder) = pid.and_then(support::run_folder_of) {
        found.push(format!("folder {}", folder.display()));
    }
    found
}

pub fn sigint_or_sigterm_at_any_phase_leaves_no_namespace_process_or_folder() {
    let phases = [
        (Phase::Early(Duration::ZERO), "TERM"),
        (Phase::Early(Duration::from_millis(40)), "INT"),
        (Phase::Setup, "TERM"),
        (Phase::Building(Duration::from_millis(300)), "INT"),
        (Phase::Step(Duration::from_millis(200)), "TERM"),
        (Phase::Step(Duration::from_millis(1_500)), "INT"),
        (Phase::Twice, "TERM"),
    ];
    let mut problems = Vec::new();
    for (phase, name) in phases {
        let started = Instant::now();
        let (pid, folder, status, stderr) = stop_at(phase, name);
        let number = if name == "TERM" { 15 } else { 2 };
        // Before the handler exists the default action ends the process; nothing was created then.
        let fine = status.code() == Some(130)
            || (matches!(phase, Phase::Early(_)) && status.signal() == Some(number));
        if !fine {
            problems.push(format!(
                "{phase:?} SIG{name}: ended with {status:?}: {stderr}"
            ));
        }
        let left = leftovers(folder.as_deref(), Some(pid));
        if !left.is_empty() {
            problems.push(format!("{phase:?} SIG{name}: left {left:?}"));
        }
        eprintln!(
            "{phase:?} SIG{name}: {status} after {:.1} s, folder {folder:?}",
            started.elapsed().as_secs_f64()
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
