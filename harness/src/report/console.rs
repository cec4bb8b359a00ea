//! What `netpol run` prints as cases finish and at the end, by verbosity:
//! `--quiet` one line per failure, the default the failure's cells and
//! tables, `--verbose` also every case as it finishes, every cell, and the
//! details of expected failures (by default only counted: the list of known
//! deviations already says what they are).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use comfy_table::{CellAlignment, Table, presets};

use crate::report::runs::area;
use crate::report::terminal;
use crate::verdict::CaseResult;
use crate::verdict::Verdict;

/// How many differing cells a failure lists by default (`--verbose`: all).
pub const CELLS_SHOWN: usize = 10;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    #[default]
    Normal,
    Verbose,
}

/// The text printed when `case` finishes (often nothing).
pub fn finished(case: &CaseResult, verbosity: Verbosity) -> String {
    let reason = case.reason.as_deref().unwrap_or(case.verdict.word());
    let limit = match verbosity {
        Verbosity::Verbose => None,
        _ => Some(CELLS_SHOWN),
    };
    match (case.verdict, verbosity) {
        (Verdict::Failed, Verbosity::Quiet) => format!("FAILED {}: {reason}\n", case.name),
        (Verdict::Failed, _) => terminal::failure_limited(case, limit),
        (Verdict::ExpectedFailure, Verbosity::Verbose) => {
            terminal::failure_limited(case, limit).replacen("FAILED", "EXPECTED FAILURE", 1)
        }
        (_, Verbosity::Verbose) => {
            let enforce: Vec<String> = case
                .steps
                .iter()
                .filter_map(|s| s.time_to_enforce.map(|t| format!("{} ms", t.as_millis())))
                .collect();
            let mut line = format!(
                "{} {} ({} ms",
                case.verdict.word(),
                case.name,
                case.duration.as_millis()
            );
            if !enforce.is_empty() {
                let _ = write!(line, "; enforced in {}", enforce.join(", "));
            }
            line.push(')');
            if let (Verdict::Skipped, Some(why)) = (case.verdict, &case.reason) {
                let _ = write!(line, ": {why}");
            }
            line + "\n"
        }
        _ => String::new(),
    }
}

/// One row per area (`cases/<area>/`): counts of each verdict, on one screen.
pub fn areas(cases: &[CaseResult]) -> String {
    let mut counts: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
    let column = |v: Verdict| match v {
        Verdict::Passed => 0,
        Verdict::Failed => 1,
        Verdict::Skipped => 2,
        Verdict::ExpectedFailure => 3,
    };
    for case in cases {
        counts.entry(area(&case.file)).or_default()[column(case.verdict)] += 1;
    }
    let with_expected = counts.values().any(|c| c[3] > 0);
    let mut header = vec!["area", "cases", "passed", "failed", "skipped"];
    if with_expected {
        header.push("expected failures");
    }
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .force_no_tty()
        .set_header(header.clone());
    for (area, c) in &counts {
        let mut row = vec![area.to_string(), c.iter().sum::<usize>().to_string()];
        row.extend(c[..3].iter().map(usize::to_string));
        if with_expected {
            row.push(c[3].to_string());
        }
        table.add_row(row);
    }
    for column in table.column_iter_mut().skip(1) {
        column.set_cell_alignment(CellAlignment::Right);
    }
    format!("{table}\n")
}
