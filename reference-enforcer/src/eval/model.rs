//! What a loaded ruleset is made of: tables of sets, verdict maps and
//! chains, as the parser builds them and the runner walks them.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{CtDirection, CtState, Hook, Verdict};

/// Why `nft -f` would refuse a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// 1-based; 0 for a problem of the whole transaction.
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            0 => f.write_str(&self.message),
            line => write!(f, "line {line}: {}", self.message),
        }
    }
}

impl std::error::Error for LoadError {}

pub(super) fn error<T>(line: usize, message: impl Into<String>) -> Result<T, LoadError> {
    Err(LoadError {
        line,
        message: message.into(),
    })
}

/// The kernel's longest object name (`NFT_NAME_MAXLEN` is 256 with the NUL).
pub(super) const MAX_NAME: usize = 255;
/// How deep jumps may nest (`NFT_JUMP_STACK_SIZE`).
pub(super) const MAX_JUMP_DEPTH: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeyType {
    Ipv4,
    Ipv6,
    Protocol,
    Service,
}

impl KeyType {
    pub(super) fn from_name(name: &str) -> Option<KeyType> {
        Some(match name {
            "ipv4_addr" => KeyType::Ipv4,
            "ipv6_addr" => KeyType::Ipv6,
            "inet_proto" => KeyType::Protocol,
            "inet_service" => KeyType::Service,
            _ => return None,
        })
    }

    pub(super) fn max(self) -> u128 {
        match self {
            KeyType::Ipv4 => u128::from(u32::MAX),
            KeyType::Ipv6 => u128::MAX,
            KeyType::Protocol => u128::from(u8::MAX),
            KeyType::Service => u128::from(u16::MAX),
        }
    }
}

/// An inclusive range of one key component.
pub(super) type Span = (u128, u128);

#[derive(Clone, Debug)]
pub(super) struct Set {
    pub key: Vec<KeyType>,
    pub elements: Vec<Vec<Span>>,
}

#[derive(Clone, Debug)]
pub(super) struct Map {
    pub key: Vec<KeyType>,
    pub elements: Vec<(Vec<Span>, Statement)>,
}

/// A verdict statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Statement {
    Accept,
    Drop,
    Continue,
    Return,
    Jump(String),
    Goto(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Selector {
    Saddr4,
    Daddr4,
    Saddr6,
    Daddr6,
    Protocol,
    Dport,
}

impl Selector {
    pub(super) fn key_type(self) -> KeyType {
        match self {
            Selector::Saddr4 | Selector::Daddr4 => KeyType::Ipv4,
            Selector::Saddr6 | Selector::Daddr6 => KeyType::Ipv6,
            Selector::Protocol => KeyType::Protocol,
            Selector::Dport => KeyType::Service,
        }
    }
}

#[derive(Clone, Debug)]
pub(super) enum Match {
    State(Vec<CtState>),
    Direction(CtDirection),
    /// `selector . selector … @set`
    InSet {
        selectors: Vec<Selector>,
        set: String,
    },
}

#[derive(Clone, Debug)]
pub(super) enum Action {
    /// A rule of matches only: it does nothing.
    Nothing,
    Verdict(Statement),
    /// `selector … vmap @map`: the element's verdict, or nothing when no element matches.
    Vmap {
        selectors: Vec<Selector>,
        map: String,
    },
}

#[derive(Clone, Debug)]
pub(super) struct Rule {
    /// `chain: rule text`, for traces.
    pub text: Arc<str>,
    pub matches: Vec<Match>,
    pub action: Action,
}

#[derive(Clone, Debug)]
pub(super) struct Base {
    pub hook: Hook,
    pub priority: i32,
    pub policy: Verdict,
    /// `chain: policy …`, for traces.
    pub policy_text: Arc<str>,
}

#[derive(Clone, Debug)]
pub(super) struct Chain {
    pub base: Option<Base>,
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Table {
    pub sets: BTreeMap<String, Set>,
    pub maps: BTreeMap<String, Map>,
    pub chains: BTreeMap<String, Chain>,
}

/// `(family, name)`.
pub(super) type TableKey = (String, String);
pub(super) type Tables = BTreeMap<TableKey, Table>;
