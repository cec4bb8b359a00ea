//! `netpol run` whose probe agents are all killed once judging has started:
//! what was not observed is never a block, never a pass, never a known
//! deviation, and the run says the world failed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use netpol_harness::report::json::Results;

use super::support::{self, netpol_exe};

/// How long a run may take to start judging.
const JUDGING_WITHIN: Duration = Duration::from_secs(60);
const KNOWN_NONE: &str = "results/known-deviations/netns-none.yaml";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name} {pid}");
}

/// Starts `netpol run --cni none` with `args`; once its first probe round
/// runs, freezes it, SIGKILLs every probe agent of its world, and lets it
/// go on. Returns how it ended.
fn run_killing_every_agent(args: &[&str]) -> Output {
    let child: Child = Command::new(netpol_exe())
        .current_dir(root())
        .args(["run", "--backend", "netns", "--cni", "none"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("netpol runs");
    let pid = child.id();
    let folder = support::wait_for(JUDGING_WITHIN, || support::run_folder_of(pid))
        .expect("the run made its folder");
    let bin = format!("{}/bin/netpol-probe", folder.display());
    // A probe process of the first round: setup is over, judging has started.
    support::wait_for(JUDGING_WITHIN, || {
        (!support::processes_mentioning(&format!("{bin} probe")).is_empty()).then_some(())
    })
    .expect("the run started probing");
    signal(pid, "STOP");
    let agents = support::processes_mentioning(&format!("{bin} serve"));
    for (agent, _) in &agents {
        signal(*agent, "KILL");
    }
    signal(pid, "CONT");
    assert_eq!(agents.len(), 9, "one agent per pod: {agents:?}");
    let output = child.wait_with_output().expect("the run ends");
    assert!(
        support::run_namespaces(&support::run_id(&folder)).is_empty(),
        "the world is removed"
    );
    output
}

fn results(path: &Path) -> Results {
    let text = std::fs::read_to_string(path).expect("the results were written");
    serde_json::from_str(&text).expect("a results file")
}

pub fn cells_of_dead_agents_are_written_null_and_shown_as_failed_probes() {
    let out = std::env::temp_dir().join(format!("netpol-dead-agents-{}.json", std::process::id()));
    let output = run_killing_every_agent(&[
        "--cases",
        "cases/steps",
        "--output",
        &out.display().to_string(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "the world failed: {stderr}");
    let document = results(&out);
    let _ = std::fs::remove_file(&out);
    let errors: Vec<_> = document
        .cases
        .iter()
        .flat_map(|c| &c.steps)
        .flat_map(|s| s.probes.values())
        .flat_map(|p| &p.mismatches)
        .filter(|m| m.result.starts_with("error: "))
        .collect();
    assert!(!errors.is_empty(), "no error cell recorded:\n{stdout}");
    for cell in &errors {
        assert_eq!(cell.observed, None, "{cell:?}");
    }
    // Observed tables show the failed probes as `!`, never as `X`.
    let failed_row = stdout
        .lines()
        .any(|l| l.trim_start().starts_with("x/a") && l.contains('!'));
    assert!(failed_row, "no `!` in an observed table:\n{stdout}");
    assert!(
        stdout.contains("observed no answer (error: probe agent of"),
        "{stdout}"
    );
    assert!(
        stderr.contains("the world or the backend failed in"),
        "{stderr}"
    );
}

pub fn with_every_agent_dead_the_none_runs_known_deviations_do_not_excuse_it() {
    let output = run_killing_every_agent(&["--known-deviations", KNOWN_NONE]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_ne!(output.status.code(), Some(0), "{stdout}");
    assert_eq!(output.status.code(), Some(3), "{stdout}");
    // The failures name the cells that were not observed.
    assert!(
        stdout.contains(&format!("not a known deviation of {KNOWN_NONE}: "))
            && stdout.contains("cells have no observation, the probe failed (first: "),
        "{stdout}"
    );
    assert!(
        stdout.contains("observed no answer (error: probe agent of"),
        "{stdout}"
    );
}
