//! The speed claim that matters most, guarded as a ratio (never an absolute
//! time, which depends on the machine): probing the matrix batched — one agent
//! exec per source pod — beats one process per probe. Needs root, like the
//! netns tests (`common/env.rs`: ignored with the reason without them).

#[macro_use]
#[path = "common/env.rs"]
mod env;

#[path = "common/leftovers.rs"]
mod leftovers;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use env::Needs;
use leftovers::{run_folder_of, run_namespaces};

/// Long enough for a loaded machine to start a control plane and a world.
const WORLD_UP: Duration = Duration::from_secs(120);
/// How long a signalled bench may take to remove what it built.
const STOP_AFTER_SIGNAL: Duration = Duration::from_secs(30);

fn a_batched_matrix_is_faster_than_one_process_per_probe() {
    let output = Command::new(env!("CARGO_BIN_EXE_netpol"))
        .args(["bench", "matrix", "--probe", "tcp/80", "--workers", "3"])
        .output()
        .expect("netpol runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout.lines().last().expect("a summary line");
    // `matrix: batched <ms> ms, per-probe <ms> ms, ratio <x>`
    let ratio: f64 = last
        .rsplit(' ')
        .next()
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no ratio in {last:?}"));
    assert!(last.starts_with("matrix: batched "), "{last}");
    assert!(
        ratio > 1.0,
        "batched is not faster than per-probe: {stdout}"
    );
    assert!(
        stdout.contains("cells that differ 0"),
        "the two ways disagree: {stdout}"
    );
}

/// SIGINT in the middle of `bench engines` (the watcher probing, the
/// control plane up): exit 130, and the world's namespaces, processes and
/// folder are gone.
fn a_signal_stops_bench_engines_and_leaves_nothing_behind() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netpol"))
        .args([
            "bench",
            "engines",
            "--engine",
            "reference",
            "--changes",
            "400",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("netpol starts");
    let started = Instant::now();
    let folder = loop {
        if let Some(folder) = run_folder_of(child.id()) {
            break folder;
        }
        assert!(
            started.elapsed() < WORLD_UP,
            "no run folder after {WORLD_UP:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // The control plane and the world take seconds; the changes then run for minutes.
    while !folder.join("control-plane").exists() && started.elapsed() < WORLD_UP {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(8));
    let run_id = folder
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("netpol-"))
        .expect("a run folder name")
        .to_owned();
    assert!(!run_namespaces(&run_id).is_empty(), "the world is not up");
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    // Removing a world takes a second or two; a bench that ignores the
    // signal would go on for minutes.
    let signalled = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if signalled.elapsed() > STOP_AFTER_SIGNAL {
            let _ = child.kill();
            let _ = child.wait();
            panic!("bench engines went on {STOP_AFTER_SIGNAL:?} after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(130), "{status}");
    assert!(run_namespaces(&run_id).is_empty(), "namespaces left");
    assert!(!folder.exists(), "{} left", folder.display());
    let left = Command::new("pgrep")
        .args(["-f", &folder.display().to_string()])
        .output()
        .expect("pgrep runs");
    assert!(
        left.stdout.is_empty(),
        "processes left: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

fn main() -> std::process::ExitCode {
    env::run(vec![
        gated!(
            Needs::Netns,
            a_batched_matrix_is_faster_than_one_process_per_probe
        ),
        gated!(
            Needs::ControlPlane,
            a_signal_stops_bench_engines_and_leaves_nothing_behind
        ),
    ])
}
