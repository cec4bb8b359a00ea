//! Running cases on a backend: steps, convergence, and the session that
//! judges one case after another on one world, keeping every result as it is
//! decided (so what was judged survives a stop at any point).

mod step;

use std::collections::BTreeSet;
use std::time::Duration;

// tokio's clock: the same as std's, and a paused test runtime can advance it.
use tokio::time::Instant;

use crate::backend::{Backend, BackendError, Capabilities};
use crate::case::Case;
use crate::error::chain;
use crate::model::{Addresses, Family, IpFamily, Model, Probe};
use crate::verdict::deviations::KnownDeviations;
use crate::verdict::{CaseResult, Failure, StepResult, Verdict};
pub use step::NO_POLICY_ROUNDS;
use step::run_step;

/// The reason of the cases after one whose world could not be reset.
pub const NOT_RUN_UNRESET: &str = "not run: the world could not be reset";
/// The reason of cases judged before the world was built (never, in `netpol run`).
pub const NOT_RUN_NO_WORLD: &str = "not run: the world was not built";

/// A case judged, and whether the world is back to the one `setup` built.
#[derive(Debug)]
pub struct CaseRun {
    pub result: CaseResult,
    /// Why the world could not be reset after the case: anything judged on
    /// it afterwards would not be judged on the world the cases assume.
    pub unreset: Option<BackendError>,
}

/// The protocols of `probes`, sorted and once each, as reasons list them.
fn protocol_names<'a>(probes: impl IntoIterator<Item = &'a Probe>) -> String {
    let names: BTreeSet<&str> = probes.into_iter().map(|p| p.protocol.name()).collect();
    names.into_iter().collect::<Vec<_>>().join(", ")
}

/// Why a case names an address of a family the run does not probe: its
/// policies would mean something else without that family's cells (an
/// IPv4 ipBlock in an IPv6-only cluster), so it is not run at all.
fn family_reason(case: &Case, ip_family: IpFamily) -> Option<String> {
    let missing = case
        .families_named()
        .into_iter()
        .find(|f| !ip_family.families().contains(f))?;
    let word = match missing {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    };
    Some(format!(
        "not run: the case names an {word} address and --ip-family {ip_family} probes no {word} cell"
    ))
}

/// Why a case cannot be judged on this backend at all, if it cannot.
fn unsupported_reason(
    case: &Case,
    capabilities: &Capabilities,
    ip_family: IpFamily,
) -> Option<String> {
    if ip_family.needs_ipv6() && !capabilities.ipv6 {
        return Some("ipv6 unsupported by backend".into());
    }
    if let Some(reason) = family_reason(case, ip_family) {
        return Some(reason);
    }
    let carried = |p: &&Probe| capabilities.protocols.contains(&p.protocol);
    if !case.probes.iter().any(|p| carried(&p)) {
        return Some(format!(
            "{} unsupported by backend",
            protocol_names(&case.probes)
        ));
    }
    None
}

/// Runs one case from the world `setup` built, probing each family of
/// `ip_family`, then resets the world.
pub async fn run_case<B: Backend>(
    backend: &mut B,
    case: &Case,
    model: &Model,
    addresses: &Addresses,
    ip_family: IpFamily,
) -> CaseRun {
    run_case_within(backend, case, model, addresses, ip_family, None).await
}

/// `run_case`, each step given `enforce` (`--enforce-timeout`) instead of
/// the backend's own deadline when it is `Some`.
pub async fn run_case_within<B: Backend>(
    backend: &mut B,
    case: &Case,
    model: &Model,
    addresses: &Addresses,
    ip_family: IpFamily,
    enforce: Option<Duration>,
) -> CaseRun {
    let started = Instant::now();
    let mut capabilities = backend.capabilities();
    if let Some(deadline) = enforce {
        capabilities.timeouts.enforce = deadline;
    }
    if let Some(reason) = unsupported_reason(case, &capabilities, ip_family) {
        return CaseRun {
            result: CaseResult::skipped(case, reason),
            unreset: None,
        };
    }
    let mut steps = Vec::new();
    let mut failed = false;
    for index in 0..case.steps.len() {
        if failed {
            steps.push(StepResult::skipped(index, "an earlier step failed"));
            continue;
        }
        let result = run_step(
            backend,
            case,
            index,
            model,
            addresses,
            &capabilities,
            ip_family,
        )
        .await;
        failed = result.verdict == Verdict::Failed;
        steps.push(result);
    }
    let reset = backend.reset().await;
    let first = |verdict: Verdict| steps.iter().find(|s| s.verdict == verdict);
    let (verdict, failure, reason) = match &reset {
        Err(error) => (
            Verdict::Failed,
            Some(Failure::Backend),
            Some(format!(
                "could not reset the world after the case: {}",
                chain(error)
            )),
        ),
        Ok(()) => match (first(Verdict::Failed), first(Verdict::Skipped)) {
            (Some(step), _) => (Verdict::Failed, step.failure, step.reason.clone()),
            (None, Some(step)) => (Verdict::Skipped, None, step.reason.clone()),
            (None, None) => (Verdict::Passed, None, None),
        },
    };
    CaseRun {
        result: CaseResult {
            name: case.name.clone(),
            file: case.file.display().to_string(),
            tags: case.tags.clone(),
            verdict,
            reason,
            failure,
            duration: started.elapsed(),
            steps,
        },
        unreset: reset.err(),
    }
}

/// Why a run stopped judging before its last case.
#[derive(Debug, thiserror::Error)]
#[error("the world could not be reset after case `{case}`, so the cases after it were not run")]
pub struct Stopped {
    pub case: String,
    #[source]
    pub error: BackendError,
}

/// One run: the world built once, then case after case judged on it, each
/// result recorded (known deviations applied) as soon as it is decided.
pub struct Session<'a, B: Backend> {
    backend: &'a mut B,
    model: &'a Model,
    deviations: Option<&'a KnownDeviations>,
    ip_family: IpFamily,
    addresses: Option<Addresses>,
    results: Vec<CaseResult>,
    stopped: Option<Stopped>,
    enforce: Option<Duration>,
}

impl<'a, B: Backend> Session<'a, B> {
    pub fn new(
        backend: &'a mut B,
        model: &'a Model,
        deviations: Option<&'a KnownDeviations>,
    ) -> Session<'a, B> {
        Session {
            backend,
            model,
            deviations,
            ip_family: IpFamily::default(),
            addresses: None,
            results: Vec::new(),
            stopped: None,
            enforce: None,
        }
    }

    /// Gives every step `deadline` to be enforced instead of the backend's
    /// own (`--enforce-timeout`).
    pub fn enforce_within(&mut self, deadline: Duration) {
        self.enforce = Some(deadline);
    }

    /// Probes the families of `ip_family` (IPv4 unless told).
    pub fn with_ip_family(mut self, ip_family: IpFamily) -> Session<'a, B> {
        self.ip_family = ip_family;
        self
    }

    pub fn ip_family(&self) -> IpFamily {
        self.ip_family
    }

    /// Builds the world every case starts from.
    pub async fn setup(&mut self) -> Result<(), BackendError> {
        self.addresses = Some(self.backend.setup(self.model).await?);
        Ok(())
    }

    pub fn model(&self) -> &'a Model {
        self.model
    }

    /// The pods' addresses, once the world is built.
    pub fn addresses(&self) -> Option<&Addresses> {
        self.addresses.as_ref()
    }

    /// The backend's API server judges every policy the cases apply, before
    /// any is judged: the refusals, each naming its case file, step and
    /// policy with the server's message. Empty when it accepts them all (or
    /// has no API server). Policies whose templates do not resolve are left
    /// to the case's own run, which fails on them.
    pub async fn admit(&mut self, cases: &[Case]) -> Result<Vec<String>, BackendError> {
        let Some(addresses) = self.addresses.as_ref() else {
            return Ok(Vec::new());
        };
        let mut policies = Vec::new();
        let mut origins = Vec::new();
        for case in cases {
            for (index, step) in case.steps.iter().enumerate() {
                for action in &step.actions {
                    if let Ok(crate::model::Change::Apply(policy)) =
                        action.resolve(self.model, addresses)
                    {
                        let (namespace, name) = crate::model::policy_key(&policy);
                        origins.push(format!(
                            "{}: step {index}: networkpolicy {namespace}/{name}",
                            case.file.display()
                        ));
                        policies.push(*policy);
                    }
                }
            }
        }
        let refused = self.backend.admit(&policies).await?;
        Ok(refused
            .into_iter()
            .map(|(index, message)| {
                format!(
                    "{}: the API server refuses it: {message}",
                    origins.get(index).map_or("?", String::as_str)
                )
            })
            .collect())
    }

    /// Runs `case` and records its verdict. Once the world is unknown (a
    /// reset failed), or before it is built, the case is recorded as not run.
    pub async fn judge(&mut self, case: &Case) -> &CaseResult {
        let result = match self.trial(case).await {
            Ok(result) => result,
            Err(reason) => CaseResult::skipped(case, reason.into()),
        };
        self.record(result)
    }

    /// Runs `case` without recording it (shrinking tries candidates so), or
    /// says why it cannot run.
    pub async fn trial(&mut self, case: &Case) -> Result<CaseResult, &'static str> {
        if self.stopped.is_some() {
            return Err(NOT_RUN_UNRESET);
        }
        let addresses = self.addresses.as_ref().ok_or(NOT_RUN_NO_WORLD)?;
        let run = run_case_within(
            self.backend,
            case,
            self.model,
            addresses,
            self.ip_family,
            self.enforce,
        )
        .await;
        if let Some(error) = run.unreset {
            self.stopped = Some(Stopped {
                case: case.name.clone(),
                error,
            });
        }
        Ok(run.result)
    }

    /// Records a case's verdict, known deviations applied.
    pub fn record(&mut self, mut result: CaseResult) -> &CaseResult {
        if let Some(known) = self.deviations {
            known.apply(&mut result);
        }
        self.results.push(result);
        self.results.last().expect("a result was just recorded")
    }

    /// The cases recorded so far, in the order they were judged.
    pub fn results(&self) -> &[CaseResult] {
        &self.results
    }

    pub fn stopped(&self) -> Option<&Stopped> {
        self.stopped.as_ref()
    }

    /// Every recorded result, and why the run stopped early if it did.
    pub fn finish(self) -> (Vec<CaseResult>, Option<Stopped>) {
        (self.results, self.stopped)
    }
}

#[cfg(test)]
mod tests;
