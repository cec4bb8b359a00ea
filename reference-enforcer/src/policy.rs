//! A NetworkPolicy read into the few shapes the compiler works with, or the
//! reason it could not be read. Reading is all-or-nothing per policy: a
//! policy with any part the compiler does not understand keeps its isolation
//! and loses every allow (fail closed), because enforcing half of a rule
//! could open what its author meant to close.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube_core::{Selector, SelectorExt};

use crate::addr::{self, IpRange};
use crate::snapshot::Pod;

pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const SCTP: u8 = 132;

/// The protocol number of a Kubernetes protocol name (case-sensitive, as the API is).
pub fn protocol_number(name: &str) -> Option<u8> {
    match name {
        "TCP" => Some(TCP),
        "UDP" => Some(UDP),
        "SCTP" => Some(SCTP),
        _ => None,
    }
}

/// Which pods a policy applies to.
#[derive(Clone, Debug)]
pub enum Scope {
    /// The normal case: pods of `namespace` matching the pod selector.
    Selected {
        namespace: String,
        selector: Selector,
    },
    /// The pod selector could not be read: every pod of the namespace.
    Namespace(String),
    /// Not even the namespace is known: every pod.
    Everything,
}

impl Scope {
    pub fn selects(&self, pod: &Pod) -> bool {
        match self {
            Scope::Selected {
                namespace,
                selector,
            } => pod.namespace == *namespace && selector.matches(&pod.labels),
            Scope::Namespace(namespace) => pod.namespace == *namespace,
            Scope::Everything => true,
        }
    }
}

/// One policy, read.
#[derive(Clone, Debug)]
pub struct Policy {
    /// `namespace/name`.
    pub id: String,
    pub scope: Scope,
    /// `Some` iff the policy covers ingress; the rules are empty when broken.
    pub ingress: Option<Vec<Rule>>,
    pub egress: Option<Vec<Rule>>,
    /// Why the policy was not understood; it then allows nothing.
    pub problem: Option<String>,
}

/// One ingress or egress rule. `None` means "any" (missing or empty list).
#[derive(Clone, Debug)]
pub struct Rule {
    pub peers: Option<Vec<Peer>>,
    pub ports: Option<Vec<Port>>,
}

#[derive(Clone, Debug)]
pub enum Peer {
    Pods {
        namespaces: Namespaces,
        pods: Selector,
    },
    /// The CIDR minus its excepts, as disjoint ranges.
    Block(Vec<IpRange>),
}

#[derive(Clone, Debug)]
pub enum Namespaces {
    /// The policy's own namespace (a peer with only a pod selector).
    Own(String),
    Matching(Selector),
}

impl Peer {
    /// True when `pod` is this peer; `namespaces` holds every namespace's labels.
    pub fn matches(
        &self,
        pod: &Pod,
        namespaces: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> bool {
        match self {
            Peer::Pods {
                namespaces: wanted,
                pods,
            } => {
                let namespace_ok = match wanted {
                    Namespaces::Own(own) => pod.namespace == *own,
                    Namespaces::Matching(selector) => namespaces
                        .get(&pod.namespace)
                        .is_some_and(|labels| selector.matches(labels)),
                };
                namespace_ok && pods.matches(&pod.labels)
            }
            Peer::Block(ranges) => ranges.iter().any(|range| range.contains(pod.ip)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    pub protocol: u8,
    pub ports: PortSpec,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortSpec {
    All,
    /// Inclusive; `port` alone is `(port, port)`.
    Range(u16, u16),
    /// Resolved on the destination pod's container ports.
    Named(String),
}

/// Reads a policy. Never fails: problems become `Policy::problem`.
pub fn read(policy: &NetworkPolicy) -> Policy {
    let namespace = policy.metadata.namespace.clone();
    let name = policy.metadata.name.as_deref().unwrap_or("<unnamed>");
    let id = format!(
        "{}/{name}",
        namespace.as_deref().unwrap_or("<no namespace>")
    );
    let spec = policy.spec.clone().unwrap_or_default();

    let (ingress, egress, types_problem) = match directions(&spec.policy_types, &spec.egress) {
        Ok((ingress, egress)) => (ingress, egress, None),
        Err(problem) => (true, true, Some(problem)),
    };
    let Some(namespace) = namespace else {
        let problem = "has no namespace, so it isolates every pod".to_string();
        return broken(id, Scope::Everything, ingress, egress, problem);
    };
    let selector = match selector(spec.pod_selector.as_ref()) {
        Ok(selector) => selector,
        Err(problem) => {
            let problem = format!("pod selector: {problem}");
            return broken(id, Scope::Namespace(namespace), ingress, egress, problem);
        }
    };
    let scope = Scope::Selected {
        namespace: namespace.clone(),
        selector,
    };
    if let Some(problem) = types_problem {
        return broken(id, scope, ingress, egress, problem);
    }

    let ingress_rules = ingress.then(|| {
        let rules = spec.ingress.unwrap_or_default();
        rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                rule(&namespace, &r.from, &r.ports).map_err(|e| format!("ingress[{i}]: {e}"))
            })
            .collect()
    });
    let egress_rules = egress.then(|| {
        let rules = spec.egress.unwrap_or_default();
        rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                rule(&namespace, &r.to, &r.ports).map_err(|e| format!("egress[{i}]: {e}"))
            })
            .collect()
    });
    match (ingress_rules.transpose(), egress_rules.transpose()) {
        (Ok(ingress), Ok(egress)) => Policy {
            id,
            scope,
            ingress,
            egress,
            problem: None,
        },
        (Err(problem), _) | (_, Err(problem)) => broken(id, scope, ingress, egress, problem),
    }
}

fn broken(id: String, scope: Scope, ingress: bool, egress: bool, problem: String) -> Policy {
    Policy {
        id,
        scope,
        ingress: ingress.then(Vec::new),
        egress: egress.then(Vec::new),
        problem: Some(problem),
    }
}

/// The directions a policy covers: `policyTypes` when given, else ingress,
/// plus egress when there is at least one egress rule.
fn directions(
    types: &Option<Vec<String>>,
    egress: &Option<Vec<impl Sized>>,
) -> Result<(bool, bool), String> {
    match types.as_deref() {
        Some(types) if !types.is_empty() => {
            let mut covered = (false, false);
            for kind in types {
                match kind.as_str() {
                    "Ingress" => covered.0 = true,
                    "Egress" => covered.1 = true,
                    other => {
                        return Err(format!(
                            "unknown policy type `{other}`, so it isolates both directions"
                        ));
                    }
                }
            }
            Ok(covered)
        }
        _ => Ok((true, egress.as_ref().is_some_and(|rules| !rules.is_empty()))),
    }
}

/// A label selector, checked more strictly than kube-core does: `In` and
/// `NotIn` need values, `Exists` and `DoesNotExist` take none.
fn selector(selector: Option<&LabelSelector>) -> Result<Selector, String> {
    let Some(selector) = selector else {
        return Ok(Selector::default());
    };
    for requirement in selector.match_expressions.iter().flatten() {
        let values = requirement.values.as_deref().unwrap_or_default();
        match requirement.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                return Err(format!(
                    "operator `{}` on `{}` needs values",
                    requirement.operator, requirement.key
                ));
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(format!(
                    "operator `{}` on `{}` takes no values",
                    requirement.operator, requirement.key
                ));
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => return Err(format!("unknown selector operator `{other}`")),
        }
    }
    Selector::try_from(selector.clone()).map_err(|error| error.to_string())
}

fn rule(
    namespace: &str,
    peers: &Option<Vec<NetworkPolicyPeer>>,
    ports: &Option<Vec<NetworkPolicyPort>>,
) -> Result<Rule, String> {
    let peers = match peers.as_deref() {
        None | Some([]) => None,
        Some(list) => Some(
            list.iter()
                .enumerate()
                .map(|(i, p)| peer(namespace, p).map_err(|e| format!("peer {i}: {e}")))
                .collect::<Result<_, _>>()?,
        ),
    };
    let ports = match ports.as_deref() {
        None | Some([]) => None,
        Some(list) => Some(
            list.iter()
                .enumerate()
                .map(|(i, p)| port(p).map_err(|e| format!("port {i}: {e}")))
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(Rule { peers, ports })
}

fn peer(namespace: &str, peer: &NetworkPolicyPeer) -> Result<Peer, String> {
    let has_selector = peer.pod_selector.is_some() || peer.namespace_selector.is_some();
    if let Some(block) = &peer.ip_block {
        if has_selector {
            return Err("ipBlock cannot be combined with selectors".into());
        }
        let cidr = addr::parse_cidr(&block.cidr).map_err(|e| e.to_string())?;
        let mut holes = Vec::new();
        for except in block.except.iter().flatten() {
            let hole = addr::parse_cidr(except).map_err(|e| format!("except: {e}"))?;
            if !cidr.covers(&hole) {
                return Err(format!(
                    "except `{except}` is not inside cidr `{}`",
                    block.cidr
                ));
            }
            holes.push(hole);
        }
        return Ok(Peer::Block(addr::subtract(cidr, &holes)));
    }
    if !has_selector {
        return Err("a peer needs podSelector, namespaceSelector or ipBlock".into());
    }
    let pods = selector(peer.pod_selector.as_ref()).map_err(|e| format!("pod selector: {e}"))?;
    let namespaces = match &peer.namespace_selector {
        Some(s) => {
            Namespaces::Matching(selector(Some(s)).map_err(|e| format!("namespace selector: {e}"))?)
        }
        None => Namespaces::Own(namespace.to_string()),
    };
    Ok(Peer::Pods { namespaces, pods })
}

fn port(port: &NetworkPolicyPort) -> Result<Port, String> {
    let protocol = match port.protocol.as_deref() {
        None => TCP,
        Some(name) => protocol_number(name).ok_or_else(|| format!("unknown protocol `{name}`"))?,
    };
    let number = |value: i32, what: &str| {
        u16::try_from(value)
            .ok()
            .filter(|&n| n != 0)
            .ok_or_else(|| format!("{what} {value} is not in 1-65535"))
    };
    let ports = match (&port.port, port.end_port) {
        (None, None) => PortSpec::All,
        (None, Some(_)) => return Err("endPort needs a numeric port".into()),
        (Some(IntOrString::Int(first)), end) => {
            let first = number(*first, "port")?;
            let last = match end {
                Some(end) => number(end, "endPort")?,
                None => first,
            };
            if last < first {
                return Err(format!("endPort {last} is below port {first}"));
            }
            PortSpec::Range(first, last)
        }
        (Some(IntOrString::String(_)), Some(_)) => {
            return Err("endPort needs a numeric port".into());
        }
        (Some(IntOrString::String(name)), None) => {
            // IANA service names need a letter; "80" as a string is a mistake, not a name.
            if !name.bytes().any(|b| b.is_ascii_alphabetic()) {
                return Err(format!("`{name}` is not a port name"));
            }
            PortSpec::Named(name.clone())
        }
    };
    Ok(Port { protocol, ports })
}
