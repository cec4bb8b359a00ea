//! What `netpol run` prints and decides with the report flags: `--quiet`,
//! `--verbose`, the summary by area, and `--known-deviations` (on the oracle,
//! and the shipped list on the real `--cni none` dataplane).

#[macro_use]
#[path = "common/env.rs"]
mod env;

use std::path::PathBuf;
use std::process::{Command, Output};

const FIXTURE: &str = "harness/tests/fixtures/wrong-expectation.yaml";
const PASSING: &str = "cases/steps/steps-policy-delete.yaml";
const NONE_LIST: &str = "results/known-deviations/netns-none.yaml";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn netpol(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netpol"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("netpol runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

/// A known-deviations file in a folder of this test's own, removed with it
/// when dropped.
struct List(PathBuf);

impl List {
    fn path(&self) -> String {
        self.0
            .join("known.yaml")
            .to_str()
            .expect("utf-8")
            .to_owned()
    }
}

impl Drop for List {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn list(test: &str, yaml: &str) -> List {
    let dir = std::env::temp_dir().join(format!("netpol-run-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("known.yaml"), yaml).expect("written");
    List(dir)
}

fn oracle(extra: &[&str]) -> Output {
    let mut args = vec!["run", "--backend", "oracle", "--cases", FIXTURE, PASSING];
    args.extend(extra);
    netpol(&args)
}

fn quiet_prints_one_line_per_failure_and_the_summary() {
    let output = oracle(&["--quiet"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout(&output),
        "FAILED wrong-expectation: step 0: 1 cell differs after 1 attempt\n\
         netpol: 1 passed, 1 failed, 0 skipped\n"
    );
}

fn the_default_prints_the_failure_as_tables_then_a_summary_by_area() {
    let output = oracle(&[]);
    let text = stdout(&output);
    for part in [
        "FAILED wrong-expectation (harness/tests/fixtures/wrong-expectation.yaml)",
        "    y/a → x/a tcp/80: expected allowed, observed blocked (timeout)",
        "    expected:\n      -    x/a x/b x/c",
        "    observed:\n",
        "    diff (. match, X differs, ! the probe failed, ? not judged):\n",
    ] {
        assert!(text.contains(part), "no `{part}` in:\n{text}");
    }
    let areas: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("fixtures ") || l.contains("steps "))
        .collect();
    assert_eq!(
        areas,
        [
            "│ fixtures ┆     1 ┆      0 ┆      1 ┆       0 │",
            "│ steps    ┆     1 ┆      1 ┆      0 ┆       0 │"
        ]
    );
    assert_eq!(
        text.lines().last(),
        Some("netpol: 1 passed, 1 failed, 0 skipped")
    );
}

fn verbose_prints_every_case_as_it_finishes() {
    let text = stdout(&oracle(&["--verbose"]));
    let line = text
        .lines()
        .find(|l| l.starts_with("passed steps-policy-delete ("))
        .unwrap_or_else(|| panic!("no line for the passing case in:\n{text}"));
    assert!(line.contains("; enforced in "), "{line}");
}

fn a_listed_failure_is_expected_and_the_run_passes() {
    let list = list(
        "expected",
        "deviations:\n  - cases: [wrong-expectation]\n    cells: ['step 0: y/a -> x/a tcp/80']\n    \
         reason: wrong on purpose\n    link: harness/tests/fixtures/wrong-expectation.yaml\n",
    );
    let known = list.path();
    let output = oracle(&["--known-deviations", &known]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        stdout(&output).lines().last(),
        Some("netpol: 1 passed, 0 failed, 0 skipped, 1 expected failures")
    );
}

fn a_listed_case_that_passes_fails_the_run() {
    let list = list(
        "passes",
        "deviations:\n  - cases: [steps-policy-delete, wrong-expectation]\n    \
         reason: stale\n    link: https://example.com/1\n",
    );
    let known = list.path();
    let output = oracle(&["--quiet", "--known-deviations", &known]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(
        stdout(&output),
        format!(
            "FAILED steps-policy-delete: listed as a known deviation in {known}, but passed: \
             remove it from the list\nnetpol: 0 passed, 1 failed, 0 skipped, 1 expected failures\n"
        )
    );
}

fn a_broken_list_is_bad_input_before_anything_runs() {
    let list = list("broken", "deviations:\n  - cases: [a]\n    reason: r\n");
    let known = list.path();
    let output = oracle(&["--known-deviations", &known]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).expect("utf-8");
    assert!(
        stderr.starts_with(&format!("{known} is not a known-deviations file: ")),
        "{stderr}"
    );
}

/// The shipped list on the real dataplane, in both families: `--cni none`
/// fails every case that expects a blocked cell, all of them listed, so the
/// run passes with only expected failures and the one case that expects
/// every connection through (in both families) passing.
fn the_shipped_list_for_netns_none_turns_every_failure_into_an_expected_one() {
    let output = netpol(&[
        "run",
        "--cni",
        "none",
        "--ip-family",
        "dual",
        "--quiet",
        "--known-deviations",
        NONE_LIST,
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = stdout(&output);
    let last = text.lines().last().expect("a summary line");
    assert!(
        last.starts_with("netpol: 1 passed, 0 failed, 0 skipped, ")
            && last.ends_with(" expected failures"),
        "{text}"
    );
}

fn main() -> std::process::ExitCode {
    env::run(vec![
        plain!(quiet_prints_one_line_per_failure_and_the_summary),
        plain!(the_default_prints_the_failure_as_tables_then_a_summary_by_area),
        plain!(verbose_prints_every_case_as_it_finishes),
        plain!(a_listed_failure_is_expected_and_the_run_passes),
        plain!(a_listed_case_that_passes_fails_the_run),
        plain!(a_broken_list_is_bad_input_before_anything_runs),
        gated!(
            env::Needs::Netns,
            the_shipped_list_for_netns_none_turns_every_failure_into_an_expected_one
        ),
    ])
}
