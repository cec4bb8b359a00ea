//! A YAML document as a tree of nodes that remember where they were written.
//!
//! k8s-openapi types drop unknown fields silently, and serde stops at the first
//! error. Cases are therefore read into this tree first, so that the decoder can
//! reject every unknown key and report every problem of a file at once, each
//! with its line and column.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A place in a source file, 1-based. `line == 0` means unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    pub const UNKNOWN: Pos = Pos { line: 0, column: 0 };

    fn from_location(location: serde_saphyr::Location) -> Pos {
        Pos {
            line: location.line() as u32,
            column: location.column() as u32,
        }
    }
}

/// One node of the document.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key: always a string here (a YAML `80:` key is kept as `"80"`).
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub name: String,
    pub pos: Pos,
}

impl Value {
    /// The YAML type name, for messages such as "expected a mapping, found a string".
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Why a document could not be read as YAML at all.
#[derive(Debug)]
pub struct SyntaxError {
    pub message: String,
    pub pos: Pos,
}

/// Reads one YAML document with the YAML 1.2 core schema: namespace `y` is a
/// string, not YAML 1.1's boolean. Duplicate keys and alias bombs are rejected
/// by the parser's defaults; the message keeps only the parser's first line.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        budget: serde_saphyr::budget! { max_nodes: MAX_NODES },
    };
    match serde_saphyr::from_str_with_options::<Node>(text, options) {
        Ok(node) => Ok(node),
        Err(error) => {
            let pos = error.location().map(Pos::from_location).unwrap_or_default();
            if let Some(message) = budget_message(&error) {
                return Err(SyntaxError { message, pos });
            }
            let message = error.without_snippet().to_string();
            let message = message.lines().next().unwrap_or("invalid yaml").trim();
            Err(SyntaxError {
                message: lower_first(strip_location(message)),
                pos,
            })
        }
    }
}

/// YAML nodes a case may have once aliases are expanded. The largest case of
/// the library has well under a thousand; an alias bomb stops here, in
/// bounded time and memory, instead of at the parser's default of 250,000.
pub const MAX_NODES: usize = 50_000;

/// A clear sentence for the parser's resource limits (its own text is a
/// debug dump of the breach); `None` for other errors.
fn budget_message(error: &serde_saphyr::Error) -> Option<String> {
    use serde_saphyr::budget::BudgetBreach;
    let mut inner = error;
    while let serde_saphyr::Error::AliasError { error, .. }
    | serde_saphyr::Error::WithSnippet { error, .. } = inner
    {
        inner = error;
    }
    let serde_saphyr::Error::Budget { breach, .. } = inner else {
        return None;
    };
    Some(match breach {
        BudgetBreach::Nodes { .. } => format!(
            "the document has more than {MAX_NODES} YAML nodes, counting what aliases expand to; a case needs far fewer"
        ),
        BudgetBreach::Depth { depth } => {
            format!("the document is nested {depth} levels deep; a case needs far fewer")
        }
        other => format!("the document exceeds a parser limit ({other:?})"),
    })
}

/// serde-saphyr appends " at line L, column C" and advice about its own
/// options; the diagnostic prints its own position and needs neither.
fn strip_location(message: &str) -> &str {
    let message = message
        .split(", set DuplicateKeyPolicy")
        .next()
        .unwrap_or(message);
    // It names its own API (`use from_str_multiple`), which means nothing here.
    let message = message
        .split("; use from_str_multiple")
        .next()
        .unwrap_or(message);
    match message.rfind(" at line ") {
        Some(index) => &message[..index],
        None => message,
    }
}

fn lower_first(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<Value>::deserialize(deserializer)?;
        Ok(Node {
            value: spanned.value,
            pos: Pos::from_location(spanned.referenced),
        })
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<Value>::deserialize(deserializer)?;
        let name = match spanned.value {
            Value::Str(text) => text,
            Value::Int(number) => number.to_string(),
            Value::Bool(flag) => flag.to_string(),
            Value::Null => String::new(),
            other => {
                return Err(de::Error::custom(format!(
                    "a mapping key must be a string, found {}",
                    other.kind()
                )));
            }
        };
        Ok(Key {
            name,
            pos: Pos::from_location(spanned.referenced),
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Int(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        // Too large for i64: keep it as a float so range checks still reject it.
        Ok(i64::try_from(value).map_or(Value::Float(value as f64), Value::Int))
    }

    fn visit_i128<E>(self, value: i128) -> Result<Value, E> {
        Ok(i64::try_from(value).map_or(Value::Float(value as f64), Value::Int))
    }

    fn visit_u128<E>(self, value: u128) -> Result<Value, E> {
        Ok(i64::try_from(value).map_or(Value::Float(value as f64), Value::Int))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Value::Float(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::Str(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::Str(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Key>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_remember_their_line_and_column() {
        let node = parse("a: 1\nb:\n  - x\n  - \"80\"\n  - 80\n").unwrap();
        let Value::Map(entries) = node.value else {
            panic!("not a map")
        };
        assert_eq!(entries[0].0.name, "a");
        assert_eq!(entries[0].0.pos, Pos { line: 1, column: 1 });
        assert_eq!(entries[0].1.value, Value::Int(1));
        let Value::Seq(items) = &entries[1].1.value else {
            panic!("not a seq")
        };
        assert_eq!(items[0].pos, Pos { line: 3, column: 5 });
        assert_eq!(items[1].value, Value::Str("80".into()));
        assert_eq!(items[2].value, Value::Int(80));
    }

    #[test]
    fn yaml_1_1_booleans_are_plain_strings() {
        let node = parse("[y, n, yes, off, true]").unwrap();
        let Value::Seq(items) = node.value else {
            panic!("not a seq")
        };
        let values: Vec<Value> = items.into_iter().map(|n| n.value).collect();
        let text = |s: &str| Value::Str(s.into());
        assert_eq!(
            values,
            [
                text("y"),
                text("n"),
                text("yes"),
                text("off"),
                Value::Bool(true)
            ]
        );
    }

    #[test]
    fn duplicate_keys_are_a_syntax_error_with_a_position() {
        let error = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(error.pos.line, 2, "{error:?}");
    }

    #[test]
    fn a_broken_document_is_an_error_not_a_panic() {
        let error = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(error.pos.line >= 1, "{error:?}");
    }
}
