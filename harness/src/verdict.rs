//! Comparing what was expected with what was observed, cell by cell.

use serde::{Deserialize, Serialize};

use crate::model::{PodId, Probe};
use crate::probe::{Observed, ObservedTable};
use crate::truth::{Reach, TruthTable, render_grid};

/// One compared cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    Match,
    Mismatch,
    /// The diagonal, or a cell the backend could not probe.
    Ignored,
}

impl Cell {
    pub fn symbol(self) -> char {
        match self {
            Cell::Match => '.',
            Cell::Mismatch => 'X',
            Cell::Ignored => '?',
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

/// One differing cell, phrased for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub from: PodId,
    pub to: PodId,
    pub probe: Probe,
    pub expected: Reach,
    pub observed: Observed,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let observed = match (&self.observed, self.observed.reach()) {
            (Observed::Error(_), _) => format!("no answer ({})", self.observed.detail()),
            (_, Some(Reach::Allowed)) => "connected".to_owned(),
            _ => format!("blocked ({})", self.observed.detail()),
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

impl Comparison {
    pub fn new(probe: Probe, expected: &TruthTable, observed: &ObservedTable) -> Comparison {
        assert_eq!(
            expected.pods(),
            observed.pods(),
            "tables over different pods"
        );
        let n = expected.pods().len();
        let mut cells = Vec::with_capacity(n * n);
        for from in 0..n {
            for to in 0..n {
                let seen = observed.get(from, to);
                let cell = match seen.reach() {
                    _ if from == to => Cell::Ignored,
                    None => Cell::Ignored,
                    // A probe that failed says nothing about the policy: it
                    // never passes for a block (a dead agent must not look enforced).
                    Some(_) if matches!(seen, Observed::Error(_)) => Cell::Mismatch,
                    Some(seen) if seen == expected.get(from, to) => Cell::Match,
                    Some(_) => Cell::Mismatch,
                };
                cells.push(cell);
            }
        }
        Comparison {
            probe,
            expected: expected.clone(),
            observed: observed.clone(),
            cells,
        }
    }

    fn width(&self) -> usize {
        self.expected.pods().len()
    }

    pub fn cell(&self, from: usize, to: usize) -> Cell {
        self.cells[from * self.width() + to]
    }

    pub fn matches(&self) -> bool {
        !self.cells.contains(&Cell::Mismatch)
    }

    /// Every differing cell, in table order.
    pub fn mismatches(&self) -> Vec<Mismatch> {
        let pods = self.expected.pods();
        let mut out = Vec::new();
        for from in 0..pods.len() {
            for to in 0..pods.len() {
                if self.cell(from, to) == Cell::Mismatch {
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

    /// `.` match, `X` mismatch, `?` not judged, in the case-file grid.
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
        let comparison = Comparison::new(Probe::new(Protocol::Tcp, 80), &expected, &observed);
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
        let comparison = Comparison::new(Probe::new(Protocol::Tcp, 80), &expected, &observed);
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
    }

    #[test]
    fn unsupported_cells_are_ignored_never_passed_or_failed() {
        let pods = Model::default().pod_ids();
        let expected = TruthTable::filled(pods.clone(), Reach::Denied);
        let observed = ObservedTable::filled(pods, Observed::Unsupported);
        let comparison = Comparison::new(Probe::new(Protocol::Sctp, 80), &expected, &observed);
        assert!(comparison.matches());
        assert!(comparison.mismatches().is_empty());
        assert_eq!(comparison.cell(1, 0), Cell::Ignored);
    }
}
