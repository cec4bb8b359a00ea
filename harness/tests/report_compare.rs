//! `netpol compare` rendering the committed results of the netns runs: what
//! the committed files say (the reference enforcer passes everything it can
//! carry, `--cni none` fails every case that expects a block) and how the
//! comparison prints it. These read committed files only: that the files
//! are what the current enforcer does is `results_current.rs`'s to check.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use netpol_harness::report::features::FEATURES;
use netpol_harness::report::json::Results;

const REFERENCE: &str = "results/netns-reference.json";
const REFERENCE_CONTROLLER: &str = "results/netns-reference-controller.json";
const NONE: &str = "results/netns-none.json";
const KUBE_ROUTER: &str = "results/netns-kube-router.json";
const CALICO_FELIX: &str = "results/netns-calico-felix.json";
const COMMITTED: &str = "results/comparison.md";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn netpol_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netpol"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("netpol runs")
}

fn netpol(args: &[&str]) -> Output {
    netpol_in(&root(), args)
}

fn stdout_in(dir: &Path, args: &[&str]) -> String {
    let output = netpol_in(dir, args);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    String::from_utf8(output.stdout).expect("utf-8")
}

fn stdout(args: &[&str]) -> String {
    stdout_in(&root(), args)
}

/// Copies of the two committed files, under the same relative paths in a
/// scratch folder, with what changes from run to run of the same code made
/// constant: the commit, the start, the durations, the times to enforce
/// (every converged step took 100 ms). The pinned renderings then change
/// when verdicts or cells do, not every time the results are regenerated.
struct Stable(PathBuf);

impl Stable {
    fn new(test: &str) -> Stable {
        let dir =
            std::env::temp_dir().join(format!("netpol-compare-{}-{test}", std::process::id()));
        std::fs::create_dir_all(dir.join("results")).expect("scratch folder");
        for file in [REFERENCE, NONE] {
            let mut value: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(root().join(file)).expect("committed"),
            )
            .expect("json");
            value["tool"]["git"] = "0123456789ab".into();
            value["started_at"] = "2026-01-01T00:00:00Z".into();
            value["duration_ms"] = 0.into();
            value["cluster"]["kernel"] = "6.x".into();
            for case in value["cases"].as_array_mut().expect("cases") {
                case["duration_ms"] = 0.into();
                for step in case["steps"].as_array_mut().expect("steps") {
                    if !step["time_to_enforce_ms"].is_null() {
                        step["time_to_enforce_ms"] = 100.into();
                    }
                    step["attempts"] = 1.into();
                }
            }
            std::fs::write(dir.join(file), value.to_string()).expect("written");
        }
        Stable(dir)
    }
}

impl Drop for Stable {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What scripts/regenerate-results writes as results/comparison.md: the
/// reference (local and controller), each third-party engine, none.
fn markdown() -> String {
    stdout(&[
        "compare",
        REFERENCE,
        REFERENCE_CONTROLLER,
        KUBE_ROUTER,
        CALICO_FELIX,
        NONE,
        "--format",
        "markdown",
    ])
}

fn results(file: &str) -> Results {
    let text = std::fs::read_to_string(root().join(file)).expect("committed results");
    serde_json::from_str(&text).expect("a results file")
}

/// The rows of the Markdown table under `## {section}`, split into cells.
fn rows(markdown: &str, section: &str) -> Vec<Vec<String>> {
    let start = markdown
        .find(&format!("## {section}\n"))
        .unwrap_or_else(|| panic!("no section {section}"));
    markdown[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect()
}

#[test]
fn the_markdown_comparison_of_the_committed_netns_results_is_pinned() {
    let stable = Stable::new("markdown");
    insta::assert_snapshot!(stdout_in(
        &stable.0,
        &["compare", REFERENCE, NONE, "--format", "markdown"]
    ));
}

#[test]
fn the_terminal_comparison_of_the_committed_netns_results_is_pinned() {
    let stable = Stable::new("terminal");
    insta::assert_snapshot!(stdout_in(&stable.0, &["compare", REFERENCE, NONE]));
}

#[test]
fn the_committed_comparison_is_what_compare_prints_for_the_committed_results() {
    let committed = std::fs::read_to_string(root().join(COMMITTED)).expect("committed");
    assert!(
        committed == markdown(),
        "{COMMITTED} is stale: scripts/regenerate-results (or netpol compare {REFERENCE} {REFERENCE_CONTROLLER} {KUBE_ROUTER} {CALICO_FELIX} {NONE} --format markdown > {COMMITTED})"
    );
}

#[test]
fn the_committed_results_show_reference_passing_every_case_it_can_carry_and_none_failing_every_case_that_expects_a_block()
 {
    let none = results(NONE);
    let expects_block =
        |name: &str| expects_block(none.cases.iter().find(|c| c.name == name).expect("in none"));
    let cases = rows(&markdown(), "Cases");
    assert_eq!(cases.len(), none.cases.len());
    for row in cases {
        // The reference (local, then controller) first, none last, the
        // third-party engines between.
        let [_, name, reference, controller, _kube_router, _felix, none] = &row[..] else {
            panic!("a row of seven cells: {row:?}");
        };
        let name = name.trim_matches('`');
        for (mode, verdict) in [("local", reference), ("controller", controller)] {
            assert!(
                verdict == "passed" || verdict == "skipped",
                "{name}: reference ({mode}) {verdict}"
            );
        }
        if expects_block(name) {
            assert_eq!(none, "failed", "{name}");
        }
    }
}

/// Whether a case of a results file expects a blocked cell off the diagonal.
fn expects_block(case: &netpol_harness::report::json::CaseRecord) -> bool {
    case.steps.iter().flat_map(|s| s.probes.values()).any(|p| {
        p.expected.iter().skip(1).enumerate().any(|(row, line)| {
            line.split_whitespace()
                .skip(1)
                .enumerate()
                .any(|(column, cell)| column != row && cell == "X")
        })
    })
}

#[test]
fn the_support_matrix_of_the_committed_results_reads_unsupported_for_none_on_every_isolation_feature()
 {
    let matrix = rows(&markdown(), "Support matrix");
    assert_eq!(
        matrix.len(),
        FEATURES.len(),
        "every feature has cases: {matrix:?}"
    );
    let none_results = results(NONE);
    for row in &matrix {
        let [
            feature,
            _,
            reference,
            controller,
            _kube_router,
            _felix,
            none,
        ] = &row[..]
        else {
            panic!("a row of seven cells: {row:?}");
        };
        // A feature whose cases all isolate is unsupported without
        // enforcement; one with a case that blocks nothing (`::/0` and
        // `0.0.0.0/0` both allowed) has that case passing too.
        let of_feature: Vec<_> = none_results
            .cases
            .iter()
            .filter(|c| {
                FEATURES
                    .iter()
                    .find(|f| f.name == feature.as_str())
                    .is_some_and(|f| f.covers(c))
            })
            .collect();
        let isolating = of_feature.iter().filter(|c| expects_block(c)).count();
        if isolating == of_feature.len() {
            assert_eq!(none, "unsupported", "{feature}");
        } else {
            assert_eq!(none, &format!("partial ({isolating} failing)"), "{feature}");
        }
        for verdict in [reference, controller] {
            let sctp_only_skips = verdict.starts_with("supported") || feature == "SCTP";
            assert!(sctp_only_skips, "{feature}: reference {verdict}");
        }
    }
    let sctp = matrix.iter().find(|r| r[0] == "SCTP").expect("an SCTP row");
    assert_eq!(sctp[2], "untested (skipped: sctp unsupported by backend)");
}

#[test]
fn a_file_that_is_not_results_is_bad_input_naming_the_file() {
    let output = netpol(&["compare", REFERENCE, "Cargo.toml"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).expect("utf-8");
    assert!(
        stderr.starts_with("Cargo.toml is not a netpol results file: "),
        "{stderr}"
    );
}
