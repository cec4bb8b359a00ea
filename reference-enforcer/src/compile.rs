//! The compiler: a snapshot and a node name in, that node's ruleset out.
//! Pure: no IO, no clock, the same input always gives the same output.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::addr::{Family, IpRange};
use crate::allow::{self, ALL_PORTS, ALL_PROTOCOLS, Allow};
use crate::policy::{self, Peer, Policy, Port, PortSpec, Rule};
use crate::ruleset::{Direction, Isolation, PodRules, Ruleset};
use crate::snapshot::{Pod, Snapshot};

/// What the rules of a policy are evaluated against.
struct World<'a> {
    pods: &'a [Pod],
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
}

/// Compiles the enforcement of `node`: ingress and egress of the pods whose
/// `node` is `node`.
pub fn compile(snapshot: &Snapshot, node: &str) -> Ruleset {
    // A dual-stack pod is matched by each of its addresses and enforced at
    // each: one entry per address from here on.
    let expanded: Vec<Pod> = snapshot.pods.iter().flat_map(Pod::per_address).collect();
    let world = World {
        pods: &expanded,
        namespaces: snapshot.namespace_labels(),
    };
    let mut policies: Vec<Policy> = snapshot.policies.iter().map(policy::read).collect();
    policies.sort_by(|a, b| a.id.cmp(&b.id));

    let mut warnings: Vec<String> = policies
        .iter()
        .filter_map(|p| {
            p.problem
                .as_ref()
                .map(|problem| format!("policy {}: {problem}; it allows nothing", p.id))
        })
        .collect();

    let mut local: Vec<&Pod> = expanded.iter().filter(|pod| pod.node == node).collect();
    // The address too, so that which of two same-named pods comes first
    // does not depend on the snapshot's order.
    local.sort_by(|a, b| (&a.namespace, &a.name, a.ip).cmp(&(&b.namespace, &b.name, b.ip)));
    warn_shared_addresses(&local, &mut warnings);

    let mut pods: Vec<PodRules> = Vec::new();
    for pod in local {
        let ingress = isolation(&world, &policies, pod, Direction::Ingress);
        let egress = isolation(&world, &policies, pod, Direction::Egress);
        if ingress.is_some() || egress.is_some() {
            let (namespace, name, ip) = (pod.namespace.clone(), pod.name.clone(), pod.ip);
            pods.push(PodRules {
                namespace,
                name,
                ip,
                ingress,
                egress,
            });
        }
    }
    let pods = one_per_identity(one_per_address(pods), &mut warnings);

    warnings.sort();
    warnings.dedup();
    Ruleset {
        node: node.to_string(),
        generation: snapshot.generation,
        pods,
        warnings,
    }
}

/// The isolation of `pod` in `direction`, if any policy covering that
/// direction selects it.
fn isolation(
    world: &World,
    policies: &[Policy],
    pod: &Pod,
    direction: Direction,
) -> Option<Isolation> {
    let mut ids = Vec::new();
    let mut boxes = Vec::new();
    for policy in policies {
        let rules = match direction {
            Direction::Ingress => &policy.ingress,
            Direction::Egress => &policy.egress,
        };
        let Some(rules) = rules else { continue };
        if !policy.scope.selects(pod) {
            continue;
        }
        ids.push(policy.id.clone());
        for rule in rules {
            boxes.extend(rule_allows(world, pod, direction, rule));
        }
    }
    ids.dedup();
    (!ids.is_empty()).then(|| Isolation {
        policies: ids,
        allows: allow::disjoint(&boxes),
    })
}

/// The boxes one rule allows for `pod` (the local end) in `direction`.
fn rule_allows(world: &World, pod: &Pod, direction: Direction, rule: &Rule) -> Vec<Allow> {
    let family = Family::of(pod.ip);
    let peers = peer_ranges(world, rule.peers.as_deref(), family);
    let boxes = |peers: &[IpRange], protocols, ports| {
        peers
            .iter()
            .map(move |&peer| Allow {
                peer,
                protocols,
                ports,
            })
            .collect::<Vec<_>>()
    };
    let Some(ports) = &rule.ports else {
        return boxes(&peers, ALL_PROTOCOLS, ALL_PORTS);
    };
    let mut out = Vec::new();
    for Port { protocol, ports } in ports {
        let protocols = (*protocol, *protocol);
        match (ports, direction) {
            (PortSpec::All, _) => out.extend(boxes(&peers, protocols, ALL_PORTS)),
            (PortSpec::Range(first, last), _) => {
                out.extend(boxes(&peers, protocols, (*first, *last)))
            }
            // Ingress: the destination is the local pod, so the name resolves on it.
            (PortSpec::Named(name), Direction::Ingress) => {
                for number in named_port(pod, name, *protocol) {
                    out.extend(boxes(&peers, protocols, (number, number)));
                }
            }
            // Egress: the name resolves on each destination pod that has it;
            // an address that is no known pod never matches a named port.
            (PortSpec::Named(name), Direction::Egress) => {
                for peer in world.pods.iter().filter(|q| Family::of(q.ip) == family) {
                    if !is_peer(world, rule.peers.as_deref(), peer) {
                        continue;
                    }
                    for number in named_port(peer, name, *protocol) {
                        out.extend(boxes(
                            &[IpRange::host(peer.ip)],
                            protocols,
                            (number, number),
                        ));
                    }
                }
            }
        }
    }
    out
}

/// The addresses of `family` a rule's peers cover (`None`: every address).
fn peer_ranges(world: &World, peers: Option<&[Peer]>, family: Family) -> Vec<IpRange> {
    let Some(peers) = peers else {
        return vec![IpRange::all(family)];
    };
    let mut ranges = Vec::new();
    for peer in peers {
        match peer {
            Peer::Pods { .. } => ranges.extend(
                world
                    .pods
                    .iter()
                    .filter(|q| Family::of(q.ip) == family && peer.matches(q, &world.namespaces))
                    .map(|q| IpRange::host(q.ip)),
            ),
            Peer::Block(block) => ranges.extend(block.iter().filter(|r| r.family == family)),
        }
    }
    ranges
}

fn is_peer(world: &World, peers: Option<&[Peer]>, pod: &Pod) -> bool {
    peers.is_none_or(|peers| {
        peers
            .iter()
            .any(|peer| peer.matches(pod, &world.namespaces))
    })
}

/// The numbers of `pod`'s container ports called `name` with `protocol`.
fn named_port<'a>(pod: &'a Pod, name: &'a str, protocol: u8) -> impl Iterator<Item = u16> + 'a {
    pod.ports
        .iter()
        .filter(move |p| p.name == name && policy::protocol_number(&p.protocol) == Some(protocol))
        .map(|p| p.port)
}

fn warn_shared_addresses(local: &[&Pod], warnings: &mut Vec<String>) {
    let mut by_address: BTreeMap<IpAddr, Vec<String>> = BTreeMap::new();
    for pod in local {
        by_address.entry(pod.ip).or_default().push(pod.id());
    }
    for (ip, ids) in by_address.into_iter().filter(|(_, ids)| ids.len() > 1) {
        warnings.push(format!(
            "pods {} share address {ip}; rules are keyed by address, so each gets the strictest isolation of them",
            ids.join(", ")
        ));
    }
}

/// The dataplane keys rules by address, so two local pods with one address
/// (a stale snapshot) cannot be told apart. Keep the first pod's entry;
/// where several are isolated in a direction nothing passes (fail closed).
fn one_per_address(pods: Vec<PodRules>) -> Vec<PodRules> {
    let mut kept: Vec<PodRules> = Vec::with_capacity(pods.len());
    let mut seen: BTreeMap<IpAddr, usize> = BTreeMap::new();
    for pod in pods {
        let Some(&index) = seen.get(&pod.ip) else {
            seen.insert(pod.ip, kept.len());
            kept.push(pod);
            continue;
        };
        let first = &mut kept[index];
        first.ingress = strictest(first.ingress.take(), pod.ingress);
        first.egress = strictest(first.egress.take(), pod.egress);
    }
    kept
}

/// Chains and sets are named after the pod and the family
/// (`in_<ns>_<pod>_<hash>`, `in6_…` for IPv6), so two local pods with one
/// namespace and name in one family (a stale snapshot: a pod recreated at a
/// new address) would declare one object twice, and nft rejects the whole
/// ruleset (found by the `enforcer_compile` fuzz target). The first keeps
/// its rules; each other one allows nothing in the directions it is
/// isolated in (fail closed), which needs no object. A dual-stack pod's two
/// addresses are of two families, so both keep their rules.
fn one_per_identity(mut pods: Vec<PodRules>, warnings: &mut Vec<String>) -> Vec<PodRules> {
    let mut seen: BTreeMap<(String, String, Family), Vec<IpAddr>> = BTreeMap::new();
    for pod in &mut pods {
        let addresses = seen
            .entry((pod.namespace.clone(), pod.name.clone(), Family::of(pod.ip)))
            .or_default();
        addresses.push(pod.ip);
        if addresses.len() > 1 {
            for isolation in [&mut pod.ingress, &mut pod.egress].into_iter().flatten() {
                isolation.allows.clear();
            }
        }
    }
    for ((namespace, name, _), addresses) in seen.iter().filter(|(_, a)| a.len() > 1) {
        let list: Vec<String> = addresses.iter().map(IpAddr::to_string).collect();
        warnings.push(format!(
            "pod {namespace}/{name} appears at {}; rules are named after the pod, so only the first address gets its rules and the others allow nothing where isolated",
            list.join(", ")
        ));
    }
    pods
}

fn strictest(a: Option<Isolation>, b: Option<Isolation>) -> Option<Isolation> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let policies: BTreeSet<String> = a.policies.into_iter().chain(b.policies).collect();
            Some(Isolation {
                policies: policies.into_iter().collect(),
                allows: Vec::new(),
            })
        }
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests;
