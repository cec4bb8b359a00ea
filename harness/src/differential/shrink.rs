//! Greedy delta debugging of a diverging case: try one smaller case after
//! another (a step, an action, any part of a policy, a label, a probe less),
//! keep each that still diverges, until none of the smaller ones does.
//! Every candidate goes through the real parser, so only valid cases run.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::Value;

use super::emit::{self, Expectations};
use super::{Minimal, diverged, with_oracle_expectations};
use crate::backend::Backend;
use crate::case::{self, Action, Case};
use crate::model::{Addresses, Model};
use crate::run::Session;
use crate::verdict::CaseResult;

/// Backend runs one shrinking may take: a run that diverges waits the whole
/// enforcement deadline, so this bounds a shrink to minutes.
pub const MAX_SHRINK_RUNS: usize = 300;

/// The smallest case found that still diverges, as a case file. Stops
/// early if the session's world becomes unknown (a reset failed).
pub async fn shrink<B: Backend>(
    session: &mut Session<'_, B>,
    case: &Case,
    result: &CaseResult,
    addresses: &Addresses,
) -> Minimal {
    let model = session.model();
    let started = Instant::now();
    let mut current = case.clone();
    let mut failure = result.clone();
    // Steps after the first diverging one never ran: drop them first.
    if let Some(first) = result
        .steps
        .iter()
        .position(|s| !s.comparisons.values().all(|c| c.matches()))
    {
        current.steps.truncate(first + 1);
    }
    let mut runs = 0;
    let mut position = 0;
    let mut since_success = 0;
    'search: while runs < MAX_SHRINK_RUNS {
        let candidates = candidates(&current, model);
        if candidates.is_empty() {
            break;
        }
        for offset in 0..candidates.len() {
            if runs >= MAX_SHRINK_RUNS || since_success >= candidates.len() {
                break 'search;
            }
            let index = (position + offset) % candidates.len();
            runs += 1;
            since_success += 1;
            let Some(judged) = still_diverges(session, &candidates[index], addresses).await else {
                // The world is unknown: nothing more can be tried on it.
                break 'search;
            };
            if let Some(diverging) = judged {
                current = candidates[index].clone();
                failure = diverging;
                // The candidates before this one were tried on a larger case; go on from here.
                position = index;
                since_success = 0;
                continue 'search;
            }
        }
    }
    let name = format!("divergence-{}", case.name);
    let yaml = match with_oracle_expectations(&current, model, addresses, session.ip_family()) {
        Ok((_, tables)) => {
            let description = format!(
                "Shrunk from {} by netpol run --differential: the backend and the oracle disagree. \
                 The expectation is the oracle's; decide which side is wrong before adding it under cases/.",
                case.name
            );
            emit::document(
                &current,
                &name,
                &description,
                &Expectations::Tables(&tables),
                model,
            )
            .render()
        }
        Err(reason) => format!("# the oracle cannot judge the minimal case: {reason}\n"),
    };
    Minimal {
        yaml,
        failure,
        runs,
        took: started.elapsed(),
    }
}

/// `Some(Some(result))` when `candidate` still diverges on the backend,
/// `Some(None)` when it does not, `None` when the world can no longer be used.
async fn still_diverges<B: Backend>(
    session: &mut Session<'_, B>,
    candidate: &Case,
    addresses: &Addresses,
) -> Option<Option<CaseResult>> {
    let Ok((judged, _)) =
        with_oracle_expectations(candidate, session.model(), addresses, session.ip_family())
    else {
        return Some(None);
    };
    let result = session.trial(&judged).await.ok()?;
    Some(diverged(&result).then_some(result))
}

/// Every valid case one piece smaller than `case`, biggest cuts first.
pub fn candidates(case: &Case, model: &Model) -> Vec<Case> {
    let mut out = Vec::new();
    if case.steps.len() > 1 {
        for i in 0..case.steps.len() {
            let mut smaller = case.clone();
            smaller.steps.remove(i);
            out.push(smaller);
        }
    }
    for (i, step) in case.steps.iter().enumerate() {
        for j in 0..step.actions.len() {
            let mut smaller = case.clone();
            smaller.steps[i].actions.remove(j);
            out.push(smaller);
        }
    }
    for (i, step) in case.steps.iter().enumerate() {
        for (j, action) in step.actions.iter().enumerate() {
            for replacement in smaller_actions(action) {
                let mut smaller = case.clone();
                smaller.steps[i].actions[j] = replacement;
                out.push(smaller);
            }
        }
    }
    if case.probes.len() > 1 {
        for i in 0..case.probes.len() {
            let mut smaller = case.clone();
            smaller.probes.remove(i);
            out.push(smaller);
        }
    }
    out.into_iter().filter_map(|c| reparse(&c, model)).collect()
}

/// The case as the parser reads it back, or `None` when it is not valid.
fn reparse(case: &Case, model: &Model) -> Option<Case> {
    let text = emit::document(
        case,
        &case.name,
        &case.description,
        &Expectations::Oracle,
        model,
    )
    .render();
    let file = PathBuf::from(format!("{}.yaml", case.name));
    let mut parsed = case::parse_case(&text, &file, model).ok()?;
    parsed.file.clone_from(&case.file);
    Some(parsed)
}

/// An action with one part less: a field or list item of a policy, a label.
fn smaller_actions(action: &Action) -> Vec<Action> {
    match action {
        Action::Apply(policy) => {
            let Ok(json) = serde_json::to_value(policy.as_ref()) else {
                return Vec::new();
            };
            let Some(spec) = json.get("spec") else {
                return Vec::new();
            };
            removals(spec)
                .into_iter()
                .filter_map(|spec| {
                    let mut smaller = json.clone();
                    smaller["spec"] = spec;
                    serde_json::from_value(smaller).ok()
                })
                .map(|p| Action::Apply(Box::new(p)))
                .collect()
        }
        Action::Delete { .. } => Vec::new(),
        Action::Label(change) => {
            let mut out = Vec::new();
            for key in change.set.keys() {
                let mut smaller = change.clone();
                smaller.set.remove(key);
                out.push(Action::Label(smaller));
            }
            for i in 0..change.remove.len() {
                let mut smaller = change.clone();
                smaller.remove.remove(i);
                out.push(Action::Label(smaller));
            }
            out
        }
    }
}

/// Copies of `value` with one object field or one list item removed, at any
/// depth; outer parts first, so whole rules go before single ports.
fn removals(value: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    match value {
        Value::Object(map) => {
            for key in map.keys() {
                let mut smaller = map.clone();
                smaller.remove(key);
                out.push(Value::Object(smaller));
            }
            for (key, inner) in map {
                for replacement in removals(inner) {
                    let mut smaller = map.clone();
                    smaller.insert(key.clone(), replacement);
                    out.push(Value::Object(smaller));
                }
            }
        }
        Value::Array(items) => {
            for i in 0..items.len() {
                let mut smaller = items.clone();
                smaller.remove(i);
                out.push(Value::Array(smaller));
            }
            for (i, inner) in items.iter().enumerate() {
                for replacement in removals(inner) {
                    let mut smaller = items.clone();
                    smaller[i] = replacement;
                    out.push(Value::Array(smaller));
                }
            }
        }
        _ => {}
    }
    out
}
