//! A packet through loaded tables, as netfilter walks them: at one hook,
//! every base chain of every table by priority; in a chain, rule after rule,
//! each rule's matches left to right, then its verdict.

use std::net::IpAddr;
use std::sync::Arc;

use super::model::{Action, Chain, Match, Selector, Statement, Table, TableKey, Tables};
use super::{Hook, Packet, Verdict};

/// Where the rules that matched go: a trace, or nowhere (the fast path).
pub(super) trait Record {
    fn step(&mut self, text: &Arc<str>);
}

impl Record for Vec<Arc<str>> {
    fn step(&mut self, text: &Arc<str>) {
        self.push(Arc::clone(text));
    }
}

impl Record for () {
    fn step(&mut self, _: &Arc<str>) {}
}

/// The most components a concatenated key may have here.
pub(super) const MAX_KEY: usize = 8;

/// How a chain ended.
enum Flow {
    Accept,
    Drop,
    /// `return`, or the end of the rules: back to the caller.
    Return,
}

/// The base chains on `hook`, by priority: `(table, chain)` keys. Equal
/// priorities run in an order nft does not promise; here, by name.
pub(super) fn base_chains(tables: &Tables, hook: Hook) -> Vec<(TableKey, String)> {
    let mut bases: Vec<(i32, TableKey, String)> = tables
        .iter()
        .flat_map(|(key, table)| {
            table.chains.iter().filter_map(move |(name, chain)| {
                let base = chain.base.as_ref().filter(|b| b.hook == hook)?;
                Some((base.priority, key.clone(), name.clone()))
            })
        })
        .collect();
    bases.sort();
    bases
        .into_iter()
        .map(|(_, table, chain)| (table, chain))
        .collect()
}

pub(super) fn hook(
    tables: &Tables,
    bases: &[(TableKey, String)],
    packet: &Packet,
    record: &mut impl Record,
) -> Verdict {
    for (key, name) in bases {
        let table = &tables[key];
        let chain = &table.chains[name];
        let verdict = match run(table, chain, packet, record) {
            Flow::Accept => Verdict::Accept,
            Flow::Drop => Verdict::Drop,
            Flow::Return => {
                let base = chain.base.as_ref().expect("a base chain");
                record.step(&base.policy_text);
                base.policy
            }
        };
        if verdict == Verdict::Drop {
            return Verdict::Drop;
        }
    }
    Verdict::Accept
}

fn run(table: &Table, chain: &Chain, packet: &Packet, record: &mut impl Record) -> Flow {
    for rule in &chain.rules {
        if !rule.matches.iter().all(|m| matches(table, m, packet)) {
            continue;
        }
        let jump = match &rule.action {
            Action::Nothing => continue,
            Action::Verdict(jump) => jump,
            Action::Vmap { selectors, map } => {
                let Some((key, len)) = key(selectors, packet) else {
                    continue;
                };
                let elements = &table.maps[map].elements;
                match elements
                    .iter()
                    .find(|(spans, _)| contains(spans, &key[..len]))
                {
                    Some((_, jump)) => jump,
                    None => continue,
                }
            }
        };
        record.step(&rule.text);
        match jump {
            Statement::Accept => return Flow::Accept,
            Statement::Drop => return Flow::Drop,
            Statement::Continue => {}
            Statement::Return => return Flow::Return,
            // Validation made sure the target exists and is no base chain.
            Statement::Jump(target) => match run(table, &table.chains[target], packet, record) {
                Flow::Return => {}
                ended => return ended,
            },
            Statement::Goto(target) => return run(table, &table.chains[target], packet, record),
        }
    }
    Flow::Return
}

fn matches(table: &Table, found: &Match, packet: &Packet) -> bool {
    match found {
        Match::State(states) => states.contains(&packet.state),
        Match::Direction(direction) => packet.direction == Some(*direction),
        Match::InSet { selectors, set } => key(selectors, packet).is_some_and(|(key, len)| {
            table.sets[set]
                .elements
                .iter()
                .any(|spans| contains(spans, &key[..len]))
        }),
    }
}

fn contains(spans: &[(u128, u128)], key: &[u128]) -> bool {
    spans
        .iter()
        .zip(key)
        .all(|(&(first, last), &value)| first <= value && value <= last)
}

/// The packet's values for `selectors` (at most `MAX_KEY`, checked when
/// loading); `None` when one does not apply (an `ip` selector on an IPv6
/// packet: nft adds a `meta nfproto` check).
fn key(selectors: &[Selector], packet: &Packet) -> Option<([u128; MAX_KEY], usize)> {
    let mut key = [0; MAX_KEY];
    for (slot, selector) in key.iter_mut().zip(selectors) {
        *slot = match (selector, packet.src, packet.dst) {
            (Selector::Saddr4, IpAddr::V4(ip), _) | (Selector::Daddr4, _, IpAddr::V4(ip)) => {
                u128::from(u32::from(ip))
            }
            (Selector::Saddr6, IpAddr::V6(ip), _) | (Selector::Daddr6, _, IpAddr::V6(ip)) => {
                u128::from(ip)
            }
            (Selector::Protocol, ..) => u128::from(packet.protocol),
            (Selector::Dport, ..) => u128::from(packet.dport),
            _ => return None,
        };
    }
    Some((key, selectors.len()))
}
