//! One step: its changes, then probing rounds until every path's matrix is
//! the expectation (from the settle time on, for a step with nothing visible
//! to wait for: `Timeouts::settle`), the deadline passes, or the rounds keep
//! seeing the no-policy matrix.

use std::collections::BTreeMap;

use super::{Instant, protocol_names};
use crate::backend::{Backend, Capabilities};
use crate::case::{Case, Expectation};
use crate::error::chain;
use crate::model::{Addresses, IpFamily, Model, Probe};
use crate::probe::{Matrix, Observed, ObservedTable};
use crate::timeouts::Timeouts;
use crate::truth::TruthTable;
use crate::verdict::{Cell, Comparison, Failure, PodsDiffer, StepResult, Verdict};
use crate::words::counted;

pub(super) async fn run_step<B: Backend>(
    backend: &mut B,
    case: &Case,
    index: usize,
    model: &Model,
    addresses: &Addresses,
    capabilities: &Capabilities,
    ip_family: IpFamily,
) -> StepResult {
    let step = &case.steps[index];
    let failed = |failure, reason: String| StepResult::failed(index, failure, reason);
    let tables = match &step.expect {
        Expectation::Tables(tables) => tables,
        Expectation::Oracle => {
            return failed(
                Failure::Case,
                format!(
                    "step {index} expects the oracle's matrix (`expect: oracle`): run it with --differential"
                ),
            );
        }
    };
    // Every probe of the case in every family of the run: the cells.
    let probes: Vec<Probe> = ip_family
        .families()
        .iter()
        .flat_map(|&family| case.probes.iter().map(move |p| p.in_family(family)))
        .collect();
    let mut expected = Vec::with_capacity(probes.len());
    for probe in &probes {
        match tables.get(probe) {
            Some(table) => expected.push((*probe, table)),
            None => {
                return failed(
                    Failure::Case,
                    format!("step {index} has no expectation for {probe}, which the case probes"),
                );
            }
        }
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
        Err(reason) => return failed(Failure::Case, format!("step {index}: {reason}")),
    };
    if !changes.is_empty()
        && let Err(error) = backend.change(&changes).await
    {
        return failed(Failure::Backend, format!("step {index}: {}", chain(&error)));
    }
    // Through an API server, from its answer to the last write (see `Backend::written`).
    let changed = match backend.written() {
        Some(written) if !changes.is_empty() => Instant::from_std(written),
        _ => changed,
    };
    let (supported, unsupported): (Vec<Probe>, Vec<Probe>) = probes
        .iter()
        .partition(|p| capabilities.protocols.contains(&p.protocol));
    let deadline = capabilities.timeouts.enforce;
    // Nothing visible to wait for: only rounds after the settle time count.
    let settle = if !changes.is_empty() && expects_what_the_world_showed(case, index, &expected) {
        capabilities.timeouts.settle.min(deadline)
    } else {
        std::time::Duration::ZERO
    };
    // The elapsed time of the first round of the current run of matching rounds.
    let mut matching_since = None;
    let mut attempts = 0;
    // Rounds in a row whose every judged cell connected, as with no policy.
    let mut unchanged = 0;
    loop {
        attempts += 1;
        let paths = match backend.probe_paths(&supported).await {
            Ok(paths) => paths,
            Err(error) => {
                return failed(Failure::Backend, format!("step {index}: {}", chain(&error)));
            }
        };
        let divergences = paths.divergences();
        let (first, service) = match (paths.pod, paths.service) {
            (Some(pod), service) => (pod, service),
            (None, Some(service)) => (service, None),
            (None, None) => (Matrix::new(), None),
        };
        let judged = compare(&expected, first, &unsupported, model).and_then(|first| {
            let service = service
                .map(|m| compare(&expected, m, &unsupported, model))
                .transpose()?;
            Ok((first, service))
        });
        let (comparisons, service) = match judged {
            Ok(judged) => judged,
            Err(error) => return failed(Failure::Backend, format!("step {index}: {error}")),
        };
        let every = || std::iter::once(&comparisons).chain(service.as_ref());
        let matched = every().all(|c| c.values().all(Comparison::matches));
        unchanged = if every().all(|c| c.values().all(as_without_policy)) {
            unchanged + 1
        } else {
            0
        };
        let elapsed = changed.elapsed();
        matching_since = if matched {
            matching_since.or(Some(elapsed))
        } else {
            None
        };
        let unenforced = !matched
            && unchanged >= NO_POLICY_ROUNDS
            && elapsed >= Timeouts::NO_POLICY_AFTER.min(deadline / 2);
        if (matched && elapsed >= settle) || unenforced || elapsed >= deadline {
            let (verdict, failure, reason) = if !matched {
                let differing: Vec<_> = every()
                    .flat_map(|c| c.values().flat_map(Comparison::mismatches))
                    .collect();
                let unobserved = differing.iter().filter(|m| !m.is_observation()).count();
                let mut reason = format!(
                    "step {index}: {} after {}",
                    counted(differing.len(), "cell differs", "cells differ"),
                    counted(attempts, "attempt", "attempts")
                );
                if service.is_some() {
                    let on = |c: &BTreeMap<Probe, Comparison>| {
                        c.values().map(|c| c.mismatches().len()).sum::<usize>()
                    };
                    reason.push_str(&format!(
                        " ({} by pod IP, {} by Service)",
                        on(&comparisons),
                        service.as_ref().map_or(0, on)
                    ));
                }
                if unobserved > 0 {
                    reason.push_str(&format!(
                        " ({unobserved} of them without an observation: the probe failed)"
                    ));
                }
                if unenforced {
                    reason.push_str(&format!(
                        "; stopped after {:.1} s of {} s: {unchanged} rounds in a row saw every cell connected, as with no policy",
                        elapsed.as_secs_f64(),
                        deadline.as_secs()
                    ));
                }
                (Verdict::Failed, Some(Failure::Cells), Some(reason))
            } else if !unsupported.is_empty() {
                (
                    Verdict::Skipped,
                    None,
                    Some(format!(
                        "{} unsupported by backend",
                        protocol_names(&unsupported)
                    )),
                )
            } else {
                (Verdict::Passed, None, None)
            };
            return StepResult {
                index,
                verdict,
                reason,
                failure,
                attempts,
                time_to_enforce: matching_since,
                comparisons,
                service,
                // The final round's only: earlier rounds may have raced the change.
                divergences,
            };
        }
        tokio::time::sleep(capabilities.timeouts.poll).await;
    }
}

/// Whether step `index` expects, on every probe, what the world showed before
/// its changes: the previous step's expectation, or before the first step
/// the world without policy (every cell allowed; the reset checks it). The
/// diagonal is not judged, so it is not compared.
fn expects_what_the_world_showed(
    case: &Case,
    index: usize,
    expected: &[(Probe, &TruthTable)],
) -> bool {
    let before = match index.checked_sub(1).map(|i| &case.steps[i].expect) {
        None => None,
        Some(Expectation::Tables(tables)) => Some(tables),
        // Not known here: the step is judged as any other.
        Some(Expectation::Oracle) => return false,
    };
    expected.iter().all(|(probe, table)| match before {
        None => {
            let open = TruthTable::filled(table.pods().to_vec(), crate::truth::Reach::Allowed);
            table.agrees_with(&open)
        }
        Some(tables) => tables.get(probe).is_some_and(|t| t.agrees_with(table)),
    })
}

/// A step stops early, failed, once this many probing rounds in a row saw
/// the no-policy matrix (every judged cell connected) where the expectation
/// blocks something, and `Timeouts::NO_POLICY_AFTER` (or half the deadline,
/// if shorter) has passed: a CNI that enforces nothing never changes it,
/// while one that enforces shows a block within a round or two of starting to.
pub const NO_POLICY_ROUNDS: u32 = 3;

/// Whether every judged cell connected, as it does in a world without policy.
fn as_without_policy(comparison: &Comparison) -> bool {
    let pods = comparison.expected.pods().len();
    (0..pods).all(|from| {
        (0..pods).all(|to| {
            comparison.cell(from, to) == Cell::Ignored
                || *comparison.observed.get(from, to) == Observed::Connected
        })
    })
}

/// One path's matrix against the expectation, probe by probe (the protocols
/// the backend cannot carry are filled in as unsupported).
fn compare(
    expected: &[(Probe, &TruthTable)],
    mut matrix: Matrix,
    unsupported: &[Probe],
    model: &Model,
) -> Result<BTreeMap<Probe, Comparison>, PodsDiffer> {
    for probe in unsupported {
        matrix.insert(
            *probe,
            ObservedTable::filled(model.pod_ids(), Observed::Unsupported),
        );
    }
    expected
        .iter()
        .map(|(probe, table)| {
            let observed = matrix.remove(probe).unwrap_or_else(|| {
                ObservedTable::filled(
                    model.pod_ids(),
                    Observed::Error("the backend returned no result for this probe".into()),
                )
            });
            Comparison::new(*probe, table, &observed).map(|c| (*probe, c))
        })
        .collect()
}
