//! Known deviations (`netpol run --known-deviations FILE`): cases, or single
//! cells of a case, that a backend is known to get wrong, each with a reason
//! and a link. A listed failure becomes `expected-failure`; a listed case or
//! cell that now passes fails the run, so that the list only ever shrinks.
//!
//! ```yaml
//! deviations:
//!   - cases: [default-deny-all-cluster, ipblock-with-port]
//!     reason: nothing enforces policies
//!     link: https://kubernetes.io/docs/concepts/services-networking/network-policies/#prerequisites
//!   - cases: [ipblock-ingress-except-one-pod]
//!     cells: ["step 0: y/a -> x/a tcp/80", "z/b → x/a udp/81"]
//!     reason: except is ignored for ingress
//!     link: https://github.com/example/cni/issues/1
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{CaseResult, Cell, Failure, Mismatch, StepResult, Verdict};
use crate::model::{PodId, Probe};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    deviations: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    cases: Vec<String>,
    #[serde(default)]
    cells: Vec<String>,
    reason: String,
    link: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DeviationsError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a known-deviations file")]
    Parse {
        path: PathBuf,
        // Boxed: the YAML error is large, and this is the cold path.
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// One cell of a deviation: `[step N: ]FROM -> TO PROBE` (`→` also works, as
/// failure messages print it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellSpec {
    /// `None`: the cell in any step.
    pub step: Option<usize>,
    pub from: PodId,
    pub to: PodId,
    pub probe: Probe,
}

impl CellSpec {
    pub fn parse(text: &str) -> Result<CellSpec, String> {
        let problem = || {
            format!(
                "cell `{text}` is not `[step N: ]FROM -> TO PROBE` (as in `step 0: y/a -> x/a tcp/80`)"
            )
        };
        let (step, rest) = match text.trim().strip_prefix("step ") {
            Some(rest) => {
                let (n, rest) = rest.split_once(':').ok_or_else(problem)?;
                (Some(n.trim().parse().map_err(|_| problem())?), rest)
            }
            None => (None, text),
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        // An IPv6 cell ends with its family, as reports label it: `tcp/80 (v6)`.
        let (from, to, probe) = match words[..] {
            [from, "->" | "→", to, probe] => (from, to, probe.to_owned()),
            [from, "->" | "→", to, probe, family] => (from, to, format!("{probe} {family}")),
            _ => return Err(problem()),
        };
        let pod = |text: &str| {
            text.split_once('/')
                .filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains('/'))
                .map(|(ns, name)| PodId::new(ns, name))
                .ok_or_else(problem)
        };
        Ok(CellSpec {
            step,
            from: pod(from)?,
            to: pod(to)?,
            probe: Probe::from_label(&probe)?,
        })
    }
}

impl fmt::Display for CellSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(step) = self.step {
            write!(f, "step {step}: ")?;
        }
        write!(f, "{} → {} {}", self.from, self.to, self.probe)
    }
}

/// What is known of one case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deviation {
    pub reason: String,
    pub link: String,
    /// Empty: any failure of the case is expected.
    pub cells: Vec<CellSpec>,
}

/// A loaded known-deviations file.
#[derive(Clone, Debug)]
pub struct KnownDeviations {
    path: PathBuf,
    cases: BTreeMap<String, Deviation>,
}

/// Reads and checks a known-deviations file.
pub fn load(path: &Path) -> Result<KnownDeviations, DeviationsError> {
    let text = std::fs::read_to_string(path).map_err(|source| DeviationsError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, path)
}

/// Checks the text of a known-deviations file read from `path`.
pub fn parse(text: &str, path: &Path) -> Result<KnownDeviations, DeviationsError> {
    let file: File = serde_saphyr::from_str(text).map_err(|source| DeviationsError::Parse {
        path: path.to_owned(),
        source: Box::new(source),
    })?;
    let invalid = |message: String| DeviationsError::Invalid {
        path: path.to_owned(),
        message,
    };
    let mut cases = BTreeMap::new();
    for (index, entry) in file.deviations.into_iter().enumerate() {
        let at = format!("deviations[{index}]");
        if entry.reason.trim().is_empty() || entry.link.trim().is_empty() {
            return Err(invalid(format!(
                "{at}: every deviation needs a reason and a link"
            )));
        }
        if entry.cases.is_empty() {
            return Err(invalid(format!("{at}: `cases` lists no case")));
        }
        if !entry.cells.is_empty() && entry.cases.len() != 1 {
            return Err(invalid(format!(
                "{at}: `cells` belong to one case, but `cases` lists {}",
                entry.cases.len()
            )));
        }
        let cells = entry
            .cells
            .iter()
            .map(|c| CellSpec::parse(c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| invalid(format!("{at}: {message}")))?;
        for case in entry.cases {
            let deviation = Deviation {
                reason: entry.reason.clone(),
                link: entry.link.clone(),
                cells: cells.clone(),
            };
            if cases.insert(case.clone(), deviation).is_some() {
                return Err(invalid(format!("{at}: case `{case}` is listed twice")));
            }
        }
    }
    Ok(KnownDeviations {
        path: path.to_owned(),
        cases,
    })
}

impl KnownDeviations {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The listed case names, sorted.
    pub fn cases(&self) -> impl Iterator<Item = &str> {
        self.cases.keys().map(String::as_str)
    }

    pub fn get(&self, case: &str) -> Option<&Deviation> {
        self.cases.get(case)
    }

    /// Judges a finished case against the list: a listed failure becomes an
    /// expected failure, a listed case or cell that passes becomes a failure.
    /// Only differing observations can be known deviations: a probe that
    /// failed, a step the backend could not run and a world that could not be
    /// reset stay failures, whatever the list says.
    pub fn apply(&self, case: &mut CaseResult) {
        let Some(deviation) = self.cases.get(&case.name) else {
            return;
        };
        let path = self.path.display();
        match case.verdict {
            // Nothing was judged, so nothing is known to have changed.
            Verdict::Skipped | Verdict::ExpectedFailure => {}
            Verdict::Passed => {
                case.verdict = Verdict::Failed;
                case.reason = Some(format!(
                    "listed as a known deviation in {path}, but passed: remove it from the list"
                ));
            }
            Verdict::Failed => match judge(case, &deviation.cells) {
                Judgement::Expected => {
                    case.verdict = Verdict::ExpectedFailure;
                    case.reason = Some(format!(
                        "known deviation: {} ({})",
                        deviation.reason, deviation.link
                    ));
                    for step in &mut case.steps {
                        if step.verdict == Verdict::Failed {
                            step.verdict = Verdict::ExpectedFailure;
                        }
                    }
                }
                Judgement::NotADeviation(why) => {
                    let was = case.reason.take().unwrap_or_default();
                    case.reason = Some(format!("{was}; not a known deviation of {path}: {why}"));
                }
                Judgement::Unlisted(count, first) => {
                    let was = case.reason.take().unwrap_or_default();
                    let unlisted = crate::words::counted(
                        count,
                        "of the differing cells is not a known deviation",
                        "of the differing cells are not known deviations",
                    );
                    case.reason = Some(format!("{was}; {unlisted} in {path} (first: {first})"));
                }
                Judgement::Stale(cell) => {
                    case.reason = Some(format!(
                        "known deviation `{cell}` in {path} no longer differs: remove it from the list"
                    ));
                }
            },
        }
    }
}

enum Judgement {
    /// Every failure is listed, and every listed cell still differs.
    Expected,
    /// The case failed in a way no list covers: the backend, or a probe, failed.
    NotADeviation(String),
    /// This many differing cells are not listed.
    Unlisted(usize, String),
    /// A listed cell was judged and matched.
    Stale(CellSpec),
}

fn judge(case: &CaseResult, cells: &[CellSpec]) -> Judgement {
    let failed: Vec<&StepResult> = case
        .steps
        .iter()
        .filter(|s| s.verdict == Verdict::Failed)
        .collect();
    if let Some(step) = failed.iter().find(|s| s.failure != Some(Failure::Cells)) {
        let why = step.reason.clone().unwrap_or_else(|| "failed".into());
        return Judgement::NotADeviation(format!(
            "step {} failed without a verdict on cells ({why})",
            step.index
        ));
    }
    if failed.is_empty() {
        // Every step passed: the case failed after them (its world could not be reset).
        return Judgement::NotADeviation(
            "no step failed, the case failed outside its steps".into(),
        );
    }
    let mut differing = Vec::new();
    for step in &failed {
        // Every path's: a cell listed for the pod IPs covers its Service twin too.
        for (_, comparisons) in step.paths() {
            for comparison in comparisons.values() {
                differing.extend(comparison.mismatches().into_iter().map(|m| (step.index, m)));
            }
        }
    }
    let unobserved: Vec<String> = differing
        .iter()
        .filter(|(_, m)| !m.is_observation())
        .map(|(step, m)| format!("step {step}: {m}"))
        .collect();
    if let Some(first) = unobserved.first() {
        return Judgement::NotADeviation(format!(
            "{}, the probe failed (first: {first})",
            crate::words::counted(
                unobserved.len(),
                "cell has no observation",
                "cells have no observation"
            )
        ));
    }
    if cells.is_empty() {
        return Judgement::Expected;
    }
    let covers = |spec: &CellSpec, step: usize, m: &Mismatch| {
        spec.step.is_none_or(|s| s == step)
            && spec.from == m.from
            && spec.to == m.to
            && spec.probe == m.probe
    };
    let unlisted: Vec<String> = differing
        .iter()
        .filter(|(step, m)| !cells.iter().any(|spec| covers(spec, *step, m)))
        .map(|(step, m)| format!("step {step}: {m}"))
        .collect();
    if let Some(first) = unlisted.first() {
        return Judgement::Unlisted(unlisted.len(), first.clone());
    }
    // A step after a failed one never ran, and an unsupported protocol is
    // never judged: a listed cell there may still differ.
    let judged_in = |step: &StepResult, spec: &CellSpec| {
        step.comparisons.get(&spec.probe).is_some_and(|c| {
            let pods = c.expected.pods();
            let index = |pod: &PodId| pods.iter().position(|p| p == pod);
            match (index(&spec.from), index(&spec.to)) {
                (Some(from), Some(to)) => c.cell(from, to) != Cell::Ignored,
                _ => false,
            }
        })
    };
    let judged = |spec: &CellSpec| match spec.step {
        Some(index) => case.steps.get(index).is_some_and(|s| judged_in(s, spec)),
        None => case.steps.iter().all(|s| judged_in(s, spec)),
    };
    let stale = cells
        .iter()
        .find(|spec| judged(spec) && !differing.iter().any(|(step, m)| covers(spec, *step, m)));
    match stale {
        Some(spec) => Judgement::Stale(spec.clone()),
        None => Judgement::Expected,
    }
}

#[cfg(test)]
mod tests;
