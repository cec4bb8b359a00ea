//! The part of a snapshot a cluster could hold, as a snapshot for the
//! compiler and as the oracle's world: the comparison of `agreement.rs`
//! then judges the compiler's rulesets on snapshots written by hand (the
//! enforcer's golden files, `tests/enforcer_eval.rs`) or by the fuzzer
//! (`fuzz/src/checks.rs`, which includes this file by path, as does the
//! replay of its corpus).
//!
//! What the API server would refuse is left out, one object at a time,
//! rather than guessed at: namespaces and pods with invalid names or labels
//! (and the pods of such a namespace), invalid container ports, a second
//! pod of one name or IPv4 address, and every policy the harness's case
//! loader (which validates as the API server does) refuses. IPv6 pods stay
//! in the compiled snapshot (they must not change what IPv4 pods get) but
//! are not compared: the oracle sees pods by their IPv4 address.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use netpol_enforcer::eval::Endpoint;
use netpol_enforcer::{ContainerPort as EnforcerPort, Snapshot};
use netpol_harness::case::{self, rules};
use netpol_harness::model::{
    Addresses, Change, ContainerPort, Model, NAMESPACE_NAME_LABEL, Namespace, Pod, PodId, PodIps,
    Probe, Protocol, World,
};

/// Ports probed per protocol, at most: the ones the policies and pods name come first.
const PORTS_PER_PROTOCOL: usize = 4;

/// The valid part of a snapshot, for both sides.
pub struct Projection {
    /// What the compiler is given.
    pub snapshot: Snapshot,
    /// What the oracle is given: the same namespaces, IPv4 pods and policies.
    pub world: World,
    /// Every pod of `world`, in model order, where the fabric finds it.
    pub endpoints: Vec<Endpoint>,
    pub probes: Vec<Probe>,
}

fn labels_valid(labels: &BTreeMap<String, String>) -> bool {
    labels
        .iter()
        .all(|(k, v)| rules::label_key(k).is_ok() && rules::label_value(v).is_ok())
}

fn ports_valid(ports: &[EnforcerPort]) -> Option<Vec<ContainerPort>> {
    ports
        .iter()
        .map(|port| {
            let protocol = Protocol::from_api_name(&port.protocol)?;
            let named_ok = port.name.is_empty() || rules::port_name(&port.name).is_ok();
            (port.port != 0 && named_ok).then(|| ContainerPort {
                name: port.name.clone(),
                port: port.port,
                protocol,
            })
        })
        .collect()
}

/// The valid part of `snapshot`; `None` when it has fewer than two IPv4
/// pods, so nothing to compare.
pub fn project(snapshot: &Snapshot) -> Option<Projection> {
    let mut kept = Snapshot {
        generation: snapshot.generation,
        ..Snapshot::default()
    };
    let mut namespaces: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut refused = BTreeSet::new();
    for namespace in &snapshot.namespaces {
        let mut labels = namespace.labels.clone();
        let named = labels
            .entry(NAMESPACE_NAME_LABEL.to_owned())
            .or_insert_with(|| namespace.name.clone());
        let valid = *named == namespace.name
            && labels_valid(&labels)
            && rules::dns_label(&namespace.name).is_ok();
        if !valid || namespaces.contains_key(&namespace.name) {
            refused.insert(namespace.name.clone());
            continue;
        }
        namespaces.insert(namespace.name.clone(), labels);
        kept.namespaces.push(namespace.clone());
    }
    let (mut names, mut v4_seen) = (BTreeSet::new(), BTreeSet::new());
    let (mut pods, mut addresses, mut endpoints) = (Vec::new(), Addresses::default(), Vec::new());
    for pod in &snapshot.pods {
        let valid = !refused.contains(&pod.namespace)
            && rules::dns_label(&pod.namespace).is_ok()
            && rules::dns_subdomain(&pod.name).is_ok()
            && labels_valid(&pod.labels);
        let Some(ports) = ports_valid(&pod.ports).filter(|_| valid) else {
            continue;
        };
        let fresh_address = match pod.ip {
            IpAddr::V4(v4) => v4_seen.insert(v4),
            IpAddr::V6(_) => true,
        };
        if !fresh_address || !names.insert((pod.namespace.clone(), pod.name.clone())) {
            continue;
        }
        kept.pods.push(pod.clone());
        // A namespace only pods name exists, with the label the API server gives it.
        namespaces.entry(pod.namespace.clone()).or_insert_with(|| {
            BTreeMap::from([(NAMESPACE_NAME_LABEL.to_owned(), pod.namespace.clone())])
        });
        let IpAddr::V4(v4) = pod.ip else { continue };
        let id = PodId::new(&pod.namespace, &pod.name);
        addresses.ips.insert(id.clone(), PodIps { v4, v6: None });
        endpoints.push(Endpoint {
            ip: pod.ip,
            node: pod.node.clone(),
        });
        pods.push(Pod {
            id,
            labels: pod.labels.clone(),
            ports,
        });
    }
    if pods.len() < 2 {
        return None;
    }
    let model = Model {
        namespaces: namespaces
            .into_iter()
            .map(|(name, labels)| Namespace { name, labels })
            .collect(),
        pods,
    };
    let mut world = World::new(model.clone(), addresses.clone());
    let mut policy_names = BTreeSet::new();
    for policy in &snapshot.policies {
        let Some(change) = serde_json::to_value(policy)
            .ok()
            .and_then(|value| loaded(value, &model, &addresses))
        else {
            continue;
        };
        if let Change::Apply(read) = &change
            && !policy_names.insert(netpol_harness::model::policy_key(read))
        {
            continue;
        }
        world.apply(&change).ok()?;
        kept.policies.push(policy.clone());
    }
    let probes = probes(&kept);
    Some(Projection {
        snapshot: kept,
        world,
        endpoints,
        probes,
    })
}

/// One policy through the harness's case loader, or `None` when it refuses it.
fn loaded(mut value: serde_json::Value, model: &Model, addresses: &Addresses) -> Option<Change> {
    value["apiVersion"] = "networking.k8s.io/v1".into();
    value["kind"] = "NetworkPolicy".into();
    // JSON is YAML (flow style); a string YAML cannot carry fails to load, and is left out.
    let text = format!(
        "name: fuzz\npolicies:\n  - {}\nexpect: oracle\n",
        serde_json::to_string(&value).ok()?
    );
    let case = case::parse_case(&text, Path::new("fuzz.yaml"), model).ok()?;
    let action = case.steps.first()?.actions.first()?;
    action.resolve(model, addresses).ok()
}

/// The ports worth probing: per protocol, the numbers the policies and the
/// pods name, with the edges of port ranges, then 80.
fn probes(snapshot: &Snapshot) -> Vec<Probe> {
    let mut wanted: BTreeMap<Protocol, Vec<u16>> = BTreeMap::new();
    let mut add = |protocol: Protocol, port: i64| {
        let Ok(port) = u16::try_from(port) else {
            return;
        };
        let list = wanted.entry(protocol).or_default();
        if port != 0 && !list.contains(&port) {
            list.push(port);
        }
    };
    for policy in &snapshot.policies {
        let spec = policy.spec.as_ref();
        let ingress = spec.and_then(|s| s.ingress.as_ref()).into_iter().flatten();
        let egress = spec.and_then(|s| s.egress.as_ref()).into_iter().flatten();
        let ports = ingress
            .flat_map(|r| r.ports.iter().flatten())
            .chain(egress.flat_map(|r| r.ports.iter().flatten()));
        for port in ports {
            let Some(protocol) = Protocol::from_api_name(port.protocol.as_deref().unwrap_or("TCP"))
            else {
                continue;
            };
            // A number, not a name (an IntOrString, read through JSON).
            let number = serde_json::to_value(&port.port)
                .ok()
                .and_then(|v| v.as_i64());
            if let Some(first) = number {
                add(protocol, first);
                add(protocol, first - 1);
                if let Some(end) = port.end_port {
                    add(protocol, i64::from(end));
                    add(protocol, i64::from(end) + 1);
                }
            }
        }
    }
    for pod in &snapshot.pods {
        for port in &pod.ports {
            if let Some(protocol) = Protocol::from_api_name(&port.protocol) {
                add(protocol, i64::from(port.port));
            }
        }
    }
    Protocol::ALL
        .into_iter()
        .flat_map(|protocol| {
            let mut ports = wanted.get(&protocol).cloned().unwrap_or_default();
            ports.truncate(PORTS_PER_PROTOCOL - 1);
            if !ports.contains(&80) {
                ports.push(80);
            }
            ports
                .into_iter()
                .map(move |port| Probe::new(protocol, port))
        })
        .collect()
}
