//! Results files read back for `netpol compare` and `netpol report`: each a
//! run labelled `backend/cni`, plus what the reports compute from it.

use std::path::{Path, PathBuf};

use crate::report::json::{CaseRecord, Results, SCHEMA};

/// One results file and the label it goes by in reports.
#[derive(Clone, Debug)]
pub struct Run {
    pub label: String,
    pub path: PathBuf,
    pub results: Results,
}

#[derive(Debug, thiserror::Error)]
pub enum RunsError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a netpol results file")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path} has schema `{found}`, this netpol reads {SCHEMA}")]
    Schema { path: PathBuf, found: String },
}

/// Reads every file in order; two runs with the same `backend/cni` get a
/// `#2`, `#3` … so that their columns can be told apart.
pub fn load(paths: &[PathBuf]) -> Result<Vec<Run>, RunsError> {
    let mut runs: Vec<Run> = Vec::new();
    for path in paths {
        let results = read(path)?;
        let base = label(&results);
        let same = runs
            .iter()
            .filter(|r| r.label == base || r.label.starts_with(&format!("{base} #")))
            .count();
        let label = if same == 0 {
            base
        } else {
            format!("{base} #{}", same + 1)
        };
        runs.push(Run {
            label,
            path: path.clone(),
            results,
        });
    }
    Ok(runs)
}

fn read(path: &Path) -> Result<Results, RunsError> {
    let text = std::fs::read_to_string(path).map_err(|source| RunsError::Read {
        path: path.to_owned(),
        source,
    })?;
    // Check the schema first: a future schema should say so, not fail on a field.
    let schema = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("schema").and_then(|s| s.as_str()).map(str::to_owned));
    if let Some(found) = schema
        && found != SCHEMA
    {
        return Err(RunsError::Schema {
            path: path.to_owned(),
            found,
        });
    }
    serde_json::from_str(&text).map_err(|source| RunsError::Parse {
        path: path.to_owned(),
        source,
    })
}

/// `netns/reference`, `oracle/oracle`: how reports name a run.
pub fn label(results: &Results) -> String {
    format!("{}/{}", results.backend, results.cni.name)
}

/// The case's area: the folder it lives in under `cases/`.
pub fn area(file: &str) -> &str {
    Path::new(file)
        .parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .unwrap_or("-")
}

/// Time to enforce over every step of a run that converged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnforceStats {
    /// How many steps converged (and so have a time).
    pub steps: usize,
    pub p50_ms: u64,
    pub max_ms: u64,
    /// The step that took longest, `case step N`.
    pub slowest: String,
}

impl EnforceStats {
    pub fn of(cases: &[CaseRecord]) -> Option<EnforceStats> {
        let mut times: Vec<(u64, String)> = cases
            .iter()
            .flat_map(|c| {
                c.steps.iter().filter_map(move |s| {
                    s.time_to_enforce_ms
                        .map(|ms| (ms, format!("{} step {}", c.name, s.index)))
                })
            })
            .collect();
        if times.is_empty() {
            return None;
        }
        times.sort();
        // Nearest rank: the median of an even count is the lower middle value.
        let p50_ms = times[(times.len() - 1) / 2].0;
        let (max_ms, slowest) = times.last().cloned().expect("not empty");
        Some(EnforceStats {
            steps: times.len(),
            p50_ms,
            max_ms,
            slowest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::json::StepRecord;
    use crate::verdict::Verdict;

    fn step(index: usize, ms: Option<u64>) -> StepRecord {
        StepRecord {
            index,
            verdict: Verdict::Passed,
            reason: None,
            attempts: 1,
            time_to_enforce_ms: ms,
            probes: Default::default(),
            service_probes: None,
            divergences: Vec::new(),
        }
    }

    #[test]
    fn the_median_and_the_slowest_step_come_from_converged_steps_only() {
        let case = CaseRecord {
            name: "c".into(),
            file: "cases/steps/c.yaml".into(),
            tags: vec![],
            verdict: Verdict::Failed,
            reason: None,
            duration_ms: 0,
            steps: vec![
                step(0, Some(30)),
                step(1, Some(500)),
                step(2, Some(40)),
                step(3, None),
            ],
        };
        let stats = EnforceStats::of(&[case]).expect("three converged steps");
        assert_eq!(
            stats,
            EnforceStats {
                steps: 3,
                p50_ms: 40,
                max_ms: 500,
                slowest: "c step 1".into()
            }
        );
        assert_eq!(EnforceStats::of(&[]), None);
    }

    #[test]
    fn a_cases_area_is_its_folder() {
        assert_eq!(area("cases/ipblock/ipblock-with-port.yaml"), "ipblock");
        assert_eq!(area("wrong.yaml"), "-");
    }
}
