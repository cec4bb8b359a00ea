//! `netpol report FILE... --html OUT`: one self-contained page (inline CSS
//! and JavaScript, a Content-Security-Policy that forbids every fetch):
//! summary, support matrix, time to enforce (a table, and every run's
//! distribution drawn as inline SVG on one time axis), then every case and
//! step with the expected and observed matrices as coloured grids,
//! filterable by tag, verdict and name.
//!
//! The page reads its initial filters from the query string
//! (`?tag=ip-block&verdict=failed,expected-failure&name=deny&differs=1`),
//! opens the cases of `?open=a,b`, and opens and scrolls to `#case-NAME`, so a
//! link can point at exactly what it is about.

mod cases;
mod distribution;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::report::features::{FEATURES, Support};
use crate::report::runs::{EnforceStats, Run};
use crate::verdict::Verdict;

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// Nothing may be fetched: styles and the script are inline, images none.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'";

/// Every verdict, in the order filters and bars list them.
pub const VERDICTS: [Verdict; 4] = [
    Verdict::Passed,
    Verdict::Failed,
    Verdict::ExpectedFailure,
    Verdict::Skipped,
];

#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}")]
pub struct HtmlError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// Writes [`page`] to `path`.
pub fn write(path: &Path, runs: &[Run]) -> Result<(), HtmlError> {
    std::fs::write(path, page(runs)).map_err(|source| HtmlError {
        path: path.to_owned(),
        source,
    })
}

/// The whole page.
pub fn page(runs: &[Run]) -> String {
    let labels: Vec<&str> = runs.iter().map(|r| r.label.as_str()).collect();
    let mut out = String::with_capacity(1 << 20);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>netpol report: {}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        escape(&labels.join(", "))
    );
    let _ = writeln!(
        out,
        "<header><h1>netpol report</h1><p>{} · netpol {}</p></header>\n<main>",
        escape(&labels.join(" · ")),
        env!("CARGO_PKG_VERSION")
    );
    summary(&mut out, runs);
    support(&mut out, runs);
    enforce(&mut out, runs);
    cases::section(&mut out, runs);
    let _ = write!(
        out,
        "</main>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n"
    );
    out
}

/// Text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn summary(out: &mut String, runs: &[Run]) {
    out.push_str(
        "<section id=\"summary\"><h2>Summary</h2>\n<table class=\"runs\"><thead><tr>\
         <th>run</th><th>verdicts</th><th>passed</th><th>failed</th><th>expected failures</th>\
         <th>skipped</th><th>duration</th><th>kernel</th><th>git</th><th>started</th><th>file</th>\
         </tr></thead><tbody>\n",
    );
    for run in runs {
        let r = &run.results;
        let s = &r.summary;
        let counts = [s.passed, s.failed, s.expected_failures, s.skipped];
        let total: usize = counts.iter().sum::<usize>().max(1);
        let mut bar = String::new();
        for (verdict, count) in VERDICTS.iter().zip(counts) {
            if count > 0 {
                let _ = write!(
                    bar,
                    "<span class=\"{0}\" style=\"width:{1:.2}%\" title=\"{2} {0}\"></span>",
                    verdict.word(),
                    count as f64 * 100.0 / total as f64,
                    count
                );
            }
        }
        let _ = writeln!(
            out,
            "<tr><th>{}</th><td><div class=\"bar\">{bar}</div></td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{:.1} s</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            escape(&run.label),
            s.passed,
            s.failed,
            s.expected_failures,
            s.skipped,
            r.duration_ms as f64 / 1000.0,
            escape(r.cluster.kernel.as_deref().unwrap_or("—")),
            escape(r.tool.git.as_deref().unwrap_or("—")),
            escape(&r.started_at),
            escape(&run.path.display().to_string()),
        );
    }
    out.push_str("</tbody></table></section>\n");
}

fn support(out: &mut String, runs: &[Run]) {
    out.push_str(
        "<section id=\"support\"><h2>Support matrix</h2>\n<p class=\"legend\">\
         <span class=\"s supported\">supported</span> every case of the feature passed · \
         <span class=\"s partial\">partial</span> some failed · \
         <span class=\"s unsupported\">unsupported</span> all failed · \
         <span class=\"s untested\">untested</span> all skipped. \
         Expected failures count as failing. Click a feature to filter the cases.</p>\n\
         <table class=\"support\"><thead><tr><th>feature</th><th>tags</th>",
    );
    for run in runs {
        let _ = write!(out, "<th>{}</th>", escape(&run.label));
    }
    out.push_str("</tr></thead><tbody>\n");
    for feature in FEATURES {
        let cells: Vec<Support> = runs
            .iter()
            .map(|r| Support::of(feature, &r.results.cases))
            .collect();
        if cells.iter().all(|s| *s == Support::NoCases) {
            continue;
        }
        let tag = feature.tags[0];
        let _ = write!(
            out,
            "<tr><th><a href=\"#cases\" data-filter-tag=\"{}\">{}</a></th><td>{}</td>",
            escape(tag),
            escape(feature.name),
            escape(&feature.tags.join(", "))
        );
        for cell in cells {
            let _ = write!(
                out,
                "<td class=\"s {}\">{}</td>",
                cell.class(),
                escape(&cell.to_string())
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></section>\n");
}

fn enforce(out: &mut String, runs: &[Run]) {
    out.push_str(
        "<section id=\"enforce\"><h2>Time to enforce</h2>\n<table class=\"runs\"><thead><tr>\
         <th>run</th><th>steps</th><th>p50</th><th>max</th><th>slowest step</th>\
         </tr></thead><tbody>\n",
    );
    let stats: Vec<EnforceStats> = runs
        .iter()
        .map(|r| EnforceStats::of(&r.results.cases))
        .collect();
    for (run, stats) in runs.iter().zip(&stats) {
        let row = match (&stats.spread, stats.slowest()) {
            (Some(s), Some(slowest)) => format!(
                "<td class=\"num\">{}</td><td class=\"num\">{} ms</td><td class=\"num\">{} ms</td><td>{}</td>",
                stats.steps(),
                s.p50_ms,
                s.max_ms,
                escape(&slowest.step)
            ),
            _ => "<td class=\"num\">0</td><td>—</td><td>—</td><td>—</td>".into(),
        };
        let _ = writeln!(out, "<tr><th>{}</th>{row}</tr>", escape(&run.label));
    }
    out.push_str(
        "</tbody></table>\n<p class=\"legend\">Every converged step is a dot; the box spans \
         the middle half (q1 to q3) with the median, the whiskers reach the fastest and the \
         slowest step. Hover a row for p50, p99 and max, a dot for its step. Steps that never \
         matched their expectation, or were not run, have no time and are only counted.</p>\n",
    );
    let rows: Vec<(&str, &EnforceStats)> =
        runs.iter().map(|r| r.label.as_str()).zip(&stats).collect();
    out.push_str(&distribution::svg(&rows));
    out.push_str("</section>\n");
}

/// Every tag of every run, sorted, for the tag filter.
fn all_tags(runs: &[Run]) -> BTreeSet<&str> {
    runs.iter()
        .flat_map(|r| r.results.cases.iter())
        .flat_map(|c| c.tags.iter().map(String::as_str))
        .collect()
}
