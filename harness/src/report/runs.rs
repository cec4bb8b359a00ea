//! Results files read back for `netpol compare` and `netpol report`: each a
//! run labelled `backend/cni`, plus what the reports compute from it.

use std::path::{Path, PathBuf};

use crate::report::json::{CaseRecord, Results, SCHEMA};
use crate::verdict::Verdict;

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

/// How reports name a run: `backend/cni` (`netns/reference`, `oracle/oracle`);
/// the reference enforcer behind an API server (`netns --control-plane`: the
/// run knows a Kubernetes version) is `netns/reference-controller`, as its
/// results file is named, since a run of it is usually compared with the
/// local one.
pub fn label(results: &Results) -> String {
    let controller = results.backend == "netns"
        && results.cni.name == "reference"
        && results.cluster.kubernetes.is_some();
    let suffix = if controller { "-controller" } else { "" };
    format!("{}/{}{suffix}", results.backend, results.cni.name)
}

/// The case's area: the folder it lives in under `cases/`.
pub fn area(file: &str) -> &str {
    Path::new(file)
        .parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .unwrap_or("-")
}

/// Time to enforce over the steps of a run: every converged step's time, how
/// they spread, and how many steps have no time and why. The reports only
/// display it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnforceStats {
    /// Every step that converged, fastest first (ties by name).
    pub times: Vec<StepTime>,
    /// Steps judged without ever matching their expectation: `failed` or
    /// `expected-failure` with `time_to_enforce_ms: null`.
    pub never_enforced: usize,
    /// Steps with no time that were not judged (`skipped`: an earlier step
    /// failed, the case was filtered out, …).
    pub not_run: usize,
    /// `None` when no step converged: there is nothing to take a median of.
    pub spread: Option<Spread>,
}

/// One converged step's time.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StepTime {
    pub ms: u64,
    /// `case step N`.
    pub step: String,
}

/// Nearest-rank percentiles of the converged steps' times, in ms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spread {
    pub min_ms: u64,
    pub q1_ms: u64,
    pub p50_ms: u64,
    pub q3_ms: u64,
    pub p99_ms: u64,
    pub max_ms: u64,
}

impl EnforceStats {
    pub fn of(cases: &[CaseRecord]) -> EnforceStats {
        let mut times = Vec::new();
        let (mut never_enforced, mut not_run) = (0, 0);
        for case in cases {
            for step in &case.steps {
                match step.time_to_enforce_ms {
                    Some(ms) => times.push(StepTime {
                        ms,
                        step: format!("{} step {}", case.name, step.index),
                    }),
                    None if step.verdict == Verdict::Skipped => not_run += 1,
                    None => never_enforced += 1,
                }
            }
        }
        times.sort();
        let ms: Vec<u64> = times.iter().map(|t| t.ms).collect();
        let spread = (!ms.is_empty()).then(|| {
            let at = |percent| nearest_rank(&ms, percent).expect("not empty");
            Spread {
                min_ms: ms[0],
                q1_ms: at(25),
                p50_ms: at(50),
                q3_ms: at(75),
                p99_ms: at(99),
                max_ms: ms[ms.len() - 1],
            }
        });
        EnforceStats {
            times,
            never_enforced,
            not_run,
            spread,
        }
    }

    /// How many steps converged.
    pub fn steps(&self) -> usize {
        self.times.len()
    }

    /// The step that took longest.
    pub fn slowest(&self) -> Option<&StepTime> {
        self.times.last()
    }
}

/// The nearest-rank percentile of ascending `sorted`: the smallest value with
/// at least `percent` % of the values at or below it, always one of them (the
/// median of an even count is the lower middle value); `None` when empty.
pub fn nearest_rank(sorted: &[u64], percent: usize) -> Option<u64> {
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank.min(sorted.len()).checked_sub(1)?).copied()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::json::StepRecord;
    use crate::verdict::Verdict;

    /// A step record of `verdict` with `ms` as its time to enforce (other report tests use it too).
    pub(crate) fn step(index: usize, verdict: Verdict, ms: Option<u64>) -> StepRecord {
        StepRecord {
            index,
            verdict,
            reason: None,
            attempts: 1,
            time_to_enforce_ms: ms,
            probes: Default::default(),
            service_probes: None,
            divergences: Vec::new(),
        }
    }

    fn case(name: &str, steps: Vec<StepRecord>) -> CaseRecord {
        CaseRecord {
            name: name.into(),
            file: format!("cases/steps/{name}.yaml"),
            tags: vec![],
            verdict: Verdict::Failed,
            reason: None,
            duration_ms: 0,
            steps,
        }
    }

    #[test]
    fn the_reference_behind_an_api_server_is_labelled_as_the_controller_and_repeats_are_numbered() {
        let committed = |file: &str| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../results")
                .join(file)
        };
        let runs = load(&[
            committed("netns-reference.json"),
            committed("netns-reference-controller.json"),
            committed("netns-kube-router.json"),
            committed("netns-reference.json"),
        ])
        .expect("the committed results");
        let labels: Vec<&str> = runs.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "netns/reference",
                "netns/reference-controller",
                "netns/kube-router",
                "netns/reference #2"
            ]
        );
    }

    #[test]
    fn the_spread_and_the_slowest_step_come_from_converged_steps_only() {
        let cases = [
            case(
                "c",
                vec![
                    step(0, Verdict::Passed, Some(30)),
                    step(1, Verdict::Passed, Some(500)),
                    step(2, Verdict::Passed, Some(40)),
                    step(3, Verdict::Failed, None),
                    step(4, Verdict::Skipped, None),
                ],
            ),
            // A step skipped for a protocol the backend cannot carry still
            // converged on the others: its time counts.
            case("d", vec![step(0, Verdict::Skipped, Some(35))]),
        ];
        let stats = EnforceStats::of(&cases);
        let times: Vec<(u64, &str)> = stats
            .times
            .iter()
            .map(|t| (t.ms, t.step.as_str()))
            .collect();
        assert_eq!(
            times,
            [
                (30, "c step 0"),
                (35, "d step 0"),
                (40, "c step 2"),
                (500, "c step 1")
            ]
        );
        assert_eq!(stats.steps(), 4);
        assert_eq!((stats.never_enforced, stats.not_run), (1, 1));
        assert_eq!(
            stats.spread,
            Some(Spread {
                min_ms: 30,
                q1_ms: 30,
                p50_ms: 35,
                q3_ms: 40,
                p99_ms: 500,
                max_ms: 500,
            })
        );
        assert_eq!(stats.slowest().map(|t| t.step.as_str()), Some("c step 1"));
    }

    #[test]
    fn a_run_without_a_converged_step_has_no_spread_but_counts_its_steps() {
        let cases = [case(
            "c",
            vec![
                step(0, Verdict::Failed, None),
                step(1, Verdict::ExpectedFailure, None),
                step(2, Verdict::Skipped, None),
            ],
        )];
        let stats = EnforceStats::of(&cases);
        assert_eq!(stats.steps(), 0);
        assert_eq!(stats.spread, None);
        assert_eq!(stats.slowest(), None);
        assert_eq!((stats.never_enforced, stats.not_run), (2, 1));
        let empty = EnforceStats::of(&[]);
        assert_eq!(
            (empty.steps(), empty.never_enforced, empty.not_run),
            (0, 0, 0)
        );
        assert_eq!(empty.spread, None);
    }

    #[test]
    fn percentiles_are_nearest_rank_and_always_one_of_the_values() {
        let ten: Vec<u64> = (1..=10).map(|n| n * 10).collect();
        let at = |percent| nearest_rank(&ten, percent);
        // Rank ceil(p/100 × 10): 25 % is the 3rd value, 75 % the 8th.
        assert_eq!(
            [at(0), at(25), at(50), at(75), at(99), at(100)],
            [Some(10), Some(30), Some(50), Some(80), Some(100), Some(100)]
        );
        // Of an even count the median is the lower middle value.
        assert_eq!(nearest_rank(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(nearest_rank(&[7], 1), Some(7));
        assert_eq!(nearest_rank(&[7], 99), Some(7));
        // 99 % of 200 values is the 198th, not the largest.
        let two_hundred: Vec<u64> = (1..=200).collect();
        assert_eq!(nearest_rank(&two_hundred, 99), Some(198));
        assert_eq!(nearest_rank(&[], 50), None);
    }

    #[test]
    fn a_cases_area_is_its_folder() {
        assert_eq!(area("cases/ipblock/ipblock-with-port.yaml"), "ipblock");
        assert_eq!(area("wrong.yaml"), "-");
    }
}
