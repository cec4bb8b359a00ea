//! Chain bodies: the base chain's type, hook, priority and policy, and the
//! rules, each a list of matches and a verdict statement.

use std::sync::Arc;

use super::lex::{Parser, name};
use super::model::{Action, Base, Chain, LoadError, Match, Rule, Selector, Statement, error};
use super::{CtDirection, CtState, Hook, Verdict};

/// A verdict statement's words, or `None` when they are not one.
pub(super) fn jump(line: usize, words: &[&str]) -> Result<Option<Statement>, LoadError> {
    Ok(Some(match words {
        ["accept"] => Statement::Accept,
        ["drop"] => Statement::Drop,
        ["continue"] => Statement::Continue,
        ["return"] => Statement::Return,
        ["jump", target] => Statement::Jump(name(line, "chain", target)?),
        ["goto", target] => Statement::Goto(name(line, "chain", target)?),
        _ => return Ok(None),
    }))
}

pub(super) fn chain_body(parser: &mut Parser, chain: &str) -> Result<Chain, LoadError> {
    let mut base = None;
    let mut rules = Vec::new();
    while !parser.closes(&format!("chain {chain}"))? {
        let line = parser.line();
        let owned = parser.rule_words();
        let words: Vec<&str> = owned.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["type", "filter", "hook", hook, "priority", priority] => {
                if base.is_some() || !rules.is_empty() {
                    return error(line, "the chain type must come first, once");
                }
                let hook = Hook::from_name(hook).ok_or_else(|| LoadError {
                    line,
                    message: format!("unsupported hook `{hook}`"),
                })?;
                let priority = match *priority {
                    "raw" => -300,
                    "mangle" => -150,
                    "dstnat" => -100,
                    "filter" => 0,
                    "security" => 50,
                    "srcnat" => 100,
                    number => number.parse().map_err(|_| LoadError {
                        line,
                        message: format!("`{number}` is not a priority"),
                    })?,
                };
                base = Some(Base {
                    hook,
                    priority,
                    policy: Verdict::Accept,
                    policy_text: Arc::from(format!("{chain}: policy accept")),
                });
            }
            ["type", ..] => {
                return error(
                    line,
                    format!("unsupported chain type `{}`", words.join(" ")),
                );
            }
            ["policy", policy] => {
                let Some(base) = base.as_mut().filter(|_| rules.is_empty()) else {
                    return error(line, "a policy belongs to a base chain, before its rules");
                };
                base.policy = match *policy {
                    "accept" => Verdict::Accept,
                    "drop" => Verdict::Drop,
                    other => return error(line, format!("`{other}` is not a chain policy")),
                };
                base.policy_text = Arc::from(format!("{chain}: policy {policy}"));
            }
            [] => return error(line, format!("unexpected token in chain {chain}")),
            words => rules.push(rule(line, chain, words)?),
        }
    }
    Ok(Chain { base, rules })
}

fn selector(words: &[&str]) -> Option<Selector> {
    Some(match words {
        ["ip", "saddr"] => Selector::Saddr4,
        ["ip", "daddr"] => Selector::Daddr4,
        ["ip6", "saddr"] => Selector::Saddr6,
        ["ip6", "daddr"] => Selector::Daddr6,
        ["meta", "l4proto"] => Selector::Protocol,
        ["th", "dport"] => Selector::Dport,
        _ => return None,
    })
}

fn rule(line: usize, chain: &str, words: &[&str]) -> Result<Rule, LoadError> {
    let text: Arc<str> = Arc::from(format!("{chain}: {}", words.join(" ")));
    let unsupported = |at: &[&str]| LoadError {
        line,
        message: format!(
            "unsupported expression at `{}` in `{}`",
            at.join(" "),
            words.join(" ")
        ),
    };
    let mut matches = Vec::new();
    let mut rest = words;
    loop {
        if rest.is_empty() {
            return Ok(Rule {
                text,
                matches,
                action: Action::Nothing,
            });
        }
        if let Some(jump) = jump(line, rest)? {
            return Ok(Rule {
                text,
                matches,
                action: Action::Verdict(jump),
            });
        }
        match rest {
            ["ct", "state", states, tail @ ..] => {
                let parsed = states
                    .split(',')
                    .map(CtState::from_name)
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| unsupported(rest))?;
                matches.push(Match::State(parsed));
                rest = tail;
                continue;
            }
            ["ct", "direction", direction, tail @ ..] => {
                let direction = match *direction {
                    "original" => CtDirection::Original,
                    "reply" => CtDirection::Reply,
                    _ => return Err(unsupported(rest)),
                };
                matches.push(Match::Direction(direction));
                rest = tail;
                continue;
            }
            _ => {}
        }
        // A concatenation of selectors, then `@set` or `vmap @map`.
        let mut selectors = Vec::new();
        loop {
            let Some(found) = rest.get(..2).and_then(selector) else {
                return Err(unsupported(rest));
            };
            selectors.push(found);
            rest = &rest[2..];
            match rest {
                [".", tail @ ..] => rest = tail,
                _ => break,
            }
        }
        match rest {
            [set, tail @ ..] if set.starts_with('@') => {
                matches.push(Match::InSet {
                    selectors,
                    set: name(line, "set", &set[1..])?,
                });
                rest = tail;
            }
            ["vmap", map] if map.starts_with('@') => {
                let action = Action::Vmap {
                    selectors,
                    map: name(line, "map", &map[1..])?,
                };
                return Ok(Rule {
                    text,
                    matches,
                    action,
                });
            }
            _ => return Err(unsupported(rest)),
        }
    }
}
