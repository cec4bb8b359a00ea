//! What judging a case produced: the verdict of each step and of the case,
//! why, and the comparisons behind it. The runner fills these in; known
//! deviations (`deviations`) may turn a failure into an expected one; reports
//! only display them.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Comparison, Verdict};
use crate::case::Case;
use crate::model::Probe;
use crate::probe::Divergence;

/// What made a step or a case fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Judged cells differ from the expectation, or probes failed, when the
    /// enforcement deadline passed.
    Cells,
    /// The case cannot run as written on this backend (a template without an
    /// address, a probe without a table, `expect: oracle` without
    /// `--differential`).
    Case,
    /// The backend could not change, probe or reset the world.
    Backend,
}

/// One step's outcome.
#[derive(Clone, Debug)]
pub struct StepResult {
    pub index: usize,
    pub verdict: Verdict,
    pub reason: Option<String>,
    /// `Some` exactly when the step failed (and stays `Some` when a known
    /// deviation makes it an expected failure).
    pub failure: Option<Failure>,
    pub attempts: u32,
    /// From the start of the step's changes to the end of the first observation that matched.
    pub time_to_enforce: Option<Duration>,
    /// The first path probed: the pods' own addresses, or the Services
    /// with `--probe-via service`.
    pub comparisons: BTreeMap<Probe, Comparison>,
    /// The Service path, when it was probed beside the pod IPs
    /// (`--probe-via both`), judged the same way: a cell passes only if it
    /// matches the expectation on both paths.
    pub service: Option<BTreeMap<Probe, Comparison>>,
    /// The final round's cells where the two paths reached different results.
    pub divergences: Vec<Divergence>,
}

impl StepResult {
    /// Every path's comparisons, each with its name (`None` for the first,
    /// the only one most backends have).
    pub fn paths(&self) -> Vec<(Option<&'static str>, &BTreeMap<Probe, Comparison>)> {
        let mut out = vec![(None, &self.comparisons)];
        if let Some(service) = &self.service {
            out.push((Some("Service"), service));
        }
        out
    }

    /// A step that never ran, with the reason.
    pub fn skipped(index: usize, reason: &str) -> StepResult {
        StepResult {
            index,
            verdict: Verdict::Skipped,
            reason: Some(reason.to_owned()),
            failure: None,
            attempts: 0,
            time_to_enforce: None,
            comparisons: BTreeMap::new(),
            service: None,
            divergences: Vec::new(),
        }
    }

    /// A step that failed before anything was compared.
    pub fn failed(index: usize, failure: Failure, reason: String) -> StepResult {
        StepResult {
            verdict: Verdict::Failed,
            reason: Some(reason),
            failure: Some(failure),
            ..StepResult::skipped(index, "")
        }
    }
}

/// One case's outcome.
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub name: String,
    pub file: String,
    pub tags: Vec<String>,
    pub verdict: Verdict,
    pub reason: Option<String>,
    /// Why the case failed: its first failed step's failure, or `Backend`
    /// when the world could not be reset after it.
    pub failure: Option<Failure>,
    pub duration: Duration,
    pub steps: Vec<StepResult>,
}

impl CaseResult {
    /// A case that did not run, with the reason.
    pub fn skipped(case: &Case, reason: String) -> CaseResult {
        CaseResult {
            name: case.name.clone(),
            file: case.file.display().to_string(),
            tags: case.tags.clone(),
            verdict: Verdict::Skipped,
            reason: Some(reason),
            failure: None,
            duration: Duration::ZERO,
            steps: Vec::new(),
        }
    }

    /// A case that failed before any step ran, with the reason.
    pub fn failed(case: &Case, failure: Failure, reason: String) -> CaseResult {
        CaseResult {
            verdict: Verdict::Failed,
            failure: Some(failure),
            ..CaseResult::skipped(case, reason)
        }
    }

    /// Whether the world or the backend failed in this case: a step it could
    /// not run, a probe that observed nothing, or a world it could not reset.
    /// Such a failure says nothing about what the backend enforces.
    pub fn backend_failed(&self) -> bool {
        self.failure == Some(Failure::Backend)
            || self.steps.iter().any(|s| {
                s.failure == Some(Failure::Backend)
                    || (s.failure == Some(Failure::Cells)
                        && s.paths().iter().any(|(_, comparisons)| {
                            comparisons
                                .values()
                                .any(|c| c.cells().contains(&super::Cell::Unknown))
                        }))
            })
    }
}

/// Counts of verdicts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Files written before known deviations existed have no such field.
    #[serde(default)]
    pub expected_failures: usize,
}

impl Summary {
    pub fn of(results: &[CaseResult]) -> Summary {
        let count = |v| results.iter().filter(|r| r.verdict == v).count();
        Summary {
            passed: count(Verdict::Passed),
            failed: count(Verdict::Failed),
            skipped: count(Verdict::Skipped),
            expected_failures: count(Verdict::ExpectedFailure),
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "netpol: {} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )?;
        // The line stays the same as ever for runs without known deviations.
        if self.expected_failures > 0 {
            write!(f, ", {} expected failures", self.expected_failures)?;
        }
        Ok(())
    }
}
