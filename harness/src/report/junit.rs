//! JUnit XML (`netpol run --junit FILE`, `netpol report --junit FILE`): one
//! test suite per run, one test case per case step.
//!
//! A failed step's message names the differing cells (`y/a → x/a tcp/80:
//! expected blocked, observed connected`); its body holds every cell and the
//! expected and observed tables. Known deviations are JUnit skips, the usual
//! reading of an expected failure.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::report::json::{CaseRecord, MismatchRecord, ProbeRecord, Results, StepRecord};
use crate::report::runs::{area, label};
use crate::verdict::Verdict;

/// How many cells a failure message names; the body names them all.
pub const MESSAGE_CELLS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum JunitError {
    #[error("cannot render the junit report")]
    Render(#[source] quick_junit::SerializeError),
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The whole JUnit document of one run.
pub fn report(results: &Results) -> Report {
    let mut suite = TestSuite::new(format!("netpol {}", label(results)));
    if let Ok(started) = chrono::DateTime::parse_from_rfc3339(&results.started_at) {
        suite.set_timestamp(started);
    }
    suite.set_time(Duration::from_millis(results.duration_ms));
    let properties = [
        ("backend", Some(results.backend.clone())),
        ("cni", Some(results.cni.name.clone())),
        ("cni.version", results.cni.version.clone()),
        ("kernel", results.cluster.kernel.clone()),
        ("netpol.version", Some(results.tool.version.clone())),
        ("netpol.git", results.tool.git.clone()),
    ];
    for (name, value) in properties {
        if let Some(value) = value {
            suite.add_property(Property::new(name, value));
        }
    }
    for case in &results.cases {
        suite.add_test_cases(test_cases(case));
    }
    let mut report = Report::new("netpol");
    report.add_test_suite(suite);
    report
}

/// Writes [`report`] to `path`.
pub fn write(path: &Path, results: &Results) -> Result<(), JunitError> {
    let xml = report(results).to_string().map_err(JunitError::Render)?;
    std::fs::write(path, xml).map_err(|source| JunitError::Write {
        path: path.to_owned(),
        source,
    })
}

/// A case's steps as test cases; a case judged as a whole (skipped before
/// any step, or failed outside its steps) is one more test case of its own.
fn test_cases(case: &CaseRecord) -> Vec<TestCase> {
    let classname = format!("{}.{}", area(&case.file), case.name);
    let mut out: Vec<TestCase> = case
        .steps
        .iter()
        .map(|step| {
            let mut test = TestCase::new(
                format!("{} step {}", case.name, step.index),
                step_status(case, step),
            );
            test.set_classname(classname.clone());
            test.add_property(Property::new("attempts", step.attempts.to_string()));
            if let Some(ms) = step.time_to_enforce_ms {
                test.add_property(Property::new("time_to_enforce_ms", ms.to_string()));
            }
            test
        })
        .collect();
    let judged_by_steps = case.steps.iter().any(|s| s.verdict == case.verdict);
    if !judged_by_steps {
        let mut test = TestCase::new(case.name.clone(), case_status(case));
        test.set_classname(classname.clone());
        out.push(test);
    }
    for test in &mut out {
        test.add_property(Property::new("file", case.file.clone()));
        test.add_property(Property::new("tags", case.tags.join(",")));
    }
    out
}

fn reason(reason: &Option<String>, otherwise: &str) -> String {
    reason.clone().unwrap_or_else(|| otherwise.into())
}

fn case_status(case: &CaseRecord) -> TestCaseStatus {
    let text = reason(&case.reason, case.verdict.word());
    let mut status = match case.verdict {
        Verdict::Passed => return TestCaseStatus::success(),
        Verdict::Failed => TestCaseStatus::non_success(NonSuccessKind::Failure),
        Verdict::Skipped => TestCaseStatus::skipped(),
        Verdict::ExpectedFailure => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(format!("expected failure: {text}"));
            return status;
        }
    };
    status.set_message(text);
    status
}

fn step_status(case: &CaseRecord, step: &StepRecord) -> TestCaseStatus {
    let text = reason(&step.reason, step.verdict.word());
    match step.verdict {
        Verdict::Passed => TestCaseStatus::success(),
        Verdict::Skipped => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(text);
            status
        }
        Verdict::ExpectedFailure => {
            let mut status = TestCaseStatus::skipped();
            let why = reason(&case.reason, "a known deviation");
            status
                .set_message(format!("expected failure: {why}; {text}"))
                .set_description(body(step));
            status
        }
        Verdict::Failed => {
            let cells = cells(step);
            // No differing cell: the step could not be judged (a backend error).
            let (kind, message) = if cells.is_empty() {
                (NonSuccessKind::Error, text)
            } else {
                (NonSuccessKind::Failure, message(&cells))
            };
            let mut status = TestCaseStatus::non_success(kind);
            status
                .set_message(message)
                .set_type(if cells.is_empty() {
                    "error"
                } else {
                    "mismatch"
                })
                .set_description(body(step));
            status
        }
    }
}

/// Every differing cell of a step, as the terminal phrases it; the Service
/// path's (`--probe-via both`) named so.
fn cells(step: &StepRecord) -> Vec<String> {
    let service = step.service_probes.iter().flat_map(|probes| {
        probes
            .iter()
            .map(|(probe, record)| (format!("{probe} by Service"), record))
    });
    step.probes
        .iter()
        .map(|(probe, record)| (probe.clone(), record))
        .chain(service)
        .flat_map(|(probe, record)| {
            record
                .mismatches
                .iter()
                .map(move |m| sentence(&probe, m))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `y/a → x/a tcp/80: expected blocked, observed connected` (or `observed
/// blocked (timeout)`, or `observed no answer (error: …)` for a failed
/// probe), as [`crate::verdict::Mismatch`] prints a cell.
pub fn sentence(probe: &str, m: &MismatchRecord) -> String {
    let expected = if m.expected { "allowed" } else { "blocked" };
    let observed = match m.observed {
        Some(true) => "connected".to_owned(),
        Some(false) => format!("blocked ({})", m.result),
        None => format!("no answer ({})", m.result),
    };
    format!(
        "{} → {} {probe}: expected {expected}, observed {observed}",
        m.from, m.to
    )
}

fn message(cells: &[String]) -> String {
    let named = cells[..cells.len().min(MESSAGE_CELLS)].join("; ");
    match cells.len() {
        1 => format!("1 cell differs: {named}"),
        n if n <= MESSAGE_CELLS => format!("{n} cells differ: {named}"),
        n => format!("{n} cells differ: {named}; and {} more", n - MESSAGE_CELLS),
    }
}

/// The failure's text: per probe that differs, its cells, then the expected
/// and observed tables in case-file syntax.
fn body(step: &StepRecord) -> String {
    let mut out = String::new();
    let service = step.service_probes.iter().flat_map(|probes| {
        probes
            .iter()
            .map(|(probe, record)| (format!("{probe} by Service"), record))
    });
    let differing = step
        .probes
        .iter()
        .map(|(probe, record)| (probe.clone(), record))
        .chain(service)
        .filter(|(_, r)| !r.mismatches.is_empty());
    for (probe, record) in differing {
        let probe = probe.as_str();
        let ProbeRecord {
            expected,
            observed,
            mismatches,
            ..
        } = record;
        let _ = writeln!(out, "{probe}:");
        for m in mismatches {
            let _ = writeln!(out, "  {}", sentence(probe, m));
        }
        for (title, lines) in [("expected", expected), ("observed", observed)] {
            let _ = writeln!(out, "  {title}:");
            for line in lines {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_names_the_first_cells_and_counts_the_rest() {
        let cells: Vec<String> = (0..5).map(|i| format!("cell {i}")).collect();
        assert_eq!(message(&cells[..1]), "1 cell differs: cell 0");
        assert_eq!(
            message(&cells),
            "5 cells differ: cell 0; cell 1; cell 2; and 2 more"
        );
    }

    #[test]
    fn a_cell_reads_as_the_terminal_prints_it() {
        let m = MismatchRecord {
            from: "y/a".into(),
            to: "x/a".into(),
            expected: false,
            observed: Some(true),
            result: "connected".into(),
        };
        assert_eq!(
            sentence("tcp/80", &m),
            "y/a → x/a tcp/80: expected blocked, observed connected"
        );
        let refused = MismatchRecord {
            expected: true,
            observed: Some(false),
            result: "refused".into(),
            ..m
        };
        assert_eq!(
            sentence("udp/81", &refused),
            "y/a → x/a udp/81: expected allowed, observed blocked (refused)"
        );
        let failed = MismatchRecord {
            expected: false,
            observed: None,
            result: "error: probe agent of x/a exited".into(),
            ..refused
        };
        assert_eq!(
            sentence("tcp/80", &failed),
            "y/a → x/a tcp/80: expected blocked, observed no answer (error: probe agent of x/a exited)"
        );
    }
}
