//! Label maps and label selectors, checked as the API server checks them.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use super::decode;
use super::diagnostic::Sink;
use super::rules;
use super::yaml::Node;

const OPERATORS: [&str; 4] = ["In", "NotIn", "Exists", "DoesNotExist"];

/// A label map, with keys and values checked.
pub fn labels(sink: &mut Sink, node: &Node, path: &str) -> Option<BTreeMap<String, String>> {
    let entries = decode::string_map(sink, node, path)?;
    for (key, value, pos) in &entries {
        let key_path = super::diagnostic::field(path, &key.name);
        if let Err(reason) = rules::label_key(&key.name) {
            sink.report(key.pos, &key_path, reason);
        }
        if let Err(reason) = rules::label_value(value) {
            sink.report(*pos, &key_path, reason);
        }
    }
    Some(decode::into_btree(entries))
}

/// A label selector, as podSelector or namespaceSelector.
pub fn selector(sink: &mut Sink, node: &Node, path: &str) -> Option<LabelSelector> {
    let fields = decode::map(sink, node, path, &["matchLabels", "matchExpressions"])?;
    let match_labels = fields
        .get("matchLabels")
        .and_then(|n| labels(sink, n, &fields.path_of("matchLabels")));
    let match_expressions = fields.get("matchExpressions").and_then(|n| {
        let items = decode::list(sink, n, &fields.path_of("matchExpressions"))?;
        Some(
            items
                .into_iter()
                .filter_map(|(p, n)| requirement(sink, n, &p))
                .collect(),
        )
    });
    Some(LabelSelector {
        match_labels,
        match_expressions,
    })
}

fn requirement(sink: &mut Sink, node: &Node, path: &str) -> Option<LabelSelectorRequirement> {
    let fields = decode::map(sink, node, path, &["key", "operator", "values"])?;
    let key = decode::required(sink, &fields, "key").and_then(|n| {
        let path = fields.path_of("key");
        let key = decode::string(sink, n, &path)?;
        sink.check(n.pos, &path, rules::label_key(&key));
        Some(key)
    });
    let operator = decode::required(sink, &fields, "operator").and_then(|n| {
        let path = fields.path_of("operator");
        let operator = decode::string(sink, n, &path)?;
        if !OPERATORS.contains(&operator.as_str()) {
            sink.report(
                n.pos,
                &path,
                format!(
                    "unsupported operator `{operator}` (allowed: {})",
                    OPERATORS.join(", ")
                ),
            );
        }
        Some(operator)
    });
    let values_path = fields.path_of("values");
    let values = fields.get("values").and_then(|n| {
        let values = decode::strings(sink, n, &values_path)?;
        for (value, pos, item_path) in &values {
            if let Err(reason) = rules::label_value(value) {
                sink.report(*pos, item_path, reason);
            }
        }
        Some(values.into_iter().map(|(v, _, _)| v).collect::<Vec<_>>())
    });
    let count = values.as_ref().map_or(0, Vec::len);
    match operator.as_deref() {
        Some(op @ ("In" | "NotIn")) if count == 0 => sink.report(
            fields.get("values").map_or(fields.pos, |n| n.pos),
            &values_path,
            format!("values must be given when operator is {op}"),
        ),
        Some(op @ ("Exists" | "DoesNotExist")) if count > 0 => sink.report(
            fields.get("values").map_or(fields.pos, |n| n.pos),
            &values_path,
            format!("values may not be given when operator is {op}"),
        ),
        _ => {}
    }
    Some(LabelSelectorRequirement {
        key: key?,
        operator: operator?,
        values,
    })
}
