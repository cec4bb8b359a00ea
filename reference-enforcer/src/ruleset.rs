//! The compiler's output: what one node must enforce, before it is text.
//! Only isolated pods appear; a pod no policy selects is in no set.

use std::net::IpAddr;

use serde::Serialize;

use crate::allow::Allow;

/// One node's enforcement, plus what the compiler could not understand.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Ruleset {
    pub node: String,
    pub generation: u64,
    /// Local pods isolated in at least one direction, sorted by namespace and
    /// name, at most one per address.
    pub pods: Vec<PodRules>,
    /// Problems with the snapshot or its policies, sorted; each one made the
    /// ruleset stricter, never looser.
    pub warnings: Vec<String>,
}

/// The isolation of one local pod.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PodRules {
    pub namespace: String,
    pub name: String,
    pub ip: IpAddr,
    /// `Some` when isolated for ingress (traffic whose destination is the pod).
    pub ingress: Option<Isolation>,
    /// `Some` when isolated for egress (traffic whose source is the pod).
    pub egress: Option<Isolation>,
}

/// An isolated direction: what passes, and because of which policies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Isolation {
    /// `namespace/name` of every policy that selects the pod in this
    /// direction, sorted.
    pub policies: Vec<String>,
    /// Disjoint and sorted: peer (source for ingress, destination for
    /// egress) × protocol × destination port. Empty means nothing passes.
    pub allows: Vec<Allow>,
}

/// The two directions a pod is isolated in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub const BOTH: [Direction; 2] = [Direction::Ingress, Direction::Egress];

    pub fn name(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

impl PodRules {
    pub fn isolation(&self, direction: Direction) -> Option<&Isolation> {
        match direction {
            Direction::Ingress => self.ingress.as_ref(),
            Direction::Egress => self.egress.as_ref(),
        }
    }

    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}
