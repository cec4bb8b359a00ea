//! Reading case files and folders.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::decode;
use super::diagnostic::{Diagnostic, Diagnostics, Sink};
use super::expect;
use super::step::{self, Present};
use super::yaml::{self, Pos};
use super::{Case, Expectation, Step};
use crate::model::{Model, Probe};

/// Larger files are refused before parsing: no case needs this much, and it
/// bounds the memory a hostile file can take.
pub const MAX_CASE_BYTES: u64 = 1024 * 1024;

const TOP_LEVEL: [&str; 7] = [
    "name",
    "description",
    "tags",
    "probes",
    "policies",
    "expect",
    "steps",
];

/// Every `.yaml`/`.yml` file under the given files and folders, sorted.
pub fn find_case_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Diagnostics> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut files, &mut problems);
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            problems.push(file_problem(path, "no such file or folder"));
        }
    }
    files.sort();
    files.dedup();
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(Diagnostics(problems))
    }
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, problems: &mut Vec<Diagnostic>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => {
            return problems.push(file_problem(dir, &format!("cannot read folder: {error}")));
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files, problems);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            files.push(path);
        }
    }
}

fn file_problem(path: &Path, message: &str) -> Diagnostic {
    Diagnostic {
        file: path.to_owned(),
        pos: Pos::UNKNOWN,
        path: String::new(),
        message: message.to_owned(),
    }
}

/// Loads every case under `paths`; all problems of all files are returned together,
/// and names must be unique.
pub fn load_paths(paths: &[PathBuf], model: &Model) -> Result<Vec<Case>, Diagnostics> {
    let files = find_case_files(paths)?;
    let mut cases = Vec::new();
    let mut problems = Vec::new();
    for file in &files {
        match load_file(file, model) {
            Ok(case) => cases.push(case),
            Err(Diagnostics(mut found)) => problems.append(&mut found),
        }
    }
    let mut first_file: BTreeMap<&str, &Path> = BTreeMap::new();
    for case in &cases {
        if let Some(other) = first_file.insert(&case.name, &case.file) {
            problems.push(file_problem(
                &case.file,
                &format!(
                    "case name `{}` is also used by {}",
                    case.name,
                    other.display()
                ),
            ));
        }
    }
    if problems.is_empty() {
        Ok(cases)
    } else {
        Err(Diagnostics(problems))
    }
}

/// Loads one case file.
pub fn load_file(file: &Path, model: &Model) -> Result<Case, Diagnostics> {
    let too_big = |size: u64| {
        Diagnostics(vec![file_problem(
            file,
            &format!("file is {size} bytes; a case may have at most {MAX_CASE_BYTES}"),
        )])
    };
    let size = std::fs::metadata(file)
        .map_err(|e| Diagnostics(vec![file_problem(file, &format!("cannot read: {e}"))]))?
        .len();
    if size > MAX_CASE_BYTES {
        return Err(too_big(size));
    }
    let bytes = std::fs::read(file)
        .map_err(|e| Diagnostics(vec![file_problem(file, &format!("cannot read: {e}"))]))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Diagnostics(vec![file_problem(
            file,
            &format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )])
    })?;
    parse_case(&text, file, model)
}

/// Parses and validates one case from its text; `file` names it in messages and
/// its stem must equal the case name.
pub fn parse_case(text: &str, file: &Path, model: &Model) -> Result<Case, Diagnostics> {
    let mut sink = Sink::new(file);
    let root = match yaml::parse(text) {
        Ok(root) => root,
        Err(error) => {
            sink.report(error.pos, "", format!("invalid YAML: {}", error.message));
            return Err(Diagnostics(sink.found));
        }
    };
    let case = decode_case(&mut sink, &root, file, model);
    match case {
        Some(case) if sink.is_clean() => Ok(case),
        _ => Err(Diagnostics(sink.found)),
    }
}

fn decode_case(sink: &mut Sink, root: &yaml::Node, file: &Path, model: &Model) -> Option<Case> {
    let fields = decode::map(sink, root, "", &TOP_LEVEL)?;
    let name = decode::required(sink, &fields, "name").and_then(|n| {
        let name = decode::string(sink, n, "name")?;
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            sink.report(
                n.pos,
                "name",
                format!("case name `{name}` may hold only a-z, 0-9 and `-`"),
            );
        } else if name != stem {
            sink.report(
                n.pos,
                "name",
                format!("case name `{name}` must equal the file name `{stem}`"),
            );
        }
        Some(name)
    });
    let description = fields
        .get("description")
        .and_then(|n| decode::string(sink, n, "description"));
    let tags = fields
        .get("tags")
        .and_then(|n| decode::strings(sink, n, "tags"))
        .map(|tags| tags.into_iter().map(|(t, _, _)| t).collect())
        .unwrap_or_default();
    let probes = match fields.get("probes") {
        Some(node) => probes(sink, node, model)?,
        None => Probe::DEFAULTS.to_vec(),
    };
    let steps = match (
        fields.get("policies"),
        fields.get("expect"),
        fields.get("steps"),
    ) {
        (_, _, Some(steps_node)) if fields.has("policies") || fields.has("expect") => {
            sink.report(
                steps_node.pos,
                "steps",
                "a case has either `policies` and `expect`, or `steps`, not both",
            );
            return None;
        }
        (_, _, Some(steps_node)) => steps(sink, steps_node, &probes, model),
        (policies, Some(expect_node), None) => {
            let mut present = Present::default();
            let actions = policies
                .map(|n| step::apply(sink, n, "policies", model, &mut present))
                .unwrap_or_default();
            let expect = if expect::is_oracle(expect_node) {
                Expectation::Oracle
            } else {
                Expectation::Tables(expect::decode(sink, expect_node, "expect", &probes, model)?)
            };
            vec![Step {
                line: root.pos.line,
                actions,
                expect,
            }]
        }
        (_, None, None) => {
            sink.report(root.pos, "", "missing `expect` (or `steps`)");
            return None;
        }
    };
    Some(Case {
        name: name?,
        description: description.unwrap_or_default(),
        tags,
        file: file.to_owned(),
        probes,
        steps,
    })
}

fn probes(sink: &mut Sink, node: &yaml::Node, model: &Model) -> Option<Vec<Probe>> {
    let mut out = Vec::new();
    for (text, pos, path) in decode::strings(sink, node, "probes")? {
        match text.parse::<Probe>() {
            Ok(probe) if out.contains(&probe) => sink.report(pos, &path, format!("`{probe}` is listed twice")),
            Ok(probe) if !model.serves(probe) => sink.report(
                pos,
                &path,
                format!("`{probe}` is not served by the model's pods (they serve ports 80 and 81 on tcp, udp and sctp)"),
            ),
            Ok(probe) => out.push(probe),
            Err(reason) => sink.report(pos, &path, reason),
        }
    }
    if out.is_empty() && sink.is_clean() {
        sink.report(
            node.pos,
            "probes",
            "a case probes at least one `protocol/port`",
        );
    }
    Some(out)
}

fn steps(sink: &mut Sink, node: &yaml::Node, probes: &[Probe], model: &Model) -> Vec<Step> {
    let mut present = Present::default();
    let mut out = Vec::new();
    let items = decode::list(sink, node, "steps").unwrap_or_default();
    if items.is_empty() {
        sink.report(node.pos, "steps", "a case has at least one step");
    }
    for (path, item) in items {
        let Some(fields) = decode::map(sink, item, &path, &["apply", "delete", "label", "expect"])
        else {
            continue;
        };
        let mut actions = Vec::new();
        if let Some(n) = fields.get("apply") {
            actions.extend(step::apply(
                sink,
                n,
                &fields.path_of("apply"),
                model,
                &mut present,
            ));
        }
        if let Some(n) = fields.get("delete") {
            actions.extend(step::delete(
                sink,
                n,
                &fields.path_of("delete"),
                &mut present,
            ));
        }
        if let Some(n) = fields.get("label") {
            actions.extend(step::label(sink, n, &fields.path_of("label"), model));
        }
        let expect = decode::required(sink, &fields, "expect").and_then(|n| {
            if expect::is_oracle(n) {
                return Some(Expectation::Oracle);
            }
            expect::decode(sink, n, &fields.path_of("expect"), probes, model)
                .map(Expectation::Tables)
        });
        if let Some(expect) = expect {
            out.push(Step {
                line: item.pos.line,
                actions,
                expect,
            });
        }
    }
    out
}
