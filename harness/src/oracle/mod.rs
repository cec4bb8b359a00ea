//! The NetworkPolicy semantics of `networking.k8s.io/v1`, computed in memory.
//!
//! Written from the API reference, independently of the reference enforcer:
//! the two share types and label-selector matching, never decision code.

mod explain;
mod table;
#[cfg(test)]
mod tests;

pub use explain::{Explanation, Side};
pub use table::PodSet;

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube_core::{Selector, SelectorExt};

use crate::cidr::Cidr;
use crate::model::{Family, Pod, Probe, Protocol, World, policy_key};
use crate::truth::Reach;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn policy_type(self) -> &'static str {
        match self {
            Direction::Ingress => "Ingress",
            Direction::Egress => "Egress",
        }
    }

    /// The spec field holding the rules, and the rule field holding the peers.
    pub fn fields(self) -> (&'static str, &'static str) {
        match self {
            Direction::Ingress => ("ingress", "from"),
            Direction::Egress => ("egress", "to"),
        }
    }
}

/// The world's policies, compiled once so each cell is a cheap question.
pub struct Oracle<'w> {
    world: &'w World,
    policies: Vec<Compiled<'w>>,
}

struct Compiled<'w> {
    namespace: &'w str,
    name: &'w str,
    selector: Selector,
    /// `None` when the policy does not cover that direction.
    ingress: Option<Vec<Rule<'w>>>,
    egress: Option<Vec<Rule<'w>>>,
}

struct Rule<'w> {
    /// Empty: every peer.
    peers: Vec<Peer>,
    /// Empty: every port of every protocol.
    ports: &'w [NetworkPolicyPort],
}

enum Peer {
    Pods {
        pods: Option<Selector>,
        namespaces: Option<Selector>,
        own_namespace: String,
    },
    Block {
        cidr: Cidr,
        except: Vec<Cidr>,
    },
}

/// Why a policy could not be read; validated cases never produce one.
#[derive(Debug, thiserror::Error)]
#[error("policy {policy}: {reason}")]
pub struct OracleError {
    pub policy: String,
    pub reason: String,
}

impl<'w> Oracle<'w> {
    pub fn new(world: &'w World) -> Result<Oracle<'w>, OracleError> {
        let policies = world
            .policies
            .values()
            .map(compile)
            .collect::<Result<_, _>>()?;
        Ok(Oracle { world, policies })
    }

    /// May `from` reach `to` on `probe`? Egress at the source AND ingress at the destination.
    pub fn reach(&self, from: &Pod, to: &Pod, probe: Probe) -> Reach {
        let allowed = self.allows(Direction::Egress, from, to, probe)
            && self.allows(Direction::Ingress, to, from, probe);
        Reach::from_allowed(allowed)
    }

    /// Whether `pod`'s side lets traffic with `peer` through in `direction`.
    fn allows(&self, direction: Direction, pod: &Pod, peer: &Pod, probe: Probe) -> bool {
        let mut isolated = false;
        for policy in self.selecting(pod, direction) {
            isolated = true;
            let rules = policy.rules(direction).unwrap_or_default();
            if rules.iter().any(|rule| {
                self.rule_allows(rule, direction, pod, peer, probe)
                    .is_some()
            }) {
                return true;
            }
        }
        !isolated
    }

    fn selecting<'a>(
        &'a self,
        pod: &'a Pod,
        direction: Direction,
    ) -> impl Iterator<Item = &'a Compiled<'w>> + 'a {
        self.policies
            .iter()
            .filter(move |p| p.rules(direction).is_some() && p.selects(pod))
    }

    /// `Some((peer, port))` indexes when the rule allows; `None` index means "any".
    fn rule_allows(
        &self,
        rule: &Rule,
        direction: Direction,
        pod: &Pod,
        peer: &Pod,
        probe: Probe,
    ) -> Option<(Option<usize>, Option<usize>)> {
        let peer_index = self.matching_peer(rule, peer, probe.family)?;
        // The port is always the destination's: for ingress `pod`, for egress `peer`.
        let destination = match direction {
            Direction::Ingress => pod,
            Direction::Egress => peer,
        };
        let port_index = matching_port(rule.ports, destination, probe)?;
        Some((peer_index, port_index))
    }

    fn matching_peer(&self, rule: &Rule, peer: &Pod, family: Family) -> Option<Option<usize>> {
        if rule.peers.is_empty() {
            return Some(None);
        }
        rule.peers
            .iter()
            .position(|p| self.peer_matches(p, peer, family))
            .map(Some)
    }

    /// Whether `pod`, seen over `family`, is `peer`: selectors match the pod
    /// whatever the family; an ipBlock matches the pod's address of that
    /// family (a block of the other family never does, and a pod without an
    /// address of the family is in no block of it).
    fn peer_matches(&self, peer: &Peer, pod: &Pod, family: Family) -> bool {
        match peer {
            Peer::Pods {
                pods,
                namespaces,
                own_namespace,
            } => {
                let namespace_ok = match namespaces {
                    Some(selector) => self
                        .world
                        .namespace_labels(&pod.id.namespace)
                        .is_some_and(|labels| selector.matches(labels)),
                    None => pod.id.namespace == *own_namespace,
                };
                namespace_ok && pods.as_ref().is_none_or(|s| s.matches(&pod.labels))
            }
            Peer::Block { cidr, except } => {
                let Some(ip) = self
                    .world
                    .addresses
                    .ips
                    .get(&pod.id)
                    .and_then(|ips| ips.of(family))
                else {
                    return false;
                };
                cidr.contains(ip) && !except.iter().any(|e| e.contains(ip))
            }
        }
    }
}

/// The index of the first port entry that admits `probe` on `destination`.
fn matching_port(
    ports: &[NetworkPolicyPort],
    destination: &Pod,
    probe: Probe,
) -> Option<Option<usize>> {
    if ports.is_empty() {
        return Some(None);
    }
    ports
        .iter()
        .position(|p| port_matches(p, destination, probe))
        .map(Some)
}

fn port_matches(port: &NetworkPolicyPort, destination: &Pod, probe: Probe) -> bool {
    let protocol = port
        .protocol
        .as_deref()
        .map_or(Some(Protocol::Tcp), Protocol::from_api_name);
    if protocol != Some(probe.protocol) {
        return false;
    }
    match &port.port {
        None => true,
        Some(IntOrString::Int(start)) => {
            let end = port.end_port.unwrap_or(*start);
            (*start..=end).contains(&i32::from(probe.port))
        }
        // A named port is the destination pod's container port of that name and protocol.
        Some(IntOrString::String(name)) => destination
            .ports
            .iter()
            .any(|c| c.name == *name && c.protocol == probe.protocol && c.port == probe.port),
    }
}

impl<'w> Compiled<'w> {
    /// A policy selects pods of its own namespace that match its podSelector.
    fn selects(&self, pod: &Pod) -> bool {
        self.namespace == pod.id.namespace && self.selector.matches(&pod.labels)
    }

    fn rules(&self, direction: Direction) -> Option<&[Rule<'w>]> {
        match direction {
            Direction::Ingress => self.ingress.as_deref(),
            Direction::Egress => self.egress.as_deref(),
        }
    }
}

/// Which directions a policy covers: `policyTypes` when given; otherwise Ingress,
/// plus Egress when it has at least one egress rule (the API server's default).
pub fn policy_types(policy: &NetworkPolicy) -> (bool, bool) {
    let spec = policy.spec.as_ref();
    match spec
        .and_then(|s| s.policy_types.as_ref())
        .filter(|t| !t.is_empty())
    {
        Some(types) => (
            types.iter().any(|t| t == "Ingress"),
            types.iter().any(|t| t == "Egress"),
        ),
        None => (
            true,
            spec.and_then(|s| s.egress.as_ref())
                .is_some_and(|e| !e.is_empty()),
        ),
    }
}

fn compile(policy: &NetworkPolicy) -> Result<Compiled<'_>, OracleError> {
    let namespace = policy.metadata.namespace.as_deref().unwrap_or_default();
    let name = policy.metadata.name.as_deref().unwrap_or_default();
    let error = |reason: String| {
        let (ns, name) = policy_key(policy);
        OracleError {
            policy: format!("{ns}/{name}"),
            reason,
        }
    };
    let spec = policy.spec.as_ref();
    let selector = selector(spec.and_then(|s| s.pod_selector.as_ref())).map_err(error)?;
    let (has_ingress, has_egress) = policy_types(policy);
    let ingress = spec
        .filter(|_| has_ingress)
        .map(|s| {
            s.ingress
                .iter()
                .flatten()
                .map(|r| compile_rule(r.from.as_deref(), r.ports.as_deref(), namespace))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(error)?;
    let egress = spec
        .filter(|_| has_egress)
        .map(|s| {
            s.egress
                .iter()
                .flatten()
                .map(|r| compile_rule(r.to.as_deref(), r.ports.as_deref(), namespace))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(error)?;
    Ok(Compiled {
        namespace,
        name,
        selector,
        ingress,
        egress,
    })
}

fn compile_rule<'w>(
    peers: Option<&[NetworkPolicyPeer]>,
    ports: Option<&'w [NetworkPolicyPort]>,
    namespace: &str,
) -> Result<Rule<'w>, String> {
    let peers = peers
        .unwrap_or_default()
        .iter()
        .map(|peer| match &peer.ip_block {
            Some(block) => Ok(Peer::Block {
                cidr: block.cidr.parse()?,
                except: block
                    .except
                    .iter()
                    .flatten()
                    .map(|e| e.parse())
                    .collect::<Result<_, _>>()?,
            }),
            None => Ok(Peer::Pods {
                pods: peer
                    .pod_selector
                    .as_ref()
                    .map(|s| selector(Some(s)))
                    .transpose()?,
                namespaces: peer
                    .namespace_selector
                    .as_ref()
                    .map(|s| selector(Some(s)))
                    .transpose()?,
                own_namespace: namespace.to_owned(),
            }),
        })
        .collect::<Result<_, String>>()?;
    Ok(Rule {
        peers,
        ports: ports.unwrap_or_default(),
    })
}

fn selector(selector: Option<&LabelSelector>) -> Result<Selector, String> {
    selector
        .cloned()
        .unwrap_or_default()
        .try_into()
        .map_err(|e: kube_core::ParseExpressionError| e.0)
}
