//! Reading the full table form of an expectation.

use super::{Reach, TruthTable};
use crate::model::PodId;

/// A problem in a table, at a line counted from the table's first line (0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableError {
    pub line: usize,
    pub message: String,
}

/// Parses a table whose rows and columns must be exactly `pods`, in any order.
/// Returns every problem found.
pub fn parse(text: &str, pods: &[PodId]) -> Result<TruthTable, Vec<TableError>> {
    let mut errors = Vec::new();
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((header_line, header)) = lines.next() else {
        return Err(vec![TableError {
            line: 0,
            message: "empty truth table".into(),
        }]);
    };
    let mut words = header.split_whitespace();
    if words.next() != Some("-") {
        errors.push(TableError {
            line: header_line,
            message: "a truth table's header starts with `-`, then the destination pods".into(),
        });
    }
    let columns = match pod_order(words, pods, "column", header_line) {
        Ok(columns) => columns,
        Err(mut problems) => {
            errors.append(&mut problems);
            return Err(errors);
        }
    };
    let mut table = TruthTable::filled(pods.to_vec(), Reach::Allowed);
    let mut seen_rows = vec![false; pods.len()];
    for (line, row) in lines {
        let mut words = row.split_whitespace();
        let label = words.next().unwrap_or_default();
        let Some(from) = pods.iter().position(|p| p.to_string() == label) else {
            errors.push(TableError {
                line,
                message: format!("unknown row `{label}` (rows are the pods {})", names(pods)),
            });
            continue;
        };
        if std::mem::replace(&mut seen_rows[from], true) {
            errors.push(TableError {
                line,
                message: format!("row `{label}` appears twice"),
            });
        }
        let cells: Vec<&str> = words.collect();
        if cells.len() != columns.len() {
            errors.push(TableError {
                line,
                message: format!(
                    "row `{label}` has {} cells, the header has {}",
                    cells.len(),
                    columns.len()
                ),
            });
            continue;
        }
        for (&to, cell) in columns.iter().zip(cells) {
            let value = match cell {
                "." => Reach::Allowed,
                "X" => Reach::Denied,
                "-" if from == to => Reach::Allowed,
                other => {
                    let allowed = if from == to {
                        "`.`, `X` or `-`"
                    } else {
                        "`.` or `X`"
                    };
                    errors.push(TableError {
                        line,
                        message: format!(
                            "cell {label} → {} is `{other}` (allowed: {allowed})",
                            pods[to]
                        ),
                    });
                    continue;
                }
            };
            table.set(from, to, value);
        }
    }
    for (pod, seen) in pods.iter().zip(&seen_rows) {
        if !seen {
            errors.push(TableError {
                line: header_line,
                message: format!("missing row `{pod}`"),
            });
        }
    }
    if errors.is_empty() {
        Ok(table)
    } else {
        Err(errors)
    }
}

/// The model index of each header word; every pod exactly once.
fn pod_order<'a>(
    words: impl Iterator<Item = &'a str>,
    pods: &[PodId],
    what: &str,
    line: usize,
) -> Result<Vec<usize>, Vec<TableError>> {
    let mut errors = Vec::new();
    let mut order = Vec::new();
    for word in words {
        match pods.iter().position(|p| p.to_string() == word) {
            Some(i) if order.contains(&i) => errors.push(TableError {
                line,
                message: format!("{what} `{word}` appears twice"),
            }),
            Some(i) => order.push(i),
            None => errors.push(TableError {
                line,
                message: format!(
                    "unknown {what} `{word}` ({what}s are the pods {})",
                    names(pods)
                ),
            }),
        }
    }
    for (i, pod) in pods.iter().enumerate() {
        if !order.contains(&i) {
            errors.push(TableError {
                line,
                message: format!("missing {what} `{pod}`"),
            });
        }
    }
    if errors.is_empty() {
        Ok(order)
    } else {
        Err(errors)
    }
}

fn names(pods: &[PodId]) -> String {
    match (pods.first(), pods.last()) {
        (Some(first), Some(last)) => format!("{first} … {last}"),
        _ => "none".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Model;

    fn pods() -> Vec<PodId> {
        Model::default().pod_ids()
    }

    #[test]
    fn columns_and_rows_may_come_in_any_order() {
        let text = "-   x/b x/a x/c y/a y/b y/c z/a z/b z/c\n\
                    x/b -   X   .   .   .   .   .   .   .\n\
                    x/a .   .   .   .   .   .   .   .   .\n\
                    x/c .   .   .   .   .   .   .   .   .\n\
                    y/a .   .   .   .   .   .   .   .   .\n\
                    y/b .   .   .   .   .   .   .   .   .\n\
                    y/c .   .   .   .   .   .   .   .   .\n\
                    z/a .   .   .   .   .   .   .   .   .\n\
                    z/b .   .   .   .   .   .   .   .   .\n\
                    z/c .   .   .   .   .   .   .   .   .\n";
        let table = parse(text, &pods()).unwrap();
        assert_eq!(table.get(1, 0), Reach::Denied);
        assert_eq!(table.get(0, 1), Reach::Allowed);
    }

    #[test]
    fn every_problem_of_a_table_is_reported_with_its_line() {
        let text = "-    x/a x/b x/c y/a y/b y/c z/a z/b z/c\n\
                    x/a  .   .   .   .   .   .   .   .   .\n\
                    x/b  .   O   .   .   .   .   .   .   .\n\
                    x/c  .   .   .   .   .   .   .   .   -\n\
                    y/a  .   .   .   .   .   .   .   .\n\
                    w/a  .   .   .   .   .   .   .   .   .\n";
        let errors = parse(text, &pods()).unwrap_err();
        let rendered: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.line, e.message))
            .collect();
        insta::assert_snapshot!(rendered.join("\n"), @r"
        2: cell x/b → x/b is `O` (allowed: `.`, `X` or `-`)
        3: cell x/c → z/c is `-` (allowed: `.` or `X`)
        4: row `y/a` has 8 cells, the header has 9
        5: unknown row `w/a` (rows are the pods x/a … z/c)
        0: missing row `y/b`
        0: missing row `y/c`
        0: missing row `z/a`
        0: missing row `z/b`
        0: missing row `z/c`
        ");
    }
}
