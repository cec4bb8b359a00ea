//! The compiler's input: the cluster as one node's enforcer needs to see it.
//! The harness (or the controller's index) writes it as JSON; decoding is
//! strict so that a renamed field fails loudly instead of being ignored.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde::{Deserialize, Serialize};

/// Everything the compiler reads. `generation` is echoed in the status file
/// so the writer knows which snapshot a ruleset came from.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub generation: u64,
    #[serde(default)]
    pub namespaces: Vec<Namespace>,
    #[serde(default)]
    pub pods: Vec<Pod>,
    #[serde(default)]
    pub policies: Vec<NetworkPolicy>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Namespace {
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub node: String,
    /// The pod's address (`status.podIP`).
    pub ip: IpAddr,
    /// Every address of a dual-stack pod (`status.podIPs`, one per family;
    /// `ip` among them): each is matched as the pod, and each gets the pod's
    /// rules. Empty (and left out) for a pod with `ip` alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<IpAddr>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub ports: Vec<ContainerPort>,
}

/// A container port, for resolving named ports.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerPort {
    /// Empty for an unnamed port (it then matches no named port).
    #[serde(default)]
    pub name: String,
    pub port: u16,
    /// `TCP`, `UDP` or `SCTP`; `TCP` when absent, as in a pod spec.
    #[serde(default = "tcp")]
    pub protocol: String,
}

fn tcp() -> String {
    "TCP".to_string()
}

impl Pod {
    /// `namespace/name`, the way people and warnings name a pod.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Every address of the pod, `ip` first, each once.
    pub fn addresses(&self) -> Vec<IpAddr> {
        let mut out = vec![self.ip];
        for ip in &self.ips {
            if !out.contains(ip) {
                out.push(*ip);
            }
        }
        out
    }

    /// The pod once per address, each copy with that address alone: the
    /// compiler keys everything by address, so a dual-stack pod is two
    /// entries of one identity, one per family.
    pub fn per_address(&self) -> Vec<Pod> {
        self.addresses()
            .into_iter()
            .map(|ip| Pod {
                ip,
                ips: Vec::new(),
                ..self.clone()
            })
            .collect()
    }
}

/// The label the API server puts on every namespace (GA since 1.22); added
/// when a snapshot leaves it out, so `kubernetes.io/metadata.name` selectors
/// behave as in a cluster.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

impl Snapshot {
    /// Reads a snapshot from JSON.
    pub fn from_json(text: &[u8]) -> Result<Snapshot, serde_json::Error> {
        serde_json::from_slice(text)
    }

    /// The labels of every namespace, including the ones only pods mention
    /// (with no labels but the name label).
    pub fn namespace_labels(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut all: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for namespace in &self.namespaces {
            all.insert(namespace.name.clone(), namespace.labels.clone());
        }
        for pod in &self.pods {
            all.entry(pod.namespace.clone()).or_default();
        }
        for (name, labels) in &mut all {
            labels
                .entry(NAMESPACE_NAME_LABEL.to_string())
                .or_insert_with(|| name.clone());
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_errors() {
        let error = Snapshot::from_json(br#"{"generation": 1, "pod": []}"#).unwrap_err();
        assert!(error.to_string().contains("unknown field `pod`"), "{error}");
    }

    #[test]
    fn namespaces_get_their_name_label() {
        let snapshot: Snapshot = serde_json::from_value(serde_json::json!({
            "generation": 1,
            "namespaces": [{"name": "x", "labels": {"ns": "x"}}],
            "pods": [{"namespace": "y", "name": "a", "node": "n", "ip": "10.0.0.1"}]
        }))
        .unwrap();
        let labels = snapshot.namespace_labels();
        assert_eq!(labels["x"][NAMESPACE_NAME_LABEL], "x");
        assert_eq!(labels["x"]["ns"], "x");
        assert_eq!(labels["y"][NAMESPACE_NAME_LABEL], "y");
    }
}
