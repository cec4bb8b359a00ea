//! The fuzz targets' saved inputs, replayed in the normal test suite: every
//! input that once crashed a target, and the minimized corpus of the
//! enforcer's compiler, whose every ruleset must load into the in-memory
//! nftables and agree with the oracle, and (as root, with `nft`; ignored
//! with the reason elsewhere) pass `nft -c`: the fuzz target asks the kernel
//! only for a sample, this asks for all.
//!
//! Inputs live in `fuzz/regressions/<target>/`, one file each, exactly as
//! libFuzzer saved them; the checks are the targets' own (`fuzz/src`).

#[path = "common/agreement.rs"]
mod agreement;
#[path = "common/projection.rs"]
mod projection;
#[macro_use]
#[path = "common/env.rs"]
mod env;
#[path = "../../fuzz/src/checks.rs"]
#[allow(dead_code)]
mod checks;
#[path = "../../fuzz/src/snapshot_input.rs"]
mod snapshot_input;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    // A target that never crashed has no folder in a fresh clone.
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.is_file()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            (name, std::fs::read(&p).expect("readable"))
        })
        .collect()
}

/// Decodes bytes the way `fuzz_target!(|input: Input| …)` does.
fn decode(bytes: &[u8]) -> Option<snapshot_input::Input> {
    snapshot_input::Input::arbitrary_take_rest(Unstructured::new(bytes)).ok()
}

/// libFuzzer's `-timeout` for the targets; a debug build must stay inside it too.
const WITHIN: Duration = Duration::from_secs(10);

fn case_files_that_once_crashed_or_stalled_the_loader_now_load_or_fail_in_time() {
    for (name, bytes) in inputs("case_load") {
        let started = Instant::now();
        checks::case_load(&bytes);
        let took = started.elapsed();
        assert!(took < WITHIN, "{name} took {took:?}");
    }
}

fn truth_tables_that_once_crashed_the_parser_parse_or_fail_cleanly() {
    for (name, bytes) in inputs("truth_table") {
        eprintln!("{name}");
        checks::truth_table(&bytes);
    }
}

/// The saved snapshots that decode, by file name, and each one's ruleset text.
fn saved_rulesets() -> Vec<(String, netpol_enforcer::Snapshot, String)> {
    let saved = inputs("enforcer_compile");
    let mut out = Vec::new();
    for (name, bytes) in &saved {
        let Some(input) = decode(bytes) else { continue };
        let json = serde_json::to_vec(&input.snapshot()).expect("json");
        let Ok(snapshot) = netpol_enforcer::Snapshot::from_json(&json) else {
            continue;
        };
        let text = std::panic::catch_unwind(|| checks::compiled_text(&snapshot))
            .unwrap_or_else(|_| panic!("{name}: the compiler panicked"));
        out.push((name.clone(), snapshot, text));
    }
    eprintln!(
        "{} of {} saved inputs decoded to snapshots and compiled",
        out.len(),
        saved.len()
    );
    assert!(!out.is_empty() || saved.is_empty());
    out
}

fn every_saved_snapshot_compiles_loads_in_memory_and_agrees_with_the_oracle() {
    let mut compared = 0;
    for (name, snapshot, text) in saved_rulesets() {
        let asked = std::panic::catch_unwind(|| checks::evaluated(&snapshot, &text))
            .unwrap_or_else(|_| panic!("{name}: see the message above"));
        compared += usize::from(asked);
    }
    eprintln!("{compared} compared with the oracle");
}

fn nft_accepts_the_ruleset_of_every_saved_snapshot() {
    let mut rejected = Vec::new();
    for (name, snapshot, text) in saved_rulesets() {
        if let Err(error) = netpol_enforcer::check(&text) {
            rejected.push(format!(
                "{name}: {}\n{}\n{text}",
                netpol_enforcer::local::error_chain(&error),
                serde_json::to_string(&snapshot).unwrap_or_default()
            ));
        }
    }
    assert!(
        rejected.is_empty(),
        "nft -c rejects {} rulesets; the first:\n{}",
        rejected.len(),
        rejected[0]
    );
}

fn main() -> std::process::ExitCode {
    env::run(vec![
        plain!(case_files_that_once_crashed_or_stalled_the_loader_now_load_or_fail_in_time),
        plain!(truth_tables_that_once_crashed_the_parser_parse_or_fail_cleanly),
        plain!(every_saved_snapshot_compiles_loads_in_memory_and_agrees_with_the_oracle),
        gated!(
            env::Needs::Nft,
            nft_accepts_the_ruleset_of_every_saved_snapshot
        ),
    ])
}
