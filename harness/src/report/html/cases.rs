//! The cases of the page: filters, then one collapsible block per case with,
//! per run and step, the expected and observed grids.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::{VERDICTS, all_tags, escape};
use crate::report::json::{CaseRecord, DivergenceRecord, ProbeRecord, StepRecord};
use crate::report::runs::{Run, area};
use crate::verdict::Verdict;

pub(super) fn section(out: &mut String, runs: &[Run]) {
    // Cases in area order, each with its record in every run that has it.
    let mut cases: BTreeMap<(&str, &str), Vec<Option<&CaseRecord>>> = BTreeMap::new();
    for (column, run) in runs.iter().enumerate() {
        for case in &run.results.cases {
            cases
                .entry((area(&case.file), case.name.as_str()))
                .or_insert_with(|| vec![None; runs.len()])[column] = Some(case);
        }
    }
    filters(out, runs, cases.len());
    out.push_str("<div id=\"case-list\">\n");
    for ((area, name), records) in &cases {
        case(out, runs, area, name, records);
    }
    out.push_str("</div></section>\n");
}

fn filters(out: &mut String, runs: &[Run], count: usize) {
    let _ = write!(
        out,
        "<section id=\"cases\"><h2>Cases</h2>\n<form id=\"filters\" class=\"filters\">\
         <label>tag <select id=\"filter-tag\"><option value=\"\">any tag</option>"
    );
    for tag in all_tags(runs) {
        let tag = escape(tag);
        let _ = write!(out, "<option value=\"{tag}\">{tag}</option>");
    }
    out.push_str(
        "</select></label><fieldset id=\"filter-verdict\"><legend>verdict in any run</legend>",
    );
    for verdict in VERDICTS {
        let _ = write!(
            out,
            "<label><input type=\"checkbox\" name=\"verdict\" value=\"{0}\" checked> \
             <span class=\"v {0}\">{0}</span></label>",
            verdict.word()
        );
    }
    let _ = writeln!(
        out,
        "</fieldset><label>name <input type=\"search\" id=\"filter-name\" placeholder=\"part of a name\"></label>\
         <label><input type=\"checkbox\" id=\"filter-differs\"> runs disagree</label>\
         <button type=\"button\" id=\"open-all\">open all</button>\
         <button type=\"button\" id=\"close-all\">close all</button>\
         <output id=\"filter-count\">{count} of {count} cases</output></form>\n\
         <p class=\"legend\">Grids: rows are sources, columns destinations. \
         <span class=\"cell a\">.</span> connected/allowed \
         <span class=\"cell d\">X</span> blocked \
         <span class=\"cell d r\">X</span> blocked by a refusal \
         <span class=\"cell e\">!</span> the probe failed: nothing observed \
         <span class=\"cell n\">?</span> not judged \
         <span class=\"cell a m\">.</span> differs from the expectation. \
         Hover a cell for the probe's raw result.</p>"
    );
}

fn case(out: &mut String, runs: &[Run], area: &str, name: &str, records: &[Option<&CaseRecord>]) {
    let present: Vec<&CaseRecord> = records.iter().flatten().copied().collect();
    let tags: BTreeSet<&str> = present
        .iter()
        .flat_map(|c| c.tags.iter().map(String::as_str))
        .collect();
    let verdicts: BTreeSet<&str> = present.iter().map(|c| c.verdict.word()).collect();
    let differs = verdicts.len() > 1 || present.len() < runs.len();
    let _ = write!(
        out,
        "<details class=\"case\" id=\"case-{0}\" data-name=\"{0}\" data-tags=\"{1}\" \
         data-verdicts=\"{2}\" data-differs=\"{differs}\"><summary><span class=\"name\">{0}</span> \
         <span class=\"area\">{3}</span><span class=\"verdicts\">",
        escape(name),
        escape(&tags.iter().copied().collect::<Vec<_>>().join(" ")),
        verdicts.iter().copied().collect::<Vec<_>>().join(" "),
        escape(area),
    );
    for (run, record) in runs.iter().zip(records) {
        let word = record.map_or("absent", |c| c.verdict.word());
        let _ = write!(
            out,
            "<span class=\"v {word}\" title=\"{0}: {word}\">{0}</span>",
            escape(&run.label)
        );
    }
    out.push_str("</span><span class=\"tags\">");
    for tag in &tags {
        let _ = write!(
            out,
            "<a class=\"tag\" href=\"#cases\" data-filter-tag=\"{0}\">{0}</a>",
            escape(tag)
        );
    }
    let file = present.first().map_or("", |c| c.file.as_str());
    let _ = write!(
        out,
        "</span></summary>\n<div class=\"case-body\"><p class=\"file\"><code>{}</code></p><div class=\"case-runs\">\n",
        escape(file)
    );
    for (run, record) in runs.iter().zip(records) {
        let Some(record) = record else {
            let _ = writeln!(
                out,
                "<article class=\"case-run\"><h3>{} <span class=\"v absent\">absent</span></h3></article>",
                escape(&run.label)
            );
            continue;
        };
        case_run(out, &run.label, record);
    }
    out.push_str("</div></div></details>\n");
}

fn case_run(out: &mut String, label: &str, case: &CaseRecord) {
    let word = case.verdict.word();
    let _ = write!(
        out,
        "<article class=\"case-run\"><h3>{} <span class=\"v {word}\">{word}</span> \
         <span class=\"took\">{} ms</span></h3>",
        escape(label),
        case.duration_ms
    );
    // A case's reason is usually its failed step's: say it once, there.
    if let Some(reason) = &case.reason
        && !case.steps.iter().any(|s| s.reason.as_ref() == Some(reason))
    {
        let _ = write!(out, "<p class=\"reason\">{}</p>", escape(reason));
    }
    for step in &case.steps {
        step_block(out, step);
    }
    out.push_str("</article>\n");
}

fn step_block(out: &mut String, step: &StepRecord) {
    let word = step.verdict.word();
    let attempts = crate::words::counted(step.attempts, "attempt", "attempts");
    // The words of the report's time-to-enforce summary (`EnforceStats`): a
    // skipped step without a time was not run, it did not fail to enforce.
    let enforced = match step.time_to_enforce_ms {
        Some(ms) => format!("enforced in {ms} ms"),
        None if step.verdict == Verdict::Skipped => "not run".to_owned(),
        None => "never enforced".to_owned(),
    };
    let _ = write!(
        out,
        "<div class=\"step\"><h4>step {} <span class=\"v {word}\">{word}</span> \
         <span class=\"took\">{attempts} · {enforced}</span></h4>",
        step.index
    );
    if let Some(reason) = &step.reason {
        let _ = write!(out, "<p class=\"reason\">{}</p>", escape(reason));
    }
    let mut paths = vec![("", &step.probes)];
    if let Some(service) = &step.service_probes {
        paths = vec![(" by pod IP", &step.probes), (" by Service", service)];
    }
    for (path, probes) in paths {
        // Probes with the same expectation and the same raw results show once.
        let mut groups: Vec<(Vec<String>, &ProbeRecord)> = Vec::new();
        for (probe, record) in probes {
            let name = format!("{probe}{path}");
            match groups
                .iter_mut()
                .find(|(_, r)| r.expected == record.expected && r.raw == record.raw)
            {
                Some((names, _)) => names.push(name),
                None => groups.push((vec![name], record)),
            }
        }
        out.push_str("<div class=\"probes\">");
        for (names, record) in groups {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            probe_group(out, &names, record);
        }
        out.push_str("</div>");
    }
    divergences(out, &step.divergences);
    out.push_str("</div>\n");
}

/// The cells where the pod-IP and Service paths disagreed in the final round.
fn divergences(out: &mut String, divergences: &[DivergenceRecord]) {
    if divergences.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<div class=\"divergences\"><p class=\"reason\">{} cells where the pod IP and the Service paths differ (final round):</p><ul>",
        divergences.len()
    );
    for d in divergences {
        let _ = write!(
            out,
            "<li><code>{} → {} {}</code>: pod IP {}, Service {}</li>",
            escape(&d.from),
            escape(&d.to),
            escape(&d.probe),
            escape(&d.pod),
            escape(&d.service)
        );
    }
    out.push_str("</ul></div>");
}

fn probe_group(out: &mut String, probes: &[&str], record: &ProbeRecord) {
    let names = probes.join(", ");
    let differing = record.mismatches.len();
    let each = if probes.len() > 1 { " on each" } else { "" };
    let note = match differing {
        0 => "as expected".to_owned(),
        1 => format!("1 cell differs{each}"),
        n => format!("{n} cells differ{each}"),
    };
    let class = if differing == 0 { "" } else { " differs" };
    let _ = write!(
        out,
        "<figure class=\"probe-group{class}\"><figcaption>{} · {note}</figcaption><div class=\"pair\">",
        escape(&names)
    );
    let Some(expected) = Grid::parse(&record.expected) else {
        let _ = write!(
            out,
            "<pre>{}</pre></div></figure>",
            escape(&record.expected.join("\n"))
        );
        return;
    };
    if differing > 0 {
        grid(out, "expected", &expected, None, &names);
    }
    let title = if differing == 0 {
        "expected = observed"
    } else {
        "observed"
    };
    grid(out, title, &expected, Some(&record.raw), &names);
    out.push_str("</div></figure>");
}

/// A rendered truth table read back: pod names and `.`/`X` cells.
struct Grid<'a> {
    pods: Vec<&'a str>,
    cells: Vec<Vec<&'a str>>,
}

impl<'a> Grid<'a> {
    fn parse(lines: &'a [String]) -> Option<Grid<'a>> {
        let (header, rows) = lines.split_first()?;
        let pods: Vec<&str> = header.split_whitespace().skip(1).collect();
        let cells: Vec<Vec<&str>> = rows
            .iter()
            .map(|row| row.split_whitespace().skip(1).collect())
            .collect();
        let square = cells.len() == pods.len() && cells.iter().all(|r| r.len() == pods.len());
        square.then_some(Grid { pods, cells })
    }
}

/// One grid: the expectation alone, or the observation (raw results given),
/// coloured by what was seen and outlined where it differs from `expected`.
fn grid(
    out: &mut String,
    title: &str,
    expected: &Grid,
    raw: Option<&Vec<Vec<String>>>,
    probes: &str,
) {
    let kind = if raw.is_some() {
        "observed"
    } else {
        "expected"
    };
    let _ = write!(
        out,
        "<div class=\"grid-box\"><div class=\"grid-title\">{title}</div><table class=\"grid {kind}\"><tr><th></th>"
    );
    for pod in &expected.pods {
        let _ = write!(out, "<th>{}</th>", escape(pod));
    }
    out.push_str("</tr>");
    for (from, row) in expected.cells.iter().enumerate() {
        let _ = write!(out, "<tr><th>{}</th>", escape(expected.pods[from]));
        for (to, want) in row.iter().enumerate() {
            let allowed = *want == ".";
            let Some(raw) = raw else {
                let class = if from == to {
                    "n"
                } else if allowed {
                    "a"
                } else {
                    "d"
                };
                let _ = write!(out, "<td class=\"{class}\">{want}</td>");
                continue;
            };
            let result = raw
                .get(from)
                .and_then(|r| r.get(to))
                .map_or("missing", String::as_str);
            let (class, symbol) = match result {
                "connected" => ("a", "."),
                "refused" => ("d r", "X"),
                "timeout" => ("d", "X"),
                "unsupported" => ("n", "?"),
                // An error (or a cell missing from the file) observed
                // nothing: never shown as a block.
                _ => ("e", "!"),
            };
            let judged = from != to && result != "unsupported";
            // A failed probe never matches the expectation, whatever it was.
            let differs = judged && (symbol == "!" || (symbol == ".") != allowed);
            let _ = write!(
                out,
                "<td class=\"{class}{}{}\" title=\"{} → {} {}: {}{}\">{symbol}</td>",
                if from == to { " self" } else { "" },
                if differs { " m" } else { "" },
                escape(expected.pods[from]),
                escape(expected.pods[to]),
                escape(probes),
                escape(result),
                match (judged, allowed) {
                    (false, _) => " (not judged)",
                    (true, true) => " (expected allowed)",
                    (true, false) => " (expected blocked)",
                }
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</table></div>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::runs::tests::step as record;

    fn step(verdict: Verdict, attempts: u32, time_to_enforce_ms: Option<u64>) -> String {
        let mut out = String::new();
        step_block(
            &mut out,
            &StepRecord {
                attempts,
                ..record(1, verdict, time_to_enforce_ms)
            },
        );
        out
    }

    #[test]
    fn a_step_says_how_long_it_took_and_a_skipped_one_without_a_time_was_not_run() {
        assert!(step(Verdict::Passed, 2, Some(140)).contains("2 attempts · enforced in 140 ms"));
        assert!(step(Verdict::Failed, 1, None).contains("1 attempt · never enforced"));
        assert!(step(Verdict::Skipped, 0, None).contains("0 attempts · not run"));
    }
}
