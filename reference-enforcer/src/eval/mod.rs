//! An in-memory nftables, for checking the enforcer without the kernel (and
//! without root): `Nftables::load` reads the text `render` produces the way
//! `nft -f` would, into tables of sets, verdict maps and chains, and
//! `Nftables::verdict` walks a packet through them rule by rule, in the order
//! the kernel does (base chains by priority, `vmap` lookups, `jump`,
//! `return`, the chain policy). Like kube-proxy's `nftablesTracer`
//! (pkg/proxy/nftables/helpers_test.go), it understands exactly the
//! statements the renderer writes and refuses everything else, so a renderer
//! that starts writing something new fails loudly here until the evaluator
//! learns it.
//!
//! It knows nftables, not NetworkPolicy: nothing in it reads a policy or a
//! snapshot, so comparing its verdicts with the harness's oracle checks the
//! compiler and the renderer together, from the outside.
//!
//! Test-only: compiled for this crate's unit tests and behind the `eval`
//! feature, which only the harness's dev-dependencies and the fuzz crate
//! turn on; the enforcer binary never contains it.

mod chains;
mod elements;
mod fabric;
mod lex;
mod model;
mod parse;
mod run;
#[cfg(test)]
mod tests;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

pub use fabric::{CLIENT_PORT, Connection, Endpoint, Fabric};
pub use model::LoadError;

/// The netfilter hooks of the `inet` family that a base chain can attach to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

impl Hook {
    /// The hooks a packet routed through the namespace crosses, in order.
    pub const ROUTED: [Hook; 3] = [Hook::Prerouting, Hook::Forward, Hook::Postrouting];

    fn from_name(name: &str) -> Option<Hook> {
        Some(match name {
            "prerouting" => Hook::Prerouting,
            "input" => Hook::Input,
            "forward" => Hook::Forward,
            "output" => Hook::Output,
            "postrouting" => Hook::Postrouting,
            _ => return None,
        })
    }
}

/// What conntrack says about a packet (`ct state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CtState {
    New,
    Established,
    Related,
    Invalid,
    Untracked,
}

impl CtState {
    fn from_name(name: &str) -> Option<CtState> {
        Some(match name {
            "new" => CtState::New,
            "established" => CtState::Established,
            "related" => CtState::Related,
            "invalid" => CtState::Invalid,
            "untracked" => CtState::Untracked,
            _ => return None,
        })
    }
}

/// Which way a packet goes relative to the packet that opened its flow
/// (`ct direction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CtDirection {
    Original,
    Reply,
}

/// The packet headers and conntrack facts the rules can look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The IP protocol number (`meta l4proto`): 6 TCP, 17 UDP, 132 SCTP.
    pub protocol: u8,
    /// The transport header's destination port (`th dport`).
    pub dport: u16,
    pub state: CtState,
    /// `None` for an untracked packet, which no `ct direction` matches.
    pub direction: Option<CtDirection>,
}

impl Packet {
    /// The first packet of a new connection, in its original direction.
    pub fn new_connection(src: IpAddr, dst: IpAddr, protocol: u8, dport: u16) -> Packet {
        Packet {
            src,
            dst,
            protocol,
            dport,
            state: CtState::New,
            direction: Some(CtDirection::Original),
        }
    }

    /// The answer to `self` once conntrack has seen it pass: addresses
    /// swapped, sent to `client_port` (the source port `self` came from).
    pub fn reply(&self, client_port: u16) -> Packet {
        Packet {
            src: self.dst,
            dst: self.src,
            protocol: self.protocol,
            dport: client_port,
            state: CtState::Established,
            direction: Some(CtDirection::Reply),
        }
    }
}

/// The final word on a packet at one hook (or at all hooks it crosses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
}

/// A verdict and the rules that led to it, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    pub verdict: Verdict,
    /// `chain: rule` for every rule that matched, in order, and the chain
    /// policies that decided (shared with the loaded ruleset: cheap to copy).
    pub steps: Vec<Arc<str>>,
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match self.verdict {
            Verdict::Accept => "accept",
            Verdict::Drop => "drop",
        };
        write!(f, "{verdict} after [{}]", self.steps.join("; "))
    }
}

/// The kernel's state after loading rulesets: every table, by family and name.
#[derive(Clone, Debug, Default)]
pub struct Nftables {
    tables: model::Tables,
    /// Per hook, its base chains in the order they run.
    hooks: BTreeMap<Hook, Vec<(model::TableKey, String)>>,
}

impl Nftables {
    /// The state after `nft -f` of `text` on a namespace with no tables,
    /// or why `nft` (or the kernel) would refuse it.
    pub fn load(text: &str) -> Result<Nftables, LoadError> {
        let mut nftables = Nftables::default();
        nftables.apply(text)?;
        Ok(nftables)
    }

    /// Applies one more `nft -f` transaction: all of it, or (on error) none.
    pub fn apply(&mut self, text: &str) -> Result<(), LoadError> {
        self.tables = parse::transaction(text, &self.tables)?;
        self.hooks = [
            Hook::Prerouting,
            Hook::Input,
            Hook::Forward,
            Hook::Output,
            Hook::Postrouting,
        ]
        .into_iter()
        .map(|hook| (hook, run::base_chains(&self.tables, hook)))
        .filter(|(_, chains)| !chains.is_empty())
        .collect();
        Ok(())
    }

    fn at(&self, hook: Hook, packet: &Packet, record: &mut impl run::Record) -> Verdict {
        match self.hooks.get(&hook) {
            Some(bases) => run::hook(&self.tables, bases, packet, record),
            None => Verdict::Accept,
        }
    }

    fn through(&self, packet: &Packet, record: &mut impl run::Record) -> Verdict {
        let dropped = Hook::ROUTED
            .into_iter()
            .any(|hook| self.at(hook, packet, record) == Verdict::Drop);
        if dropped {
            Verdict::Drop
        } else {
            Verdict::Accept
        }
    }

    /// The verdict on `packet` at `hook`, with the rules that gave it: every
    /// base chain on that hook, by priority; a drop is final, an accept
    /// passes the packet on to the next.
    pub fn verdict(&self, hook: Hook, packet: &Packet) -> Trace {
        let mut steps = Vec::new();
        let verdict = self.at(hook, packet, &mut steps);
        Trace { verdict, steps }
    }

    /// The verdict on a packet routed through this namespace (prerouting,
    /// forward, postrouting): dropped if any hook drops it.
    pub fn routed(&self, packet: &Packet) -> Trace {
        let mut steps = Vec::new();
        let verdict = self.through(packet, &mut steps);
        Trace { verdict, steps }
    }

    /// `routed` without the trace: the fast path.
    pub fn routed_verdict(&self, packet: &Packet) -> Verdict {
        self.through(packet, &mut ())
    }
}
