//! Terminal output: progress while working, failures in case-file syntax, the
//! closing summary line.

use std::fmt::Write as _;
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use crate::verdict::CaseResult;
use crate::verdict::Comparison;
use crate::verdict::Verdict;

/// A progress bar on a terminal, nothing otherwise (CI logs stay clean).
pub fn progress(cases: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(cases as u64);
    let style = ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar
}

/// A divergence of `netpol run --differential`, shrunk: how the minimal
/// case failed, then the minimal case file itself.
pub fn divergence(
    case: &str,
    failure: &CaseResult,
    yaml: &str,
    runs: usize,
    took: std::time::Duration,
) -> String {
    format!(
        "DIVERGENCE {case}: shrunk in {runs} runs ({:.1} s) to the case below\n{}\
         --- minimal case (expectation from the oracle; decide which side is wrong, then add it under cases/):\n{yaml}---\n",
        took.as_secs_f64(),
        failure_limited(failure, None),
    )
}

/// A failed case as people read it: which cells differ, then expected,
/// observed and the comparison, each pasteable into a case.
pub fn failure(case: &CaseResult) -> String {
    failure_limited(case, None)
}

/// [`failure`], listing at most `limit` differing cells per probe (the
/// tables show them all anyway).
pub fn failure_limited(case: &CaseResult, limit: Option<usize>) -> String {
    let mut out = String::new();
    let reason = case.reason.as_deref().unwrap_or("failed");
    let _ = writeln!(out, "FAILED {} ({}): {reason}", case.name, case.file);
    let failed = |s: &&crate::verdict::StepResult| {
        matches!(s.verdict, Verdict::Failed | Verdict::ExpectedFailure)
    };
    for step in case.steps.iter().filter(failed) {
        // Probes that differ in the same way print once, under all their
        // names; the Service path's apart from the pod IPs' (`--probe-via both`).
        let mut groups: Vec<(Vec<String>, &Comparison)> = Vec::new();
        let paths = step.paths();
        let both = paths.len() > 1;
        for (path, comparisons) in paths {
            let mut path_groups: Vec<(Vec<String>, &Comparison)> = Vec::new();
            let suffix = match (path, both) {
                (Some(name), _) => format!(" by {name}"),
                (None, true) => " by pod IP".to_owned(),
                (None, false) => String::new(),
            };
            for (probe, comparison) in comparisons.iter().filter(|(_, c)| !c.matches()) {
                let same = |(_, c): &&mut (Vec<String>, &Comparison)| {
                    c.expected == comparison.expected
                        && c.observed.render_lines() == comparison.observed.render_lines()
                };
                let name = format!("{probe}{suffix}");
                match path_groups.iter_mut().find(|g| same(g)) {
                    Some((names, _)) => names.push(name),
                    None => path_groups.push((vec![name], comparison)),
                }
            }
            groups.extend(path_groups);
        }
        if !step.divergences.is_empty() {
            let _ = writeln!(
                out,
                "  step {}: {} cells where the pod IP and the Service paths differ (final round):",
                step.index,
                step.divergences.len()
            );
            let shown = limit.unwrap_or(usize::MAX).min(step.divergences.len());
            for divergence in &step.divergences[..shown] {
                let _ = writeln!(out, "    {divergence}");
            }
            if shown < step.divergences.len() {
                let more = step.divergences.len() - shown;
                let _ = writeln!(out, "    … and {more} more cells (--verbose lists all)");
            }
        }
        if groups.is_empty() {
            let _ = writeln!(
                out,
                "  step {}: {}",
                step.index,
                step.reason.as_deref().unwrap_or("failed")
            );
        }
        for (names, comparison) in groups {
            let _ = writeln!(out, "  step {} {}:", step.index, names.join(", "));
            let mismatches = comparison.mismatches();
            let shown = limit.unwrap_or(usize::MAX).min(mismatches.len());
            for mismatch in &mismatches[..shown] {
                let _ = writeln!(out, "    {mismatch}");
            }
            if shown < mismatches.len() {
                let more = mismatches.len() - shown;
                let _ = writeln!(out, "    … and {more} more cells (--verbose lists all)");
            }
            let blocks = [
                ("expected", comparison.expected.render_lines()),
                ("observed", comparison.observed.render_lines()),
                (
                    "diff (. match, X differs, ! the probe failed, ? not judged)",
                    comparison.render_lines(),
                ),
            ];
            for (title, lines) in blocks {
                let _ = writeln!(out, "    {title}:");
                for line in lines {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
    }
    out
}
