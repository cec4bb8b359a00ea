//! Expectations: both forms read into one full truth table per probed port
//! and address family. One map holds for both families; a map of exactly
//! `ipv4` and `ipv6` gives each family its own.

use std::collections::BTreeMap;

use super::decode;
use super::diagnostic::{Sink, field};
use super::yaml::{Node, Pos, Value};
use crate::model::{Family, Model, Probe};
use crate::truth::{self, Pattern, Reach, Rule, TruthTable};

/// The key that covers every probed port not listed on its own.
pub const ALL: &str = "all";

/// The value of `expect` that leaves the expectation to the oracle.
pub const ORACLE: &str = "oracle";

/// Whether `expect` is `oracle` (generated cases; `netpol run --differential`).
pub fn is_oracle(node: &Node) -> bool {
    matches!(&node.value, Value::Str(text) if text == ORACLE)
}

/// Reads `expect` for a case probing `probes`: every probed port gets a
/// table in each family (keys are the probes in that family).
pub fn decode(
    sink: &mut Sink,
    node: &Node,
    path: &str,
    probes: &[Probe],
    model: &Model,
) -> Option<BTreeMap<Probe, TruthTable>> {
    let Value::Map(entries) = &node.value else {
        return agnostic(sink, node, path, probes, model);
    };
    let is_family = |name: &str| Family::ALL.iter().any(|f| f.name() == name);
    if !entries.iter().any(|(key, _)| is_family(&key.name)) {
        let tables = agnostic(sink, node, path, probes, model)?;
        return Some(
            Family::ALL
                .iter()
                .flat_map(|&family| {
                    tables
                        .iter()
                        .map(move |(probe, table)| (probe.in_family(family), table.clone()))
                })
                .collect(),
        );
    }
    let before = sink.found.len();
    for (key, _) in entries.iter().filter(|(key, _)| !is_family(&key.name)) {
        sink.report(
            key.pos,
            &field(path, &key.name),
            format!(
                "`{}` beside `ipv4`/`ipv6`: an expectation is either one map of `protocol/port` or `all` (the same for both families), or exactly `ipv4` and `ipv6`, each such a map",
                key.name
            ),
        );
    }
    for family in Family::ALL {
        if !entries.iter().any(|(key, _)| key.name == family.name()) {
            sink.report(
                node.pos,
                path,
                format!(
                    "no `{}` beside the other family: give both `ipv4` and `ipv6`, or one map for both families",
                    family.name()
                ),
            );
        }
    }
    if sink.found.len() != before {
        return None;
    }
    let mut tables = BTreeMap::new();
    for (key, value) in entries {
        let family = if key.name == Family::V4.name() {
            Family::V4
        } else {
            Family::V6
        };
        let Some(one) = agnostic(sink, value, &field(path, &key.name), probes, model) else {
            continue;
        };
        tables.extend(
            one.into_iter()
                .map(|(probe, table)| (probe.in_family(family), table)),
        );
    }
    (sink.found.len() == before).then_some(tables)
}

/// Reads one family-agnostic map: `protocol/port` or `all` to expectations.
fn agnostic(
    sink: &mut Sink,
    node: &Node,
    path: &str,
    probes: &[Probe],
    model: &Model,
) -> Option<BTreeMap<Probe, TruthTable>> {
    let Value::Map(entries) = &node.value else {
        sink.report(
            node.pos,
            path,
            format!(
                "expected a mapping of `protocol/port` or `all` to expectations (or `ipv4` and `ipv6`, or `oracle`), found {}",
                node.value.kind()
            ),
        );
        return None;
    };
    let before = sink.found.len();
    let mut tables = BTreeMap::new();
    let mut all = None;
    for (key, value) in entries {
        let key_path = field(path, &key.name);
        let table = form(sink, value, &key_path, model);
        if key.name == ALL {
            all = table;
            continue;
        }
        match key.name.parse::<Probe>() {
            Ok(probe) if probes.contains(&probe) => {
                if let Some(table) = table {
                    tables.insert(probe, table);
                }
            }
            Ok(probe) => sink.report(
                key.pos,
                &key_path,
                format!(
                    "`{probe}` is not probed by this case (probes: {})",
                    list(probes)
                ),
            ),
            Err(reason) => sink.report(key.pos, &key_path, format!("{reason}; or use `all`")),
        }
    }
    for probe in probes {
        if !tables.contains_key(probe) {
            match &all {
                Some(table) => {
                    tables.insert(*probe, table.clone());
                }
                // A key whose table had errors was reported already.
                None if !entries
                    .iter()
                    .any(|(k, _)| k.name == ALL || k.name == probe.to_string()) =>
                {
                    sink.report(
                        node.pos,
                        path,
                        format!("no expectation for probed `{probe}` (add `{probe}:` or `all:`)"),
                    )
                }
                None => {}
            }
        }
    }
    (sink.found.len() == before).then_some(tables)
}

fn list(probes: &[Probe]) -> String {
    probes
        .iter()
        .map(Probe::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One expectation: a table string, or `{default, rules}`.
fn form(sink: &mut Sink, node: &Node, path: &str, model: &Model) -> Option<TruthTable> {
    match &node.value {
        Value::Str(text) => table(sink, node.pos, path, text, model),
        Value::Map(_) => rules(sink, node, path, model),
        other => {
            sink.report(
                node.pos,
                path,
                format!(
                    "expected a truth table or `{{default, rules}}`, found {}",
                    other.kind()
                ),
            );
            None
        }
    }
}

fn table(sink: &mut Sink, pos: Pos, path: &str, text: &str, model: &Model) -> Option<TruthTable> {
    match truth::parse(text, &model.pod_ids()) {
        Ok(table) => Some(table),
        Err(errors) => {
            // A block scalar's position is that of its first line.
            for error in errors {
                let line = pos.line + error.line as u32;
                sink.report(
                    Pos {
                        line,
                        column: pos.column,
                    },
                    path,
                    error.message,
                );
            }
            None
        }
    }
}

fn rules(sink: &mut Sink, node: &Node, path: &str, model: &Model) -> Option<TruthTable> {
    let fields = decode::map(sink, node, path, &["default", "rules"])?;
    let default = decode::required(sink, &fields, "default").and_then(|n| {
        let path = fields.path_of("default");
        match decode::string(sink, n, &path)?.as_str() {
            "allow" => Some(Reach::Allowed),
            "deny" => Some(Reach::Denied),
            other => {
                sink.report(
                    n.pos,
                    &path,
                    format!("unknown default `{other}` (allowed: allow, deny)"),
                );
                None
            }
        }
    });
    let mut parsed = Vec::new();
    if let Some(list) = fields
        .get("rules")
        .and_then(|n| decode::list(sink, n, &fields.path_of("rules")))
    {
        for (rule_path, rule) in list {
            let Some(rule) = decode::map(sink, rule, &rule_path, &["from", "to", "allow"]) else {
                continue;
            };
            let mut pattern = |name: &str| {
                let node = decode::required(sink, &rule, name)?;
                let path = rule.path_of(name);
                let text = decode::string(sink, node, &path)?;
                Pattern::parse(&text, model)
                    .map_err(|reason| sink.report(node.pos, &path, reason))
                    .ok()
            };
            let (from, to) = (pattern("from"), pattern("to"));
            let allow = decode::required(sink, &rule, "allow")
                .and_then(|n| decode::boolean(sink, n, &rule.path_of("allow")));
            if let (Some(from), Some(to), Some(allow)) = (from, to, allow) {
                parsed.push(Rule {
                    from,
                    to,
                    reach: Reach::from_allowed(allow),
                });
            }
        }
    }
    Some(truth::table_from_rules(&model.pod_ids(), default?, &parsed))
}
