//! Running cases on a backend: steps, convergence, verdicts.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::backend::{Backend, Capabilities};
use crate::case::Case;
use crate::model::{Addresses, Model, Probe};
use crate::probe::{Observed, ObservedTable};
use crate::verdict::{Comparison, Verdict};

/// One step's outcome.
#[derive(Clone, Debug)]
pub struct StepResult {
    pub index: usize,
    pub verdict: Verdict,
    pub reason: Option<String>,
    pub attempts: u32,
    /// From the start of the step's changes to the end of the first observation that matched.
    pub time_to_enforce: Option<Duration>,
    pub comparisons: BTreeMap<Probe, Comparison>,
}

/// One case's outcome.
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub name: String,
    pub file: String,
    pub tags: Vec<String>,
    pub verdict: Verdict,
    pub reason: Option<String>,
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
            duration: Duration::ZERO,
            steps: Vec::new(),
        }
    }
}

/// Why a case cannot be judged on this backend at all, if it cannot.
fn unsupported_reason(case: &Case, capabilities: &Capabilities) -> Option<String> {
    if case.needs_ipv6() && !capabilities.ipv6 {
        return Some("ipv6 unsupported by backend".into());
    }
    let missing: Vec<String> = case
        .probes
        .iter()
        .filter(|p| !capabilities.protocols.contains(&p.protocol))
        .map(|p| p.protocol.to_string())
        .collect();
    if missing.len() == case.probes.len() {
        let mut names = missing;
        names.dedup();
        return Some(format!("{} unsupported by backend", names.join(", ")));
    }
    None
}

/// Runs one case from the world `setup` built, leaving the backend reset.
pub async fn run_case<B: Backend>(
    backend: &mut B,
    case: &Case,
    model: &Model,
    addresses: &Addresses,
) -> CaseResult {
    let started = Instant::now();
    let capabilities = backend.capabilities();
    if let Some(reason) = unsupported_reason(case, &capabilities) {
        return CaseResult::skipped(case, reason);
    }
    let mut steps = Vec::new();
    let mut failed = false;
    for index in 0..case.steps.len() {
        if failed {
            steps.push(StepResult {
                index,
                verdict: Verdict::Skipped,
                reason: Some("an earlier step failed".into()),
                attempts: 0,
                time_to_enforce: None,
                comparisons: BTreeMap::new(),
            });
            continue;
        }
        let result = run_step(backend, case, index, model, addresses, &capabilities).await;
        failed = result.verdict == Verdict::Failed;
        steps.push(result);
    }
    let reset = backend.reset().await;
    let verdict = if failed || reset.is_err() {
        Verdict::Failed
    } else if steps.iter().any(|s| s.verdict == Verdict::Skipped) {
        Verdict::Skipped
    } else {
        Verdict::Passed
    };
    let reason = match reset {
        Err(error) => Some(format!("could not reset the world after the case: {error}")),
        Ok(()) => steps
            .iter()
            .find(|s| s.verdict == verdict)
            .and_then(|s| s.reason.clone()),
    };
    CaseResult {
        name: case.name.clone(),
        file: case.file.display().to_string(),
        tags: case.tags.clone(),
        verdict,
        reason,
        duration: started.elapsed(),
        steps,
    }
}

async fn run_step<B: Backend>(
    backend: &mut B,
    case: &Case,
    index: usize,
    model: &Model,
    addresses: &Addresses,
    capabilities: &Capabilities,
) -> StepResult {
    let step = &case.steps[index];
    let failed = |reason: String| StepResult {
        index,
        verdict: Verdict::Failed,
        reason: Some(reason),
        attempts: 0,
        time_to_enforce: None,
        comparisons: BTreeMap::new(),
    };
    // An empty expectation would match anything: never let it pass.
    if step.expect_oracle {
        return failed(format!(
            "step {index} expects the oracle's matrix (`expect: oracle`): run it with --differential"
        ));
    }
    // Time to enforce counts from the first write, as a user would time it.
    let changed = Instant::now();
    let changes: Result<Vec<_>, String> = step
        .actions
        .iter()
        .map(|a| a.resolve(model, addresses))
        .collect();
    let changes = match changes {
        Ok(changes) => changes,
        Err(reason) => return failed(format!("step {index}: {reason}")),
    };
    if !changes.is_empty()
        && let Err(error) = backend.change(&changes).await
    {
        return failed(format!("step {index}: {}", crate::error::chain(&error)));
    }
    let (supported, unsupported): (Vec<Probe>, Vec<Probe>) = case
        .probes
        .iter()
        .partition(|p| capabilities.protocols.contains(&p.protocol));
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut matrix = match backend.probe(&supported).await {
            Ok(matrix) => matrix,
            Err(error) => return failed(format!("step {index}: {error}")),
        };
        for probe in &unsupported {
            matrix.insert(
                *probe,
                ObservedTable::filled(model.pod_ids(), Observed::Unsupported),
            );
        }
        let comparisons: BTreeMap<Probe, Comparison> = step
            .expect
            .iter()
            .map(|(probe, expected)| {
                let observed = matrix.get(probe).cloned().unwrap_or_else(|| {
                    ObservedTable::filled(
                        model.pod_ids(),
                        Observed::Error("backend returned no result".into()),
                    )
                });
                (*probe, Comparison::new(*probe, expected, &observed))
            })
            .collect();
        let matched = comparisons.values().all(Comparison::matches);
        let elapsed = changed.elapsed();
        if matched || elapsed >= capabilities.timeouts.enforce {
            let (verdict, reason) = if !matched {
                let cells: usize = comparisons.values().map(|c| c.mismatches().len()).sum();
                (
                    Verdict::Failed,
                    Some(format!(
                        "step {index}: {cells} cells differ after {attempts} attempts"
                    )),
                )
            } else if !unsupported.is_empty() {
                let mut names: Vec<&str> = unsupported.iter().map(|p| p.protocol.name()).collect();
                names.dedup();
                (
                    Verdict::Skipped,
                    Some(format!("{} unsupported by backend", names.join(", "))),
                )
            } else {
                (Verdict::Passed, None)
            };
            return StepResult {
                index,
                verdict,
                reason,
                attempts,
                time_to_enforce: matched.then_some(elapsed),
                comparisons,
            };
        }
        tokio::time::sleep(capabilities.timeouts.poll).await;
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
