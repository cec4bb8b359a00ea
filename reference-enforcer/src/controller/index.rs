//! The cluster as the compiler needs it, built from what the reflectors
//! hold: pure (no IO, no clock), so the same stores always give the same
//! snapshot, and tests feed it by hand.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;

use crate::snapshot::{self, Snapshot};

/// Everything known, keyed by (namespace, name), so iteration is sorted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Index {
    pods: BTreeMap<(String, String), snapshot::Pod>,
    namespaces: BTreeMap<String, snapshot::Namespace>,
    policies: BTreeMap<(String, String), NetworkPolicy>,
}

fn key(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

/// A pod as the compiler sees it, or `None` for pods policies do not
/// apply to or cannot match yet: no IP or node, host-network pods (they
/// have the node's address), and pods that have terminated.
pub fn pod_entry(pod: &Pod) -> Option<snapshot::Pod> {
    let spec = pod.spec.as_ref()?;
    let status = pod.status.as_ref()?;
    if spec.host_network == Some(true) {
        return None;
    }
    if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return None;
    }
    let ip = status.pod_ip.as_deref()?.parse().ok()?;
    // A dual-stack pod lists both addresses in `podIPs` (the first is
    // `podIP`); an address that does not parse is left out, never guessed.
    let ips: Vec<std::net::IpAddr> = status
        .pod_ips
        .iter()
        .flatten()
        .filter_map(|p| p.ip.parse().ok())
        .filter(|other| *other != ip)
        .collect();
    let ips = if ips.is_empty() {
        Vec::new()
    } else {
        std::iter::once(ip).chain(ips).collect()
    };
    let node = spec.node_name.clone()?;
    let ports = spec
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            Some(snapshot::ContainerPort {
                name: p.name.clone().unwrap_or_default(),
                port: u16::try_from(p.container_port).ok()?,
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
            })
        })
        .collect();
    let (namespace, name) = key(&pod.metadata);
    Some(snapshot::Pod {
        namespace,
        name,
        node,
        ip,
        ips,
        labels: pod.metadata.labels.clone().unwrap_or_default(),
        ports,
    })
}

/// Built whole from the reflectors' stores on every reconcile (deletions are
/// what the stores no longer hold), so there is no per-object delete.
impl Index {
    pub fn apply_pod(&mut self, pod: &Pod) {
        let key = key(&pod.metadata);
        match pod_entry(pod) {
            Some(entry) => self.pods.insert(key, entry),
            None => self.pods.remove(&key),
        };
    }

    pub fn apply_namespace(&mut self, namespace: &Namespace) {
        let name = namespace.metadata.name.clone().unwrap_or_default();
        let labels = namespace.metadata.labels.clone().unwrap_or_default();
        self.namespaces
            .insert(name.clone(), snapshot::Namespace { name, labels });
    }

    pub fn apply_policy(&mut self, policy: &NetworkPolicy) {
        self.policies.insert(key(&policy.metadata), policy.clone());
    }

    /// The index of everything in three reflector stores.
    pub fn from_objects<'a>(
        pods: impl IntoIterator<Item = &'a Pod>,
        namespaces: impl IntoIterator<Item = &'a Namespace>,
        policies: impl IntoIterator<Item = &'a NetworkPolicy>,
    ) -> Index {
        let mut index = Index::default();
        pods.into_iter().for_each(|p| index.apply_pod(p));
        namespaces
            .into_iter()
            .for_each(|n| index.apply_namespace(n));
        policies.into_iter().for_each(|p| index.apply_policy(p));
        index
    }

    /// The compiler's input; `generation` numbers the snapshots a controller
    /// has made, for its log.
    pub fn snapshot(&self, generation: u64) -> Snapshot {
        Snapshot {
            generation,
            namespaces: self.namespaces.values().cloned().collect(),
            pods: self.pods.values().cloned().collect(),
            policies: self.policies.values().cloned().collect(),
        }
    }
}
