//! The verdict, decided in one place: what was expected against what was
//! observed, cell by cell (here), the outcome of steps and cases
//! (`outcome`), and the known deviations that turn a listed failure into an
//! expected one (`deviations`). Reports only display what is decided here.

pub mod deviations;
mod outcome;

pub use outcome::{CaseResult, Failure, StepResult, Summary};

use serde::{Deserialize, Serialize};

use crate::model::{PodId, Probe};
use crate::probe::{ERROR_SYMBOL, NOT_JUDGED_SYMBOL, Observed, ObservedTable};
use crate::truth::{Reach, TruthTable, render_grid};

/// One compared cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    Match,
    /// Observed, and not what was expected.
    Mismatch,
    /// The probe failed: nothing was observed, so the cell can neither pass
    /// nor count as a block. It fails its step like a mismatch.
    Unknown,
    /// The diagonal, or a cell the backend could not probe.
    Ignored,
}

impl Cell {
    pub fn symbol(self) -> char {
        match self {
            Cell::Match => '.',
            Cell::Mismatch => 'X',
            Cell::Unknown => ERROR_SYMBOL,
            Cell::Ignored => NOT_JUDGED_SYMBOL,
        }
    }
}

/// The outcome of a case or step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Passed,
    Failed,
    Skipped,
    /// Failed as a known-deviations file says it does (`--known-deviations`).
    #[serde(rename = "expected-failure")]
    ExpectedFailure,
}

impl Verdict {
    /// The word of the results file: `passed`, `failed`, `skipped`, `expected-failure`.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Skipped => "skipped",
            Verdict::ExpectedFailure => "expected-failure",
        }
    }
}

/// One differing cell (a [`Cell::Mismatch`] or a [`Cell::Unknown`]), phrased for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub from: PodId,
    pub to: PodId,
    pub probe: Probe,
    pub expected: Reach,
    pub observed: Observed,
}

impl Mismatch {
    /// Whether the cell was observed at all: false for a probe that failed.
    pub fn is_observation(&self) -> bool {
        self.observed.reach().is_some()
    }
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let observed = match self.observed.reach() {
            Some(Reach::Allowed) => "connected".to_owned(),
            Some(Reach::Denied) => format!("blocked ({})", self.observed.detail()),
            None => format!("no answer ({})", self.observed.detail()),
        };
        write!(
            f,
            "{} → {} {}: expected {}, observed {observed}",
            self.from,
            self.to,
            self.probe,
            self.expected.word()
        )
    }
}

/// Expected against observed for one probed port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    pub probe: Probe,
    pub expected: TruthTable,
    pub observed: ObservedTable,
    cells: Vec<Cell>,
}

/// A backend returned a table over other pods (or in another order) than
/// the expectation's: its cells cannot be compared.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{probe}: the backend observed pods {observed}, the expectation is over {expected}")]
pub struct PodsDiffer {
    pub probe: Probe,
    pub expected: String,
    pub observed: String,
}

fn pod_list(pods: &[PodId]) -> String {
    pods.iter()
        .map(PodId::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Comparison {
    pub fn new(
        probe: Probe,
        expected: &TruthTable,
        observed: &ObservedTable,
    ) -> Result<Comparison, PodsDiffer> {
        if expected.pods() != observed.pods() {
            return Err(PodsDiffer {
                probe,
                expected: pod_list(expected.pods()),
                observed: pod_list(observed.pods()),
            });
        }
        let n = expected.pods().len();
        let mut cells = Vec::with_capacity(n * n);
        for from in 0..n {
            for to in 0..n {
                let seen = observed.get(from, to);
                let cell = match seen {
                    _ if from == to => Cell::Ignored,
                    Observed::Unsupported => Cell::Ignored,
                    // A probe that failed says nothing about the policy: it
                    // never passes, and never reads as a block.
                    Observed::Error(_) => Cell::Unknown,
                    _ if seen.reach() == Some(expected.get(from, to)) => Cell::Match,
                    _ => Cell::Mismatch,
                };
                cells.push(cell);
            }
        }
        Ok(Comparison {
            probe,
            expected: expected.clone(),
            observed: observed.clone(),
            cells,
        })
    }

    fn width(&self) -> usize {
        self.expected.pods().len()
    }

    /// Every cell, row by row.
    pub fn cells(&self) -> &[Cell] {
        &self.cells
    }

    pub fn cell(&self, from: usize, to: usize) -> Cell {
        self.cells[from * self.width() + to]
    }

    /// Whether every judged cell matched: no mismatch, no failed probe.
    pub fn matches(&self) -> bool {
        self.cells
            .iter()
            .all(|c| matches!(c, Cell::Match | Cell::Ignored))
    }

    /// Every differing cell (mismatches and failed probes), in table order.
    pub fn mismatches(&self) -> Vec<Mismatch> {
        let pods = self.expected.pods();
        let mut out = Vec::new();
        for from in 0..pods.len() {
            for to in 0..pods.len() {
                if matches!(self.cell(from, to), Cell::Mismatch | Cell::Unknown) {
                    out.push(Mismatch {
                        from: pods[from].clone(),
                        to: pods[to].clone(),
                        probe: self.probe,
                        expected: self.expected.get(from, to),
                        observed: self.observed.get(from, to).clone(),
                    });
                }
            }
        }
        out
    }

    /// `.` match, `X` mismatch, `!` the probe failed, `?` not judged, in the case-file grid.
    pub fn render_lines(&self) -> Vec<String> {
        render_grid(self.expected.pods(), |from, to| {
            self.cell(from, to).symbol().to_string()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Model, Protocol};

    #[test]
    fn differing_cells_are_marked_and_the_diagonal_is_not_judged() {
        let pods = Model::default().pod_ids();
        let mut expected = TruthTable::filled(pods.clone(), Reach::Allowed);
        expected.set(3, 0, Reach::Denied);
        expected.set(4, 4, Reach::Denied);
        let mut observed = ObservedTable::filled(pods, Observed::Connected);
        observed.set(1, 2, Observed::Timeout);
        let comparison =
            Comparison::new(Probe::new(Protocol::Tcp, 80), &expected, &observed).unwrap();
        assert!(!comparison.matches());
        let sentences: Vec<String> = comparison
            .mismatches()
            .iter()
            .map(|m| m.to_string())
            .collect();
        assert_eq!(
            sentences,
            [
                "x/b → x/c tcp/80: expected allowed, observed blocked (timeout)",
                "y/a → x/a tcp/80: expected blocked, observed connected",
            ]
        );
        insta::assert_snapshot!(comparison.render_lines().join("\n"), @r"
        -    x/a x/b x/c y/a y/b y/c z/a z/b z/c
        x/a  ?   .   .   .   .   .   .   .   .
        x/b  .   ?   X   .   .   .   .   .   .
        x/c  .   .   ?   .   .   .   .   .   .
        y/a  X   .   .   ?   .   .   .   .   .
        y/b  .   .   .   .   ?   .   .   .   .
        y/c  .   .   .   .   .   ?   .   .   .
        z/a  .   .   .   .   .   .   ?   .   .
        z/b  .   .   .   .   .   .   .   ?   .
        z/c  .   .   .   .   .   .   .   .   ?
        ");
    }

    #[test]
    fn a_failed_probe_never_passes_for_a_block() {
        let pods = Model::default().pod_ids();
        let expected = TruthTable::filled(pods.clone(), Reach::Denied);
        let mut observed = ObservedTable::filled(pods, Observed::Timeout);
        observed.set(0, 1, Observed::Error("probe agent failed".into()));
        let comparison =
            Comparison::new(Probe::new(Protocol::Tcp, 80), &expected, &observed).unwrap();
        assert!(!comparison.matches());
        let sentences: Vec<String> = comparison
            .mismatches()
            .iter()
            .map(|m| m.to_string())
            .collect();
        assert_eq!(
            sentences,
            ["x/a → x/b tcp/80: expected blocked, observed no answer (error: probe agent failed)"]
        );
        assert_eq!(comparison.cell(0, 1), Cell::Unknown);
        assert!(!comparison.mismatches()[0].is_observation());
        // Shown as what it is, in both grids: never `X`, so never pasted into a case as a block.
        assert_eq!(
            &comparison.observed.render_lines()[1][..13],
            "x/a  X   !   "
        );
        assert_eq!(&comparison.render_lines()[1][..13], "x/a  ?   !   ");
    }

    #[test]
    fn tables_over_other_pods_are_an_error_not_a_panic() {
        let pods = Model::default().pod_ids();
        let expected = TruthTable::filled(pods.clone(), Reach::Allowed);
        let mut reversed = pods.clone();
        reversed.reverse();
        let observed = ObservedTable::filled(reversed, Observed::Connected);
        let error = Comparison::new(Probe::new(Protocol::Tcp, 80), &expected, &observed)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("tcp/80: the backend observed pods z/c z/b"),
            "{error}"
        );
    }

    #[test]
    fn unsupported_cells_are_ignored_never_passed_or_failed() {
        let pods = Model::default().pod_ids();
        let expected = TruthTable::filled(pods.clone(), Reach::Denied);
        let observed = ObservedTable::filled(pods, Observed::Unsupported);
        let comparison =
            Comparison::new(Probe::new(Protocol::Sctp, 80), &expected, &observed).unwrap();
        assert!(comparison.matches());
        assert!(comparison.mismatches().is_empty());
        assert_eq!(comparison.cell(1, 0), Cell::Ignored);
    }
}
