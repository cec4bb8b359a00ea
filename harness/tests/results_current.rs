//! The committed results come from the current code: each test runs
//! `scripts/regenerate-results` with this build into a scratch folder and
//! compares with `results/`, field by field, leaving out only what differs
//! from run to run (timings, attempts, the tool's own version and commit,
//! the kernel). A difference fails with the fields that differ and the
//! command that regenerates them.
//!
//! The oracle's file needs nothing; the netns files need root, iproute2 and
//! nftables, and run as part of CI's `cargo test` (as root).

#[macro_use]
#[path = "common/env.rs"]
mod env;

use env::Needs;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const REGENERATE: &str = "scripts/regenerate-results";
/// Differences listed before the rest is counted.
const SHOWN: usize = 20;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A scratch folder of this test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "netpol-results-current-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch folder");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the regeneration command of `what` with this build into `out`.
fn regenerate(what: &str, out: &Path) {
    let output = Command::new(root().join(REGENERATE))
        .current_dir(root())
        .env("NETPOL", env!("CARGO_BIN_EXE_netpol"))
        .args(["--out", &out.display().to_string(), what])
        .output()
        .expect("the script runs");
    assert!(
        output.status.success(),
        "{REGENERATE} {what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The file without what changes from run to run of the same code.
fn comparable(mut results: Value) -> Value {
    if let Some(top) = results.as_object_mut() {
        for key in ["tool", "started_at", "duration_ms"] {
            top.remove(key);
        }
        // The machine's kernel, not the code's doing.
        if let Some(cluster) = top.get_mut("cluster").and_then(Value::as_object_mut) {
            cluster.remove("kernel");
        }
    }
    for case in results["cases"].as_array_mut().into_iter().flatten() {
        if let Some(case) = case.as_object_mut() {
            case.remove("duration_ms");
            if case.get("verdict").and_then(Value::as_str) == Some("failed") {
                // Counts the last round's cells (see `last_round_noise_out`).
                case.remove("reason");
            }
        }
        for step in case["steps"].as_array_mut().into_iter().flatten() {
            if let Some(step) = step.as_object_mut() {
                step.remove("attempts");
                step.remove("time_to_enforce_ms");
            }
            let failed = step.get("verdict").and_then(Value::as_str) == Some("failed");
            if failed && let Some(step) = step.as_object_mut() {
                step.remove("reason");
            }
            for probe in step["probes"].as_object_mut().into_iter().flatten() {
                unjudged_cells_out(probe.1);
                if failed {
                    last_round_noise_out(probe.1);
                }
            }
        }
    }
    results
}

/// A pod to itself is never judged (docs/case-format.md), and on a loaded
/// machine such a probe sometimes times out: the diagonal of the observed
/// tables (`observed` rows, `raw` cells) is left out like a timing.
fn unjudged_cells_out(probe: &mut Value) {
    if let Some(rows) = probe.get_mut("observed").and_then(Value::as_array_mut) {
        // Row 0 is the header; row i's cell of pod i is its token i (token 0 names the row).
        for (i, row) in rows.iter_mut().enumerate().skip(1) {
            if let Some(text) = row.as_str() {
                let mut tokens: Vec<&str> = text.split_whitespace().collect();
                if let Some(cell) = tokens.get_mut(i) {
                    *cell = "-";
                }
                *row = Value::from(tokens.join(" "));
            }
        }
    }
    if let Some(rows) = probe.get_mut("raw").and_then(Value::as_array_mut) {
        for (i, row) in rows.iter_mut().enumerate() {
            if let Some(cell) = row.get_mut(i) {
                *cell = Value::from("-");
            }
        }
    }
}

/// A failed step's matrix is the last round its deadline caught: on a loaded
/// machine an open path's probe can time out there (a passing step would
/// have retried it). What the code decides is which cells a policy should
/// have blocked and did not, so a failed step keeps only those mismatches
/// (expected blocked, observed connected) and leaves out the round's tables.
fn last_round_noise_out(probe: &mut Value) {
    if let Some(probe) = probe.as_object_mut() {
        probe.remove("observed");
        probe.remove("raw");
        if let Some(mismatches) = probe.get_mut("mismatches").and_then(Value::as_array_mut) {
            mismatches.retain(|m| m["expected"] == false && m["observed"] == true);
        }
    }
}

/// Where two documents differ, as `path: committed → now`.
fn differences(path: &str, committed: &Value, now: &Value, out: &mut Vec<String>) {
    match (committed, now) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let at = format!("{path}.{key}");
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => differences(&at, x, y, out),
                    (Some(_), None) => out.push(format!("{at}: gone now")),
                    (None, Some(y)) => out.push(format!("{at}: new, {y}")),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                // Cases by name, so a difference says which case.
                let name = x.get("name").and_then(Value::as_str);
                let at = name.map_or_else(|| format!("{path}[{i}]"), |n| format!("{path}[{n}]"));
                differences(&at, x, y, out);
            }
        }
        _ if committed == now => {}
        _ => out.push(format!("{path}: {committed} → {now}")),
    }
}

/// Compares the committed `file` with the one just made in `fresh`.
fn compare(file: &str, fresh: &Path, regenerate_with: &str) {
    let read = |path: &Path| -> Value {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        comparable(serde_json::from_str(&text).expect("a results file"))
    };
    let committed = read(&root().join("results").join(file));
    let now = read(&fresh.join(file));
    let mut found = Vec::new();
    differences("", &committed, &now, &mut found);
    let more = found.len().saturating_sub(SHOWN);
    found.truncate(SHOWN);
    if more > 0 {
        found.push(format!("… and {more} more"));
    }
    assert!(
        found.is_empty(),
        "results/{file} is not what this build makes: regenerate it with `{regenerate_with}` \
         and commit it. Differences (committed → now):\n{}",
        found.join("\n")
    );
}

fn the_committed_oracle_results_are_what_this_build_computes() {
    let scratch = Scratch::new("oracle");
    regenerate("oracle", &scratch.0);
    compare(
        "oracle-spec.json",
        &scratch.0,
        "scripts/regenerate-results oracle",
    );
}

fn the_committed_netns_results_are_what_this_build_observes() {
    let scratch = Scratch::new("netns");
    regenerate("netns", &scratch.0);
    for file in ["netns-reference.json", "netns-none.json"] {
        compare(file, &scratch.0, "sudo scripts/regenerate-results netns");
    }
}

fn what_the_comparison_leaves_out_is_only_what_changes_from_run_to_run_and_unjudged_cells() {
    let a = serde_json::json!({
        "tool": {"git": "a"}, "started_at": "x", "duration_ms": 5,
        "cluster": {"nodes": 2, "kernel": "6.1"},
        "cases": [{"name": "c", "duration_ms": 1, "verdict": "passed",
                   "steps": [{"attempts": 1, "time_to_enforce_ms": 3, "verdict": "passed",
                              "probes": {"udp/80": {
                                  "observed": ["-    x/a x/b", "x/a  .   X", "x/b  X   ."],
                                  "raw": [["connected", "timeout"], ["timeout", "connected"]]}}}]}]
    });
    let mut b = serde_json::json!({
        "tool": {"git": "b"}, "started_at": "y", "duration_ms": 9,
        "cluster": {"nodes": 2, "kernel": "6.18"},
        "cases": [{"name": "c", "duration_ms": 7, "verdict": "passed",
                   "steps": [{"attempts": 4, "time_to_enforce_ms": 80, "verdict": "passed",
                              "probes": {"udp/80": {
                                  "observed": ["-    x/a x/b", "x/a  X   X", "x/b  X   ."],
                                  "raw": [["timeout", "timeout"], ["timeout", "connected"]]}}}]}]
    });
    let mut found = Vec::new();
    differences(
        "",
        &comparable(a.clone()),
        &comparable(b.clone()),
        &mut found,
    );
    assert_eq!(found, Vec::<String>::new());
    b["cases"][0]["steps"][0]["verdict"] = "skipped".into();
    b["cluster"]["nodes"] = 3.into();
    // A judged cell is compared.
    b["cases"][0]["steps"][0]["probes"]["udp/80"]["raw"][1][0] = "connected".into();
    differences("", &comparable(a), &comparable(b), &mut found);
    assert_eq!(
        found,
        [
            ".cases[c].steps[0].probes.udp/80.raw[1][0]: \"timeout\" → \"connected\"",
            ".cases[c].steps[0].verdict: \"passed\" → \"skipped\"",
            ".cluster.nodes: 2 → 3"
        ]
    );
    // A failed step: a timeout of an open path in its last round is noise,
    // a cell the policy should have blocked and did not is compared.
    let failed = |mismatches: serde_json::Value| {
        serde_json::json!({"cases": [{"name": "f", "verdict": "failed", "reason": "step 0: 1 cells differ",
            "steps": [{"verdict": "failed", "reason": "step 0: 1 cells differ",
                       "probes": {"udp/80": {"observed": ["-"], "raw": [], "mismatches": mismatches}}}]}]})
    };
    let leak = serde_json::json!({"from": "x/b", "to": "x/a", "expected": false, "observed": true});
    let noise =
        serde_json::json!({"from": "x/c", "to": "y/b", "expected": true, "observed": false});
    let mut found = Vec::new();
    differences(
        "",
        &comparable(failed(serde_json::json!([leak]))),
        &comparable(failed(serde_json::json!([leak, noise]))),
        &mut found,
    );
    assert_eq!(found, Vec::<String>::new());
    differences(
        "",
        &comparable(failed(serde_json::json!([leak]))),
        &comparable(failed(serde_json::json!([]))),
        &mut found,
    );
    assert_eq!(found.len(), 1, "{found:?}");
}

fn main() -> std::process::ExitCode {
    env::run(vec![
        plain!(the_committed_oracle_results_are_what_this_build_computes),
        gated!(
            Needs::Netns,
            the_committed_netns_results_are_what_this_build_observes
        ),
        plain!(
            what_the_comparison_leaves_out_is_only_what_changes_from_run_to_run_and_unjudged_cells
        ),
    ])
}
