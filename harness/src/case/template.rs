//! Run-time values inside strings: `{{ip x/b}}` and `{{ip6 x/b}}`.

use std::net::IpAddr;

pub use crate::model::Family;
use crate::model::{Addresses, Model, PodId};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub family: Family,
    pub pod: PodId,
}

/// One piece of a templated text: literal text, or the inside of `{{…}}`.
enum Piece<'a> {
    Text(&'a str),
    Template(&'a str),
}

/// Splits `text` into literal text and template insides, in order.
fn pieces(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push(Piece::Text(&rest[..start]));
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed template in `{text}` (write `{{{{ip x/b}}}}`)"))?;
        out.push(Piece::Template(after[..end].trim()));
        rest = &after[end + 2..];
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// Replaces every template in `text` by `value(template)`. Errors name the
/// first bad template; text without `{{` is returned as it is.
pub fn expand(
    text: &str,
    model: &Model,
    mut value: impl FnMut(&Template) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::new();
    for piece in pieces(text)? {
        match piece {
            Piece::Text(literal) => out.push_str(literal),
            Piece::Template(inner) => out.push_str(&value(&parse(inner, model)?)?),
        }
    }
    Ok(out)
}

/// The address family of each well-formed template in `text`, as the
/// parser reads them (however the words inside are spaced).
pub fn families(text: &str) -> Vec<Family> {
    pieces(text)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Template(inner) => syntax(inner).ok().map(|(family, _)| family),
            Piece::Text(_) => None,
        })
        .collect()
}

/// The function and the argument of a template's inside.
fn syntax(inner: &str) -> Result<(Family, &str), String> {
    let mut words = inner.split_whitespace();
    let (function, argument, extra) = (words.next(), words.next(), words.next());
    let family = match function {
        Some("ip") => Family::V4,
        Some("ip6") => Family::V6,
        _ => {
            return Err(format!(
                "unknown template `{{{{{inner}}}}}` (allowed: `{{{{ip ns/pod}}}}`, `{{{{ip6 ns/pod}}}}`)"
            ));
        }
    };
    let (Some(argument), None) = (argument, extra) else {
        return Err(format!(
            "template `{{{{{inner}}}}}` takes one pod, as in `{{{{ip x/b}}}}`"
        ));
    };
    Ok((family, argument))
}

fn parse(inner: &str, model: &Model) -> Result<Template, String> {
    let (family, argument) = syntax(inner)?;
    let pod = argument
        .split_once('/')
        .map(|(ns, name)| PodId::new(ns, name))
        .filter(|pod| model.pod(pod).is_some())
        .ok_or_else(|| {
            format!(
                "unknown pod `{argument}` in template (pods are {})",
                model.pod_range()
            )
        })?;
    Ok(Template { family, pod })
}

/// Whether the text holds a template at all.
pub fn has_template(text: &str) -> bool {
    text.contains("{{")
}

/// Expands with placeholder addresses, for syntax checks before any backend exists.
pub fn expand_placeholder(text: &str, model: &Model) -> Result<String, String> {
    expand(text, model, |t| {
        Ok(match t.family {
            Family::V4 => "192.0.2.1".to_owned(),
            Family::V6 => "2001:db8::1".to_owned(),
        })
    })
}

/// Expands with the backend's real addresses.
pub fn expand_addresses(
    text: &str,
    model: &Model,
    addresses: &Addresses,
) -> Result<String, String> {
    expand(text, model, |t| {
        let ips = addresses
            .ips
            .get(&t.pod)
            .ok_or_else(|| format!("pod {} has no address", t.pod))?;
        match t.family {
            Family::V4 => Ok(IpAddr::V4(ips.v4).to_string()),
            Family::V6 => ips
                .v6
                .map(|v6| v6.to_string())
                .ok_or_else(|| format!("pod {} has no IPv6 address on this backend", t.pod)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand_inside_strings() {
        let model = Model::default();
        let text = expand_placeholder("{{ip x/b}}/32", &model).unwrap();
        assert_eq!(text, "192.0.2.1/32");
        assert_eq!(
            expand_placeholder("{{ ip6 z/c }}/128", &model).unwrap(),
            "2001:db8::1/128"
        );
        assert_eq!(
            expand_placeholder("10.0.0.0/8", &model).unwrap(),
            "10.0.0.0/8"
        );
    }

    #[test]
    fn families_come_from_the_parser_however_the_template_is_spaced() {
        assert_eq!(families("{{  ip6 y/a}}/128"), [Family::V6]);
        assert_eq!(families("{{ip x/b}}/32"), [Family::V4]);
        assert_eq!(families("{{\tip6\ty/a }}/128"), [Family::V6]);
        assert!(families("10.0.0.0/8").is_empty());
    }

    #[test]
    fn bad_templates_say_what_is_allowed() {
        let model = Model::default();
        let unknown = expand_placeholder("{{addr x/a}}/32", &model).unwrap_err();
        assert!(unknown.contains("allowed: `{{ip ns/pod}}`"), "{unknown}");
        let pod = expand_placeholder("{{ip x/d}}/32", &model).unwrap_err();
        assert!(pod.contains("unknown pod `x/d`"), "{pod}");
        assert!(
            expand_placeholder("{{ip x/a/32", &model)
                .unwrap_err()
                .contains("unclosed")
        );
    }
}
