//! Writing case files: an ordered YAML value and a printer that writes it the
//! way the library's cases are written (block style, short mappings and lists
//! on one line, strings quoted only when YAML needs it).

use std::fmt::Write as _;

/// A YAML value whose mappings keep their order, so files read top-down.
#[derive(Clone, Debug, PartialEq)]
pub enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Seq(Vec<Yaml>),
    Map(Vec<(String, Yaml)>),
}

/// A collection printed on one line when it fits in this many characters.
const FLOW_WIDTH: usize = 76;
const INDENT: &str = "  ";

impl Yaml {
    pub fn str(text: impl Into<String>) -> Yaml {
        Yaml::Str(text.into())
    }

    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Yaml)>) -> Yaml {
        Yaml::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn strs<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Yaml {
        Yaml::Seq(items.into_iter().map(|s| Yaml::Str(s.into())).collect())
    }

    /// From JSON, with mapping keys put in the order `rank` gives (then as found).
    pub fn from_json(value: &serde_json::Value, rank: &dyn Fn(&str) -> usize) -> Yaml {
        use serde_json::Value;
        match value {
            Value::Null => Yaml::Null,
            Value::Bool(b) => Yaml::Bool(*b),
            Value::Number(n) => n
                .as_i64()
                .map_or_else(|| Yaml::Str(n.to_string()), Yaml::Int),
            Value::String(s) => Yaml::Str(s.clone()),
            Value::Array(items) => {
                Yaml::Seq(items.iter().map(|v| Yaml::from_json(v, rank)).collect())
            }
            Value::Object(map) => {
                let mut entries: Vec<(String, Yaml)> = map
                    .iter()
                    .map(|(k, v)| (k.clone(), Yaml::from_json(v, rank)))
                    .collect();
                entries.sort_by_key(|(k, _)| rank(k));
                Yaml::Map(entries)
            }
        }
    }

    /// The document, ending with a newline.
    pub fn render(&self) -> String {
        let mut out = String::new();
        match self {
            Yaml::Map(entries) if !entries.is_empty() => block_map(&mut out, entries, 0),
            Yaml::Seq(items) if !items.is_empty() => block_seq(&mut out, items, 0),
            other => {
                let _ = writeln!(out, "{}", flow(other));
            }
        }
        out
    }
}

/// Whether a string can be written without quotes and still read back as
/// the same string (not a number, boolean, null or YAML syntax).
fn plain(text: &str) -> bool {
    const RESERVED: [&str; 6] = ["true", "false", "null", "True", "False", "Null"];
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        && !RESERVED.contains(&text)
        && !text.eq_ignore_ascii_case("null")
        && !text.eq_ignore_ascii_case("true")
        && !text.eq_ignore_ascii_case("false")
}

fn scalar_text(text: &str) -> String {
    if plain(text) {
        text.to_owned()
    } else {
        // A JSON string is a valid YAML double-quoted string.
        serde_json::to_string(text).unwrap_or_else(|_| format!("{text:?}"))
    }
}

/// The value on one line, in flow style.
fn flow(value: &Yaml) -> String {
    match value {
        Yaml::Null => "null".into(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Int(n) => n.to_string(),
        Yaml::Str(s) => scalar_text(s),
        Yaml::Seq(items) => {
            let inner: Vec<String> = items.iter().map(flow).collect();
            format!("[{}]", inner.join(", "))
        }
        Yaml::Map(entries) => {
            let inner: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}: {}", scalar_text(k), flow(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// Collections that stay on one line: short ones, and empty ones.
fn fits_flow(value: &Yaml) -> bool {
    match value {
        Yaml::Seq(_) | Yaml::Map(_) => flow(value).len() <= FLOW_WIDTH,
        _ => true,
    }
}

fn block_map(out: &mut String, entries: &[(String, Yaml)], depth: usize) {
    for (i, (key, value)) in entries.iter().enumerate() {
        // The first key of a list item follows its `- ` on the same line.
        if i > 0 || depth == 0 || !out.ends_with("- ") {
            out.push_str(&INDENT.repeat(depth));
        }
        let key = scalar_text(key);
        if fits_flow(value) {
            let _ = writeln!(out, "{key}: {}", flow(value));
            continue;
        }
        let _ = writeln!(out, "{key}:");
        match value {
            Yaml::Map(inner) => block_map(out, inner, depth + 1),
            Yaml::Seq(items) => block_seq(out, items, depth + 1),
            _ => unreachable!("scalars always fit"),
        }
    }
}

fn block_seq(out: &mut String, items: &[Yaml], depth: usize) {
    for item in items {
        out.push_str(&INDENT.repeat(depth));
        out.push_str("- ");
        match item {
            // Top-level list items (the steps) always read as blocks.
            Yaml::Map(entries) if !entries.is_empty() && (depth <= 1 || !fits_flow(item)) => {
                block_map(out, entries, depth + 1);
            }
            Yaml::Seq(inner) if !fits_flow(item) => {
                out.push('\n');
                block_seq(out, inner, depth + 1);
            }
            _ => {
                let _ = writeln!(out, "{}", flow(item));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::yaml as reader;

    #[test]
    fn strings_that_yaml_would_read_as_something_else_are_quoted() {
        for text in [
            "80",
            "true",
            "Null",
            "*",
            "x/*",
            "{{ip x/b}}/32",
            "",
            "-",
            "a b",
            ".5",
        ] {
            let doc = Yaml::map([("k", Yaml::str(text))]).render();
            let node = reader::parse(&doc).expect("parses");
            let reader::Value::Map(entries) = node.value else {
                panic!("{doc}")
            };
            assert_eq!(entries[0].1.value, reader::Value::Str(text.into()), "{doc}");
        }
        assert_eq!(flow(&Yaml::str("serve-80-tcp")), "serve-80-tcp");
        assert_eq!(
            flow(&Yaml::str("kubernetes.io/metadata.name")),
            "kubernetes.io/metadata.name"
        );
    }

    #[test]
    fn documents_read_as_the_library_writes_them() {
        let policy = Yaml::map([
            (
                "metadata",
                Yaml::map([("name", Yaml::str("p0")), ("namespace", Yaml::str("x"))]),
            ),
            (
                "spec",
                Yaml::map([
                    ("podSelector", Yaml::map::<&str>([])),
                    (
                        "ingress",
                        Yaml::Seq(vec![Yaml::map([("from", Yaml::Seq(vec![]))])]),
                    ),
                ]),
            ),
        ]);
        let doc = Yaml::map([
            ("name", Yaml::str("gen")),
            (
                "steps",
                Yaml::Seq(vec![Yaml::map([
                    ("apply", Yaml::Seq(vec![policy])),
                    ("expect", Yaml::str("oracle")),
                ])]),
            ),
        ]);
        let expected = "\
name: gen
steps:
  - apply:
      - metadata: {name: p0, namespace: x}
        spec: {podSelector: {}, ingress: [{from: []}]}
    expect: oracle
";
        assert_eq!(doc.render(), expected);
        reader::parse(expected).expect("valid YAML");
    }
}
