//! Whole tables at once: the same semantics as `Oracle::reach`, computed with
//! pod sets so that a world of 1,000 pods and 1,000 policies takes well under
//! a second (per cell, every cell would re-walk every policy).
//!
//! Each rule's peers become a set of pods once; then for every pod the
//! sources its ingress admits and the destinations its egress admits are
//! unions of those sets, and a cell is one bit of each.

use super::{Compiled, Direction, Oracle, Rule, matching_port};
use crate::model::{Pod, Probe};
use crate::truth::{Reach, TruthTable};

/// A set of pods, by their index in the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodSet(Vec<u64>);

impl PodSet {
    pub fn empty(n: usize) -> PodSet {
        PodSet(vec![0; n.div_ceil(64)])
    }

    pub fn full(n: usize) -> PodSet {
        let mut set = PodSet::empty(n);
        (0..n).for_each(|i| set.insert(i));
        set
    }

    pub fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    pub fn contains(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }

    /// `self |= a & b`.
    fn union_intersection(&mut self, a: &PodSet, b: &PodSet) {
        for ((word, a), b) in self.0.iter_mut().zip(&a.0).zip(&b.0) {
            *word |= a & b;
        }
    }

    fn union(&mut self, other: &PodSet) {
        for (word, o) in self.0.iter_mut().zip(&other.0) {
            *word |= o;
        }
    }
}

impl<'w> Oracle<'w> {
    /// The full table of one probe.
    pub fn table(&self, probe: Probe) -> TruthTable {
        let pods = &self.world.model.pods;
        let n = pods.len();
        let everyone = PodSet::full(n);
        let peers = |rule: &Rule| -> PodSet {
            if rule.peers.is_empty() {
                return everyone.clone();
            }
            let mut set = PodSet::empty(n);
            for (i, pod) in pods.iter().enumerate() {
                if rule
                    .peers
                    .iter()
                    .any(|p| self.peer_matches(p, pod, probe.family))
                {
                    set.insert(i);
                }
            }
            set
        };
        // Pods whose ports admit `probe` under a rule (named ports are per pod).
        let ports = |rule: &Rule| -> PodSet {
            let mut set = PodSet::empty(n);
            for (i, pod) in pods.iter().enumerate() {
                if matching_port(rule.ports, pod, probe).is_some() {
                    set.insert(i);
                }
            }
            set
        };
        let selected: Vec<PodSet> = self
            .policies
            .iter()
            .map(|p| self.selected(p, pods))
            .collect();
        let admitted = |direction: Direction| -> Vec<PodSet> {
            // For each pod: the peers its side of `direction` lets through.
            let mut out: Vec<Option<PodSet>> = vec![None; n];
            for (policy, selected) in self.policies.iter().zip(&selected) {
                let Some(rules) = policy.rules(direction) else {
                    continue;
                };
                let compiled: Vec<(PodSet, PodSet)> =
                    rules.iter().map(|r| (peers(r), ports(r))).collect();
                for (i, _) in pods
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| selected.contains(*i))
                {
                    let set = out[i].get_or_insert_with(|| PodSet::empty(n));
                    for (peer_set, port_set) in &compiled {
                        match direction {
                            // Ingress: the port is the selected pod's own.
                            Direction::Ingress if port_set.contains(i) => set.union(peer_set),
                            Direction::Ingress => {}
                            // Egress: the port is each destination's.
                            Direction::Egress => set.union_intersection(peer_set, port_set),
                        }
                    }
                }
            }
            out.into_iter()
                .map(|s| s.unwrap_or_else(|| everyone.clone()))
                .collect()
        };
        let egress = admitted(Direction::Egress);
        let ingress = admitted(Direction::Ingress);
        let mut table = TruthTable::filled(self.world.model.pod_ids(), Reach::Denied);
        for (from, destinations) in egress.iter().enumerate() {
            for (to, sources) in ingress.iter().enumerate() {
                if destinations.contains(to) && sources.contains(from) {
                    table.set(from, to, Reach::Allowed);
                }
            }
        }
        table
    }

    fn selected(&self, policy: &Compiled, pods: &[Pod]) -> PodSet {
        let mut set = PodSet::empty(pods.len());
        for (i, pod) in pods.iter().enumerate() {
            if policy.selects(pod) {
                set.insert(i);
            }
        }
        set
    }
}
