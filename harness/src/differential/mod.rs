//! Differential runs: the oracle's matrix after each step is the expectation,
//! and a backend is judged against it cell by cell (`netpol run
//! --differential`). A divergence is shrunk to a minimal case file, printed
//! with the oracle's expectation, ready to add under `cases/` once a person
//! has decided which side is wrong.

pub mod emit;
pub mod rules;
mod shrink;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::backend::Backend;
use crate::case::{Case, Expectation};
use crate::model::{Addresses, IpFamily, Model, Probe, World};
use crate::oracle::Oracle;
use crate::run::{self, Session};
use crate::truth::TruthTable;
use crate::verdict::{CaseResult, Failure};

pub use shrink::MAX_SHRINK_RUNS;

/// The oracle's tables after each step of `case`, in the world with `addresses`
/// (the backend's, so that ipBlocks cover the same pods on both sides), for
/// each probe in each family of `ip_family`.
pub fn oracle_tables(
    case: &Case,
    model: &Model,
    addresses: &Addresses,
    ip_family: IpFamily,
) -> Result<Vec<BTreeMap<Probe, TruthTable>>, String> {
    let mut world = World::new(model.clone(), addresses.clone());
    let mut tables = Vec::new();
    for (index, step) in case.steps.iter().enumerate() {
        for action in &step.actions {
            let change = action
                .resolve(model, addresses)
                .map_err(|e| format!("step {index}: {e}"))?;
            world
                .apply(&change)
                .map_err(|e| format!("step {index}: {e}"))?;
        }
        let oracle = Oracle::new(&world).map_err(|e| format!("step {index}: {e}"))?;
        tables.push(
            ip_family
                .families()
                .iter()
                .flat_map(|&family| case.probes.iter().map(move |p| p.in_family(family)))
                .map(|p| (p, oracle.table(p)))
                .collect(),
        );
    }
    Ok(tables)
}

/// `case` with every step expecting the oracle's tables (written
/// expectations included: a differential run judges against the oracle only).
pub fn with_oracle_expectations(
    case: &Case,
    model: &Model,
    addresses: &Addresses,
    ip_family: IpFamily,
) -> Result<(Case, Vec<BTreeMap<Probe, TruthTable>>), String> {
    let tables = oracle_tables(case, model, addresses, ip_family)?;
    let mut judged = case.clone();
    for (step, expect) in judged.steps.iter_mut().zip(&tables) {
        step.expect = Expectation::Tables(expect.clone());
    }
    Ok((judged, tables))
}

/// A divergence, shrunk.
#[derive(Clone, Debug)]
pub struct Minimal {
    /// The minimal case file, expectation from the oracle.
    pub yaml: String,
    /// How the backend failed it (its cells, expected and observed).
    pub failure: CaseResult,
    /// Backend runs the shrinking took.
    pub runs: usize,
    pub took: Duration,
}

/// A case's differential verdict, and the minimal case when it diverged.
pub struct Judged {
    pub result: CaseResult,
    pub minimal: Option<Minimal>,
}

/// Whether a result is a divergence: observed cells that differ, not a
/// failure to run, nor a probe that failed.
pub fn diverged(result: &CaseResult) -> bool {
    result.steps.iter().any(|s| {
        s.failure == Some(Failure::Cells)
            && s.comparisons
                .values()
                .flat_map(|c| c.mismatches())
                .any(|m| m.is_observation())
    })
}

/// Runs `case` in `session`'s world against the oracle's matrix (without
/// recording it); a divergence is shrunk (when `shrink`) by re-running
/// candidates in the same world.
pub async fn judge<B: Backend>(session: &mut Session<'_, B>, case: &Case, shrink: bool) -> Judged {
    let model = session.model();
    let Some(addresses) = session.addresses().cloned() else {
        return Judged {
            result: CaseResult::skipped(case, run::NOT_RUN_NO_WORLD.into()),
            minimal: None,
        };
    };
    let result = match with_oracle_expectations(case, model, &addresses, session.ip_family()) {
        Ok((judged, _)) => match session.trial(&judged).await {
            Ok(result) => result,
            Err(reason) => CaseResult::skipped(case, reason.into()),
        },
        Err(reason) => CaseResult::failed(
            case,
            Failure::Case,
            format!("the oracle cannot judge this case: {reason}"),
        ),
    };
    let minimal = if shrink && diverged(&result) {
        Some(shrink::shrink(session, case, &result, &addresses).await)
    } else {
        None
    };
    Judged { result, minimal }
}

/// A plain run has nothing to judge `expect: oracle` steps against: refuse
/// such cases before anything runs (exit 2), naming them.
pub fn refuse_oracle_expectations(cases: &[Case]) -> Result<(), String> {
    let files: Vec<String> = cases
        .iter()
        .filter(|c| c.expects_oracle())
        .map(|c| c.file.display().to_string())
        .collect();
    match files.len() {
        0 => Ok(()),
        n => Err(format!(
            "`expect: oracle` needs `netpol run --differential`, which judges against the oracle's matrix; \
             without it nothing would be judged: {}{}",
            files[..n.min(3)].join(", "),
            if n > 3 {
                format!(" and {} more", n - 3)
            } else {
                String::new()
            }
        )),
    }
}

#[cfg(test)]
mod tests;
