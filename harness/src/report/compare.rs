//! `netpol compare`: runs side by side, in the terminal (comfy-table) or as
//! Markdown for a CI job summary. Three sections: cases × runs, the support
//! matrix (features × runs), time to enforce per run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;

use comfy_table::{Cell, CellAlignment, Color, ContentArrangement, Table, presets};

use crate::report::features::{FEATURES, Support};
use crate::report::runs::{EnforceStats, Run, area};
use crate::verdict::Verdict;

/// What a cell of the cases table says when a run lacks the case.
const ABSENT: &str = "—";

/// Everything the comparison shows, computed once for both renderings.
struct Comparison<'a> {
    runs: &'a [Run],
    /// `(area, case)` → verdict per run.
    cases: BTreeMap<(String, String), Vec<Option<Verdict>>>,
    /// Feature name and tags → support per run, in [`FEATURES`] order.
    support: Vec<(&'static str, String, Vec<Support>)>,
}

impl<'a> Comparison<'a> {
    fn new(runs: &'a [Run]) -> Comparison<'a> {
        let mut cases: BTreeMap<(String, String), Vec<Option<Verdict>>> = BTreeMap::new();
        for (column, run) in runs.iter().enumerate() {
            for case in &run.results.cases {
                let key = (area(&case.file).to_owned(), case.name.clone());
                cases.entry(key).or_insert_with(|| vec![None; runs.len()])[column] =
                    Some(case.verdict);
            }
        }
        let support = FEATURES
            .iter()
            .map(|f| {
                let per_run = runs
                    .iter()
                    .map(|r| Support::of(f, &r.results.cases))
                    .collect();
                (f.name, f.tags.join(", "), per_run)
            })
            .filter(|(_, _, per_run): &(_, _, Vec<Support>)| {
                per_run.iter().any(|s| *s != Support::NoCases)
            })
            .collect();
        Comparison {
            runs,
            cases,
            support,
        }
    }

    fn labels(&self) -> impl Iterator<Item = &str> {
        self.runs.iter().map(|r| r.label.as_str())
    }

    /// Run, file, commit, start and verdict counts.
    fn run_rows(&self) -> Vec<Vec<String>> {
        self.runs
            .iter()
            .map(|run| {
                let r = &run.results;
                let s = &r.summary;
                vec![
                    run.label.clone(),
                    run.path.display().to_string(),
                    r.tool.git.clone().unwrap_or_else(|| ABSENT.into()),
                    r.started_at.clone(),
                    s.passed.to_string(),
                    s.failed.to_string(),
                    s.skipped.to_string(),
                    s.expected_failures.to_string(),
                ]
            })
            .collect()
    }

    fn enforce_rows(&self) -> Vec<Vec<String>> {
        self.runs
            .iter()
            .map(|run| {
                let stats = EnforceStats::of(&run.results.cases);
                match (&stats.spread, stats.slowest()) {
                    (Some(spread), Some(slowest)) => vec![
                        run.label.clone(),
                        stats.steps().to_string(),
                        format!("{} ms", spread.p50_ms),
                        format!("{} ms", spread.max_ms),
                        slowest.step.clone(),
                    ],
                    _ => vec![
                        run.label.clone(),
                        "0".into(),
                        ABSENT.into(),
                        ABSENT.into(),
                        ABSENT.into(),
                    ],
                }
            })
            .collect()
    }
}

const RUN_HEADER: [&str; 8] = [
    "run",
    "file",
    "git",
    "started",
    "passed",
    "failed",
    "skipped",
    "expected failures",
];
const ENFORCE_HEADER: [&str; 5] = ["run", "steps", "p50", "max", "slowest step"];
const SUPPORT_LEGEND: &str = "supported: every case of the feature passed; partial: some failed; \
     unsupported: all failed; untested: all skipped. Expected failures count as failing.";

fn word(verdict: Option<Verdict>) -> &'static str {
    verdict.map_or(ABSENT, Verdict::word)
}

/// The comparison as Markdown (GitHub flavour), for a CI job summary.
pub fn markdown(runs: &[Run]) -> String {
    let c = Comparison::new(runs);
    let mut out = String::from("# netpol comparison\n\n");
    md_table(&mut out, &RUN_HEADER.map(String::from), &c.run_rows(), 4..8);

    let _ = writeln!(out, "\n## Cases\n");
    let mut header = vec!["area".to_owned(), "case".to_owned()];
    header.extend(c.labels().map(String::from));
    let rows: Vec<Vec<String>> = c
        .cases
        .iter()
        .map(|((area, name), verdicts)| {
            let mut row = vec![area.clone(), format!("`{name}`")];
            row.extend(verdicts.iter().map(|v| word(*v).to_owned()));
            row
        })
        .collect();
    md_table(&mut out, &header, &rows, 0..0);

    let _ = writeln!(out, "\n## Support matrix\n\n{SUPPORT_LEGEND}\n");
    let mut header = vec!["feature".to_owned(), "tags".to_owned()];
    header.extend(c.labels().map(String::from));
    let rows: Vec<Vec<String>> = c
        .support
        .iter()
        .map(|(name, tags, per_run)| {
            let mut row = vec![name.to_string(), tags.clone()];
            row.extend(per_run.iter().map(Support::to_string));
            row
        })
        .collect();
    md_table(&mut out, &header, &rows, 0..0);

    let _ = writeln!(out, "\n## Time to enforce\n");
    md_table(
        &mut out,
        &ENFORCE_HEADER.map(String::from),
        &c.enforce_rows(),
        1..4,
    );
    out
}

/// A Markdown table; the `numbers` columns are right-aligned.
fn md_table(out: &mut String, header: &[String], rows: &[Vec<String>], numbers: Range<usize>) {
    let escape = |text: &str| text.replace('|', "\\|");
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    out.push_str(&line(header.iter().map(|h| escape(h)).collect()));
    out.push_str(&line(
        (0..header.len())
            .map(|i| if numbers.contains(&i) { "---:" } else { "---" }.to_owned())
            .collect(),
    ));
    for row in rows {
        out.push_str(&line(row.iter().map(|c| escape(c)).collect()));
    }
}

/// The comparison for a terminal; `styled` colours verdicts and fits the
/// tables to the terminal's width.
pub fn terminal(runs: &[Run], styled: bool) -> String {
    let c = Comparison::new(runs);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "runs\n{}",
        table(styled, &RUN_HEADER, c.run_rows(), 4..8)
    );

    let mut header = vec!["area", "case"];
    header.extend(c.labels());
    let mut cases = new_table(styled, &header);
    for ((area, name), verdicts) in &c.cases {
        let mut row = vec![Cell::new(area), Cell::new(name)];
        row.extend(verdicts.iter().map(|v| verdict_cell(*v)));
        cases.add_row(row);
    }
    let _ = writeln!(out, "\ncases\n{cases}");

    let mut header = vec!["feature", "tags"];
    header.extend(c.labels());
    let mut support = new_table(styled, &header);
    for (name, tags, per_run) in &c.support {
        let mut row = vec![Cell::new(name), Cell::new(tags)];
        row.extend(per_run.iter().map(support_cell));
        support.add_row(row);
    }
    let _ = writeln!(out, "\nsupport matrix\n{support}\n{SUPPORT_LEGEND}");

    let enforce = table(styled, &ENFORCE_HEADER, c.enforce_rows(), 1..4);
    let _ = writeln!(out, "\ntime to enforce\n{enforce}");
    out
}

fn new_table(styled: bool, header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_header(header.to_vec());
    if styled {
        table
            .enforce_styling()
            .set_content_arrangement(ContentArrangement::Dynamic);
    } else {
        table.force_no_tty();
    }
    table
}

fn table(styled: bool, header: &[&str], rows: Vec<Vec<String>>, numbers: Range<usize>) -> Table {
    let mut table = new_table(styled, header);
    table.add_rows(rows);
    for (i, column) in table.column_iter_mut().enumerate() {
        if numbers.contains(&i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

fn verdict_cell(verdict: Option<Verdict>) -> Cell {
    let color = match verdict {
        Some(Verdict::Passed) => Color::Green,
        Some(Verdict::Failed) => Color::Red,
        Some(Verdict::ExpectedFailure) => Color::Magenta,
        Some(Verdict::Skipped) => Color::Yellow,
        None => Color::DarkGrey,
    };
    Cell::new(word(verdict)).fg(color)
}

fn support_cell(support: &Support) -> Cell {
    let color = match support {
        Support::Supported { .. } => Color::Green,
        Support::Partial { .. } => Color::Yellow,
        Support::Unsupported { .. } => Color::Red,
        Support::Untested { .. } | Support::NoCases => Color::DarkGrey,
    };
    Cell::new(support).fg(color)
}
