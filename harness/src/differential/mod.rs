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
use crate::case::Case;
use crate::model::{Addresses, Model, Probe, World};
use crate::oracle::Oracle;
use crate::run::{self, CaseResult};
use crate::truth::TruthTable;
use crate::verdict::Verdict;

pub use shrink::MAX_SHRINK_RUNS;

/// The oracle's tables after each step of `case`, in the world with `addresses`
/// (the backend's, so that ipBlocks cover the same pods on both sides).
pub fn oracle_tables(
    case: &Case,
    model: &Model,
    addresses: &Addresses,
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
        tables.push(case.probes.iter().map(|p| (*p, oracle.table(*p))).collect());
    }
    Ok(tables)
}

/// `case` with every step expecting the oracle's tables (written
/// expectations included: a differential run judges against the oracle only).
pub fn with_oracle_expectations(
    case: &Case,
    model: &Model,
    addresses: &Addresses,
) -> Result<(Case, Vec<BTreeMap<Probe, TruthTable>>), String> {
    let tables = oracle_tables(case, model, addresses)?;
    let mut judged = case.clone();
    for (step, expect) in judged.steps.iter_mut().zip(&tables) {
        step.expect = expect.clone();
        step.expect_oracle = false;
    }
    Ok((judged, tables))
}

/// A divergence, shrunk.
#[derive(Clone, Debug)]
pub struct Minimal {
    /// The minimal case file, expectation from the oracle.
    pub yaml: String,
    /// How the backend failed it (expected, observed, diff).
    pub failure: String,
    /// Backend runs the shrinking took.
    pub runs: usize,
    pub took: Duration,
}

/// A case's differential verdict, and the minimal case when it diverged.
pub struct Judged {
    pub result: CaseResult,
    pub minimal: Option<Minimal>,
}

/// Whether a result is a divergence: cells that differ, not a failure to run.
pub fn diverged(result: &CaseResult) -> bool {
    result
        .steps
        .iter()
        .any(|s| s.verdict == Verdict::Failed && s.comparisons.values().any(|c| !c.matches()))
}

/// Runs `case` on `backend` against the oracle's matrix; a divergence is
/// shrunk (when `shrink`) by re-running candidates on the same backend.
pub async fn judge<B: Backend>(
    backend: &mut B,
    case: &Case,
    model: &Model,
    addresses: &Addresses,
    shrink: bool,
) -> Judged {
    let result = match with_oracle_expectations(case, model, addresses) {
        Ok((judged, _)) => run::run_case(backend, &judged, model, addresses).await,
        Err(reason) => failed(case, format!("the oracle cannot judge this case: {reason}")),
    };
    let minimal = if shrink && diverged(&result) {
        Some(shrink::shrink(backend, case, &result, model, addresses).await)
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

/// What a run prints for a divergence: how the minimal case failed, then the
/// case file itself.
pub fn report(case: &str, minimal: &Minimal) -> String {
    format!(
        "DIVERGENCE {case}: shrunk in {} runs ({:.1} s) to the case below\n{}\
         --- minimal case (expectation from the oracle; decide which side is wrong, then add it under cases/):\n{}---\n",
        minimal.runs,
        minimal.took.as_secs_f64(),
        minimal.failure,
        minimal.yaml
    )
}

fn failed(case: &Case, reason: String) -> CaseResult {
    CaseResult {
        verdict: Verdict::Failed,
        reason: Some(reason),
        ..CaseResult::skipped(case, String::new())
    }
}

#[cfg(test)]
mod tests;
