//! Truth tables: who may reach whom on one probed `protocol/port`.
//!
//! Tables print exactly as case files write them, so a printed failure can be
//! pasted into a case.

mod parse;
mod pattern;

pub use parse::{TableError, parse};
pub use pattern::{Pattern, Rule, table_from_rules};

use crate::model::PodId;

/// What a case expects of one cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reach {
    Allowed,
    Denied,
}

impl Reach {
    pub fn from_allowed(allowed: bool) -> Reach {
        if allowed {
            Reach::Allowed
        } else {
            Reach::Denied
        }
    }

    /// The cell's character in a case file: `.` reaches, `X` does not.
    pub fn symbol(self) -> char {
        match self {
            Reach::Allowed => '.',
            Reach::Denied => 'X',
        }
    }

    /// The word used in mismatch sentences.
    pub fn word(self) -> &'static str {
        match self {
            Reach::Allowed => "allowed",
            Reach::Denied => "blocked",
        }
    }
}

/// A square table over the model's pods: rows are sources, columns destinations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TruthTable {
    pods: Vec<PodId>,
    cells: Vec<Reach>,
}

impl TruthTable {
    pub fn filled(pods: Vec<PodId>, value: Reach) -> TruthTable {
        let cells = vec![value; pods.len() * pods.len()];
        TruthTable { pods, cells }
    }

    pub fn pods(&self) -> &[PodId] {
        &self.pods
    }

    pub fn get(&self, from: usize, to: usize) -> Reach {
        self.cells[from * self.pods.len() + to]
    }

    pub fn set(&mut self, from: usize, to: usize, value: Reach) {
        let width = self.pods.len();
        self.cells[from * width + to] = value;
    }

    /// Equality with the diagonal ignored, as verdicts judge tables.
    pub fn agrees_with(&self, other: &TruthTable) -> bool {
        self.pods == other.pods
            && (0..self.pods.len()).all(|from| {
                (0..self.pods.len())
                    .all(|to| from == to || self.get(from, to) == other.get(from, to))
            })
    }

    /// The table in case-file syntax, one string per line (header first).
    pub fn render_lines(&self) -> Vec<String> {
        render_grid(&self.pods, |from, to| {
            self.get(from, to).symbol().to_string()
        })
    }

    pub fn render(&self) -> String {
        let mut text = self.render_lines().join("\n");
        text.push('\n');
        text
    }
}

/// Lays out any per-cell text in the case-file grid: a `-` corner, pod names as
/// header and row labels, columns one wider than the longest name.
pub fn render_grid(pods: &[PodId], cell: impl Fn(usize, usize) -> String) -> Vec<String> {
    let names: Vec<String> = pods.iter().map(PodId::to_string).collect();
    let width = names.iter().map(String::len).max().unwrap_or(1);
    let line = |label: &str, cells: Vec<String>| {
        let mut text = format!("{label:<w$}", w = width + 2);
        for value in cells {
            text.push_str(&format!("{value:<w$}", w = width + 1));
        }
        text.trim_end().to_owned()
    };
    let mut lines = vec![line("-", names.clone())];
    for (from, name) in names.iter().enumerate() {
        lines.push(line(
            name,
            (0..pods.len()).map(|to| cell(from, to)).collect(),
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Model;

    #[test]
    fn a_table_renders_in_the_case_file_syntax() {
        let pods = Model::default().pod_ids();
        let mut table = TruthTable::filled(pods, Reach::Allowed);
        table.set(3, 0, Reach::Denied);
        insta::assert_snapshot!(table.render(), @r"
        -    x/a x/b x/c y/a y/b y/c z/a z/b z/c
        x/a  .   .   .   .   .   .   .   .   .
        x/b  .   .   .   .   .   .   .   .   .
        x/c  .   .   .   .   .   .   .   .   .
        y/a  X   .   .   .   .   .   .   .   .
        y/b  .   .   .   .   .   .   .   .   .
        y/c  .   .   .   .   .   .   .   .   .
        z/a  .   .   .   .   .   .   .   .   .
        z/b  .   .   .   .   .   .   .   .   .
        z/c  .   .   .   .   .   .   .   .   .
        ");
    }

    #[test]
    fn parsing_a_rendered_table_gives_it_back_for_every_single_cell_change() {
        let pods = Model::default().pod_ids();
        for from in 0..pods.len() {
            for to in 0..pods.len() {
                let mut table = TruthTable::filled(pods.clone(), Reach::Allowed);
                table.set(from, to, Reach::Denied);
                let parsed = parse(&table.render(), &pods).unwrap();
                assert_eq!(parsed, table);
            }
        }
    }

    #[test]
    fn the_diagonal_is_never_judged() {
        let pods = Model::default().pod_ids();
        let open = TruthTable::filled(pods.clone(), Reach::Allowed);
        let mut other = open.clone();
        other.set(4, 4, Reach::Denied);
        assert!(open.agrees_with(&other));
        other.set(4, 5, Reach::Denied);
        assert!(!open.agrees_with(&other));
    }
}
