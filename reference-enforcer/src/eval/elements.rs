//! The bodies of sets and verdict maps: key types, flags and elements,
//! checked as the kernel checks them (ranges need `flags interval`, no two
//! elements may overlap).

use std::net::IpAddr;

use super::chains::jump;
use super::lex::{Parser, Tok};
use super::model::{KeyType, LoadError, Map, Set, Span, error};

/// `type a . b . c` (and, for a map, `: verdict`).
fn key_types(line: usize, words: &[&str], map: bool) -> Result<Vec<KeyType>, LoadError> {
    let mut words = words;
    if map {
        match words {
            [key @ .., ":", "verdict"] => words = key,
            _ => return error(line, "a map must be `type <key> : verdict`"),
        }
    }
    let mut key = Vec::new();
    for (i, word) in words.iter().enumerate() {
        if i % 2 == 1 {
            if *word != "." {
                return error(
                    line,
                    format!("expected `.` between key types, found `{word}`"),
                );
            }
            continue;
        }
        key.push(KeyType::from_name(word).ok_or_else(|| LoadError {
            line,
            message: format!("unsupported key type `{word}`"),
        })?);
    }
    if key.is_empty() || words.len().is_multiple_of(2) {
        return error(line, "an incomplete key type");
    }
    if key.len() > super::run::MAX_KEY {
        return error(
            line,
            format!("more than {} key components", super::run::MAX_KEY),
        );
    }
    Ok(key)
}

/// The shared body of sets and maps: `type`, `flags`, `elements`.
struct Collection<'a> {
    key: Vec<KeyType>,
    interval: bool,
    /// Each element's words, its line, and (for maps) its verdict words.
    elements: Vec<(usize, Vec<&'a str>, Vec<&'a str>)>,
}

fn collection_body<'a>(
    parser: &mut Parser<'a>,
    what: &str,
    map: bool,
) -> Result<Collection<'a>, LoadError> {
    let mut key = None;
    let mut interval = false;
    let mut elements = Vec::new();
    while !parser.closes(what)? {
        let line = parser.line();
        let words = parser.statement();
        match words.as_slice() {
            ["type", rest @ ..] => key = Some(key_types(line, rest, map)?),
            ["flags", "interval"] => interval = true,
            ["flags", other @ ..] => return error(line, format!("unsupported flags {other:?}")),
            ["elements", "="] => {
                parser.expect(Tok::Open)?;
                while !parser.closes(&format!("the elements of {what}"))? {
                    let line = parser.line();
                    if parser.peek().is_some_and(|t| t.tok == Tok::Comma) {
                        parser.at += 1;
                        continue;
                    }
                    let words = parser.statement();
                    let (element, verdict) = match words.iter().position(|w| *w == ":") {
                        Some(colon) if map => {
                            (words[..colon].to_vec(), words[colon + 1..].to_vec())
                        }
                        None if !map => (words, Vec::new()),
                        _ if map => return error(line, "a map element needs `key : verdict`"),
                        _ => {
                            return error(
                                line,
                                "a set element cannot have `:` (only map elements do)",
                            );
                        }
                    };
                    elements.push((line, element, verdict));
                }
            }
            [] => return error(line, format!("unexpected token in {what}")),
            other => {
                return error(
                    line,
                    format!("unsupported statement `{}` in {what}", other.join(" ")),
                );
            }
        }
    }
    let Some(key) = key else {
        return error(parser.line(), format!("{what} has no type"));
    };
    Ok(Collection {
        key,
        interval,
        elements,
    })
}

pub(super) fn set_body(parser: &mut Parser, name: &str) -> Result<Set, LoadError> {
    let what = format!("set {name}");
    let body = collection_body(parser, &what, false)?;
    let mut elements = Vec::new();
    for (line, words, _) in &body.elements {
        elements.push(element(*line, words, &body.key, body.interval, &what)?);
    }
    check_disjoint(&elements, &body.elements, &what)?;
    Ok(Set {
        key: body.key,
        elements,
    })
}

pub(super) fn map_body(parser: &mut Parser, name: &str) -> Result<Map, LoadError> {
    let what = format!("map {name}");
    let body = collection_body(parser, &what, true)?;
    let mut elements = Vec::new();
    for (line, words, verdict) in &body.elements {
        let key = element(*line, words, &body.key, body.interval, &what)?;
        let jump = jump(*line, verdict)?.ok_or_else(|| LoadError {
            line: *line,
            message: format!("`{}` is not a verdict", verdict.join(" ")),
        })?;
        elements.push((key, jump));
    }
    let keys: Vec<Vec<Span>> = elements.iter().map(|(k, _)| k.clone()).collect();
    check_disjoint(&keys, &body.elements, &what)?;
    Ok(Map {
        key: body.key,
        elements,
    })
}

/// The kernel refuses an element that overlaps one already in the set ("File exists").
fn check_disjoint<T>(
    elements: &[Vec<Span>],
    source: &[(usize, T, T)],
    what: &str,
) -> Result<(), LoadError> {
    for (i, a) in elements.iter().enumerate() {
        for (j, b) in elements.iter().enumerate().skip(i + 1) {
            let overlap = a.iter().zip(b).all(|(x, y)| x.0 <= y.1 && y.0 <= x.1);
            if overlap {
                return error(
                    source[j].0,
                    format!(
                        "in {what}, element {} overlaps element {} (File exists)",
                        j + 1,
                        i + 1
                    ),
                );
            }
        }
    }
    Ok(())
}

/// One element: its components, `.`-separated, each a value, a range or
/// (for addresses) a prefix.
fn element(
    line: usize,
    words: &[&str],
    key: &[KeyType],
    interval: bool,
    what: &str,
) -> Result<Vec<Span>, LoadError> {
    let components: Vec<&str> = words.iter().copied().filter(|w| *w != ".").collect();
    let dots = words.iter().filter(|w| **w == ".").count();
    if components.len() != key.len() || dots + 1 != key.len() {
        return error(
            line,
            format!(
                "`{}` does not have the {} components of {what}'s key",
                words.join(" "),
                key.len()
            ),
        );
    }
    let mut spans = Vec::new();
    for (text, &kind) in components.iter().zip(key) {
        let span = value(line, text, kind)?;
        if span.0 != span.1 && !interval {
            return error(
                line,
                format!("`{text}` is a range, but {what} has no `flags interval`"),
            );
        }
        spans.push(span);
    }
    Ok(spans)
}

fn value(line: usize, text: &str, kind: KeyType) -> Result<Span, LoadError> {
    let bad = |why: &str| LoadError {
        line,
        message: format!("`{text}` is not a valid {kind:?} value: {why}"),
    };
    let single = |part: &str| -> Result<u128, LoadError> {
        match kind {
            KeyType::Ipv4 | KeyType::Ipv6 => {
                let ip: IpAddr = part.parse().map_err(|_| bad("not an address"))?;
                match (ip, kind) {
                    (IpAddr::V4(v4), KeyType::Ipv4) => Ok(u128::from(u32::from(v4))),
                    (IpAddr::V6(v6), KeyType::Ipv6) => Ok(u128::from(v6)),
                    _ => Err(bad("the wrong address family")),
                }
            }
            KeyType::Protocol => match part {
                "tcp" => Ok(6),
                "udp" => Ok(17),
                "sctp" => Ok(132),
                "icmp" => Ok(1),
                "icmpv6" => Ok(58),
                number => number
                    .parse::<u8>()
                    .map(u128::from)
                    .map_err(|_| bad("not a protocol")),
            },
            KeyType::Service => part
                .parse::<u16>()
                .map(u128::from)
                .map_err(|_| bad("not a port number")),
        }
    };
    if let Some((address, length)) = text.split_once('/') {
        if !matches!(kind, KeyType::Ipv4 | KeyType::Ipv6) {
            return Err(bad("only addresses have prefixes"));
        }
        let first = single(address)?;
        let bits = if kind == KeyType::Ipv4 { 32 } else { 128 };
        let length: u32 = length.parse().map_err(|_| bad("a bad prefix length"))?;
        if length > bits {
            return Err(bad("the prefix is too long"));
        }
        let host = if bits - length == 128 {
            u128::MAX
        } else {
            (1u128 << (bits - length)) - 1
        };
        if first & host != 0 {
            return Err(bad("host bits are set"));
        }
        return Ok((first, (first | host) & kind.max()));
    }
    // An address range's parts are addresses, never containing `-`.
    if let Some((first, last)) = text.split_once('-') {
        let (first, last) = (single(first)?, single(last)?);
        if first > last {
            return Err(bad("the range is reversed"));
        }
        return Ok((first, last));
    }
    let one = single(text)?;
    Ok((one, one))
}
