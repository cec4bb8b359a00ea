//! A case back into a case file: for shrinking (every candidate is checked by
//! the real parser) and for printing the minimal case of a divergence, with
//! the oracle's expectation in the short rule form.

use std::collections::BTreeMap;

use super::rules::short_form;
use crate::case::{Action, Case};
use crate::generate::Yaml;
use crate::model::{Family, LabelChange, LabelTarget, Model, Probe};
use crate::truth::{Reach, TruthTable};

/// Keys in the order case files write them; others keep their place after these.
const KEY_ORDER: [&str; 27] = [
    "name",
    "description",
    "tags",
    "probes",
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "namespace",
    "podSelector",
    "namespaceSelector",
    "ipBlock",
    "policyTypes",
    "ingress",
    "egress",
    "from",
    "to",
    "ports",
    "protocol",
    "port",
    "endPort",
    "cidr",
    "except",
    "matchLabels",
    "matchExpressions",
    "key",
    "operator",
];

fn rank(key: &str) -> usize {
    KEY_ORDER
        .iter()
        .position(|k| *k == key)
        .unwrap_or(KEY_ORDER.len())
}

/// What each step of the written case expects.
pub enum Expectations<'a> {
    /// `expect: oracle`, as generated cases say.
    Oracle,
    /// These tables, one map per step, written in the short rule form.
    Tables(&'a [BTreeMap<Probe, TruthTable>]),
}

/// The case as a case file, named `name`.
pub fn document(
    case: &Case,
    name: &str,
    description: &str,
    expectations: &Expectations,
    model: &Model,
) -> Yaml {
    let mut top = vec![
        ("name", Yaml::str(name)),
        ("description", Yaml::str(description)),
    ];
    if !case.tags.is_empty() {
        top.push(("tags", Yaml::strs(case.tags.iter().cloned())));
    }
    top.push(("probes", Yaml::strs(case.probes.iter().map(|p| p.base()))));
    let steps = case
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let mut entries = actions(&step.actions);
            let expect = match expectations {
                Expectations::Oracle => Yaml::str(crate::generate::EXPECT_ORACLE),
                Expectations::Tables(tables) => expect(&tables[i], model),
            };
            entries.push(("expect".into(), expect));
            Yaml::Map(entries)
        })
        .collect();
    top.push(("steps", Yaml::Seq(steps)));
    Yaml::map(top)
}

/// A step's actions, grouped as the format writes them: apply, delete, label.
fn actions(actions: &[Action]) -> Vec<(String, Yaml)> {
    let (mut apply, mut delete, mut label) = (Vec::new(), Vec::new(), Vec::new());
    for action in actions {
        match action {
            Action::Apply(policy) => {
                let json = serde_json::to_value(policy.as_ref()).unwrap_or_default();
                apply.push(Yaml::from_json(&json, &rank));
            }
            Action::Delete { namespace, name } => delete.push(Yaml::map([
                ("kind", Yaml::str("NetworkPolicy")),
                ("namespace", Yaml::str(namespace.clone())),
                ("name", Yaml::str(name.clone())),
            ])),
            Action::Label(change) => label.push(label_change(change)),
        }
    }
    let mut entries = Vec::new();
    if !apply.is_empty() {
        entries.push(("apply".to_owned(), Yaml::Seq(apply)));
    }
    if !delete.is_empty() {
        entries.push(("delete".to_owned(), Yaml::Seq(delete)));
    }
    match label.len() {
        0 => {}
        1 => entries.push(("label".to_owned(), label.remove(0))),
        _ => entries.push(("label".to_owned(), Yaml::Seq(label))),
    }
    entries
}

fn label_change(change: &LabelChange) -> Yaml {
    let mut entries = vec![match &change.target {
        LabelTarget::Pod(pod) => ("pod", Yaml::str(pod.to_string())),
        LabelTarget::Namespace(ns) => ("namespace", Yaml::str(ns.clone())),
    }];
    if !change.set.is_empty() || change.remove.is_empty() {
        let set = change
            .set
            .iter()
            .map(|(k, v)| (k.clone(), Yaml::str(v.clone())));
        entries.push(("set", Yaml::Map(set.collect())));
    }
    if !change.remove.is_empty() {
        entries.push(("remove", Yaml::strs(change.remove.iter().cloned())));
    }
    Yaml::map(entries)
}

/// One step's tables (keys in either family) in the short form: one map
/// when every family's tables agree (or only one family was computed),
/// else one map under `ipv4` and one under `ipv6`.
fn expect(tables: &BTreeMap<Probe, TruthTable>, model: &Model) -> Yaml {
    let of = |family: Family| -> BTreeMap<Probe, &TruthTable> {
        tables
            .iter()
            .filter(|(p, _)| p.family == family)
            .map(|(p, t)| (p.in_family(Family::V4), t))
            .collect()
    };
    let (v4, v6) = (of(Family::V4), of(Family::V6));
    let agree = v4.len() == v6.len()
        && v4
            .iter()
            .zip(&v6)
            .all(|((p, a), (q, b))| p == q && a.agrees_with(b));
    if v4.is_empty() || v6.is_empty() || agree {
        let one = if v4.is_empty() { v6 } else { v4 };
        return family_map(&one, model);
    }
    Yaml::Map(vec![
        (Family::V4.name().to_owned(), family_map(&v4, model)),
        (Family::V6.name().to_owned(), family_map(&v6, model)),
    ])
}

/// One family's tables (keyed by the family-less probe): the most common
/// table under `all`, the others under their own `protocol/port`.
fn family_map(tables: &BTreeMap<Probe, &TruthTable>, model: &Model) -> Yaml {
    let mut distinct: Vec<(&TruthTable, Vec<Probe>)> = Vec::new();
    for (probe, &table) in tables {
        match distinct.iter_mut().find(|(t, _)| t.agrees_with(table)) {
            Some((_, probes)) => probes.push(*probe),
            None => distinct.push((table, vec![*probe])),
        }
    }
    distinct.sort_by_key(|(_, probes)| std::cmp::Reverse(probes.len()));
    let mut entries = Vec::new();
    for (i, (table, probes)) in distinct.iter().enumerate() {
        let form = rule_form(table, model);
        if i == 0 {
            entries.push(("all".to_owned(), form));
        } else {
            entries.extend(probes.iter().map(|p| (p.to_string(), form.clone())));
        }
    }
    Yaml::Map(entries)
}

fn rule_form(table: &TruthTable, model: &Model) -> Yaml {
    let (default, rules) = short_form(table, model);
    let default = match default {
        Reach::Allowed => "allow",
        Reach::Denied => "deny",
    };
    let mut entries = vec![("default", Yaml::str(default))];
    if !rules.is_empty() {
        let rules = rules.into_iter().map(|r| {
            Yaml::map([
                ("from", Yaml::str(r.from)),
                ("to", Yaml::str(r.to)),
                ("allow", Yaml::Bool(r.allow)),
            ])
        });
        entries.push(("rules", Yaml::Seq(rules.collect())));
    }
    Yaml::map(entries)
}
