//! The live state of the model world: addresses, labels, policies, and the
//! changes steps make to them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use k8s_openapi::api::networking::v1::NetworkPolicy;

use super::{Family, Labels, Model, PodId};

/// The addresses a backend gave the pods.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Addresses {
    pub ips: BTreeMap<PodId, PodIps>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodIps {
    pub v4: Ipv4Addr,
    pub v6: Option<Ipv6Addr>,
}

impl PodIps {
    /// The pod's address of `family`, if it has one.
    pub fn of(&self, family: Family) -> Option<IpAddr> {
        match family {
            Family::V4 => Some(IpAddr::V4(self.v4)),
            Family::V6 => self.v6.map(IpAddr::V6),
        }
    }
}

/// Which object a label change applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelTarget {
    Pod(PodId),
    Namespace(String),
}

impl fmt::Display for LabelTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelTarget::Pod(pod) => write!(f, "pod {pod}"),
            LabelTarget::Namespace(ns) => write!(f, "namespace {ns}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelChange {
    pub target: LabelTarget,
    pub set: Labels,
    pub remove: Vec<String>,
}

impl LabelChange {
    pub fn apply_to(&self, labels: &mut Labels) {
        for key in &self.remove {
            labels.remove(key);
        }
        labels.extend(self.set.clone());
    }
}

/// One change to the world, with templates already resolved.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Apply(Box<NetworkPolicy>),
    Delete { namespace: String, name: String },
    Label(LabelChange),
}

/// The live state of the model world: current labels and policies.
#[derive(Clone, Debug, PartialEq)]
pub struct World {
    pub model: Model,
    pub addresses: Addresses,
    /// Keyed by (namespace, name); apply replaces.
    pub policies: BTreeMap<(String, String), NetworkPolicy>,
}

impl World {
    pub fn new(model: Model, addresses: Addresses) -> World {
        World {
            model,
            addresses,
            policies: BTreeMap::new(),
        }
    }

    /// Applies one change. Fails only on a change that names something absent,
    /// which validation rules out for cases.
    pub fn apply(&mut self, change: &Change) -> Result<(), String> {
        match change {
            Change::Apply(policy) => {
                let key = policy_key(policy);
                self.policies.insert(key, (**policy).clone());
            }
            Change::Delete { namespace, name } => {
                self.policies
                    .remove(&(namespace.clone(), name.clone()))
                    .ok_or_else(|| format!("no policy {namespace}/{name} to delete"))?;
            }
            Change::Label(label) => {
                let labels = match &label.target {
                    LabelTarget::Pod(id) => self
                        .model
                        .pods
                        .iter_mut()
                        .find(|p| &p.id == id)
                        .map(|p| &mut p.labels),
                    LabelTarget::Namespace(name) => self
                        .model
                        .namespaces
                        .iter_mut()
                        .find(|n| &n.name == name)
                        .map(|n| &mut n.labels),
                };
                label.apply_to(labels.ok_or_else(|| format!("no {} to label", label.target))?);
            }
        }
        Ok(())
    }

    pub fn namespace_labels(&self, name: &str) -> Option<&Labels> {
        self.model
            .namespaces
            .iter()
            .find(|n| n.name == name)
            .map(|n| &n.labels)
    }
}

/// `(namespace, name)` of a policy; validated cases always have both.
pub fn policy_key(policy: &NetworkPolicy) -> (String, String) {
    (
        policy.metadata.namespace.clone().unwrap_or_default(),
        policy.metadata.name.clone().unwrap_or_default(),
    )
}
