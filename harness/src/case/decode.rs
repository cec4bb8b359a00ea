//! Strict reading of the node tree: every unknown key and every wrong type is
//! reported, and reading goes on so that one run shows all problems of a file.

use std::collections::BTreeMap;

use super::diagnostic::{Sink, field, index};
use super::yaml::{Key, Node, Pos, Value};

/// The fields of one mapping, after unknown keys were reported.
pub struct Fields<'n> {
    pub pos: Pos,
    pub path: String,
    entries: &'n [(Key, Node)],
}

impl<'n> Fields<'n> {
    pub fn get(&self, name: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(_, v)| v)
    }

    /// The path of a field of this mapping.
    pub fn path_of(&self, name: &str) -> String {
        field(&self.path, name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Reads a mapping whose keys must be among `allowed`.
pub fn map<'n>(
    sink: &mut Sink,
    node: &'n Node,
    path: &str,
    allowed: &[&str],
) -> Option<Fields<'n>> {
    let Value::Map(entries) = &node.value else {
        sink.report(
            node.pos,
            path,
            format!("expected a mapping, found {}", node.value.kind()),
        );
        return None;
    };
    for (key, _) in entries {
        if !allowed.contains(&key.name.as_str()) {
            sink.report(
                key.pos,
                &field(path, &key.name),
                format!(
                    "unknown field `{}` (allowed: {})",
                    key.name,
                    allowed.join(", ")
                ),
            );
        }
    }
    Some(Fields {
        pos: node.pos,
        path: path.to_owned(),
        entries,
    })
}

/// Reads a mapping of string keys to strings (labels, `matchLabels`).
pub fn string_map(sink: &mut Sink, node: &Node, path: &str) -> Option<Vec<(Key, String, Pos)>> {
    let Value::Map(entries) = &node.value else {
        sink.report(
            node.pos,
            path,
            format!("expected a mapping, found {}", node.value.kind()),
        );
        return None;
    };
    let mut out = Vec::new();
    for (key, value) in entries {
        if let Some(text) = string(sink, value, &field(path, &key.name)) {
            out.push((key.clone(), text, value.pos));
        }
    }
    Some(out)
}

pub fn into_btree(entries: Vec<(Key, String, Pos)>) -> BTreeMap<String, String> {
    entries.into_iter().map(|(k, v, _)| (k.name, v)).collect()
}

/// A list; `null` is not accepted in its place.
pub fn list<'n>(sink: &mut Sink, node: &'n Node, path: &str) -> Option<Vec<(String, &'n Node)>> {
    let Value::Seq(items) = &node.value else {
        sink.report(
            node.pos,
            path,
            format!("expected a list, found {}", node.value.kind()),
        );
        return None;
    };
    Some(
        items
            .iter()
            .enumerate()
            .map(|(i, item)| (index(path, i), item))
            .collect(),
    )
}

pub fn string(sink: &mut Sink, node: &Node, path: &str) -> Option<String> {
    match &node.value {
        Value::Str(text) => Some(text.clone()),
        other => {
            sink.report(
                node.pos,
                path,
                format!("expected a string, found {}", other.kind()),
            );
            None
        }
    }
}

pub fn boolean(sink: &mut Sink, node: &Node, path: &str) -> Option<bool> {
    match &node.value {
        Value::Bool(flag) => Some(*flag),
        other => {
            sink.report(
                node.pos,
                path,
                format!("expected true or false, found {}", other.kind()),
            );
            None
        }
    }
}

/// A required field: reports its absence at the mapping.
pub fn required<'n>(sink: &mut Sink, fields: &Fields<'n>, name: &str) -> Option<&'n Node> {
    let node = fields.get(name);
    if node.is_none() {
        sink.report(
            fields.pos,
            &fields.path,
            format!("missing required field `{name}`"),
        );
    }
    node
}

/// A list of strings.
pub fn strings(sink: &mut Sink, node: &Node, path: &str) -> Option<Vec<(String, Pos, String)>> {
    let items = list(sink, node, path)?;
    let mut out = Vec::new();
    for (item_path, item) in items {
        if let Some(text) = string(sink, item, &item_path) {
            out.push((text, item.pos, item_path));
        }
    }
    Some(out)
}
