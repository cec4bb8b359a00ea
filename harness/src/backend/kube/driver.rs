//! The Kubernetes driver both cluster backends share: every API call the
//! runner makes, through kube-rs (no kubectl). Writes are server-side apply
//! under one field manager; everything created carries the run's labels.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Node, Pod, PodStatus, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;

use super::objects::Names;
use crate::model::{Labels, PodId};
use crate::timeouts::Timeouts;

/// The field manager of every server-side apply.
pub const FIELD_MANAGER: &str = "netpol";

/// Why the driver could not do something.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("{action}")]
    Api {
        action: String,
        #[source]
        source: kube::Error,
    },
    #[error("{what} not Ready within {}s{detail}", within.as_secs())]
    NotReady {
        what: String,
        within: Duration,
        detail: String,
    },
    #[error(
        "namespace `{0}` exists and was not created by netpol: refusing to touch it (delete it, or use another cluster)"
    )]
    Foreign(String),
    #[error("{what} still exists after {}s{detail}", within.as_secs())]
    Lingering {
        what: String,
        within: Duration,
        detail: String,
    },
    #[error("{0}")]
    Missing(String),
}

impl DriverError {
    /// The API server's message when it refused the request as invalid
    /// (422 Invalid, 400 BadRequest, and the 500 server-side apply answers
    /// for a field its schema lacks): the object is wrong, not the cluster.
    pub fn rejection(&self) -> Option<&str> {
        match self {
            DriverError::Api {
                source: kube::Error::Api(status),
                ..
            } if status.code == 422
                || status.code == 400
                || status.message.contains("field not declared in schema") =>
            {
                Some(status.message.as_str())
            }
            _ => None,
        }
    }
}

pub(super) fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> DriverError {
    let action = action.into();
    move |source| DriverError::Api { action, source }
}

/// What the world's pods and Services got from the cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    /// Pod IP and node of each pod.
    pub pods: BTreeMap<PodId, (std::net::IpAddr, String)>,
    pub services: BTreeMap<PodId, std::net::IpAddr>,
}

#[derive(Clone)]
pub struct Driver {
    pub client: Client,
    pub names: Names,
}

impl Driver {
    pub fn new(client: Client, names: Names) -> Driver {
        Driver { client, names }
    }

    pub(super) fn apply_params() -> PatchParams {
        PatchParams::apply(FIELD_MANAGER).force()
    }

    pub async fn apply_pod(&self, pod: &Pod) -> Result<(), DriverError> {
        let (namespace, name) = ns_name(&pod.metadata);
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        pods.patch(&name, &Self::apply_params(), &Patch::Apply(pod))
            .await
            .map_err(api(format!("cannot create pod `{namespace}/{name}`")))?;
        Ok(())
    }

    /// A Node object, for an API server whose nodes the harness provides
    /// itself (no kubelet registers them): addresses and podCIDR as given.
    pub async fn apply_node(&self, node: &Node) -> Result<(), DriverError> {
        let name = node.metadata.name.clone().unwrap_or_default();
        let nodes: Api<Node> = Api::all(self.client.clone());
        nodes
            .patch(&name, &Self::apply_params(), &Patch::Apply(node))
            .await
            .map_err(api(format!("cannot apply node `{name}`")))?;
        Ok(())
    }

    /// Sets a Node's status (addresses, conditions) the way its kubelet
    /// would report it, through the status subresource; for an API server
    /// with no kubelet behind it.
    pub async fn patch_node_status(
        &self,
        name: &str,
        status: &k8s_openapi::api::core::v1::NodeStatus,
    ) -> Result<(), DriverError> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        nodes
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": status })),
            )
            .await
            .map_err(api(format!("cannot set the status of node `{name}`")))?;
        Ok(())
    }

    /// Sets a pod's status (phase, IPs, conditions) the way a kubelet
    /// reports it, through the status subresource; for an API server with no
    /// kubelet behind it. `await_pods` then reads it like any other.
    pub async fn patch_pod_status(
        &self,
        pod: &PodId,
        status: &PodStatus,
    ) -> Result<(), DriverError> {
        let namespace = self.names.namespace(&pod.namespace);
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        pods.patch_status(
            &pod.name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await
        .map_err(api(format!(
            "cannot set the status of pod `{namespace}/{}`",
            pod.name
        )))?;
        Ok(())
    }

    pub async fn apply_service(&self, service: &Service) -> Result<(), DriverError> {
        let (namespace, name) = ns_name(&service.metadata);
        let services: Api<Service> = Api::namespaced(self.client.clone(), &namespace);
        services
            .patch(&name, &Self::apply_params(), &Patch::Apply(service))
            .await
            .map_err(api(format!("cannot create service `{namespace}/{name}`")))?;
        Ok(())
    }

    /// Waits until every pod of the run is Ready, and returns where they are.
    pub async fn await_pods(
        &self,
        expected: &[PodId],
        within: Duration,
    ) -> Result<Placement, DriverError> {
        let started = Instant::now();
        loop {
            let (placement, waiting) = self.placement(expected).await?;
            match waiting {
                None => return Ok(placement),
                Some((pod, detail)) if started.elapsed() >= within => {
                    return Err(DriverError::NotReady {
                        what: format!("pod `{pod}`"),
                        within,
                        detail,
                    });
                }
                Some(_) => tokio::time::sleep(Timeouts::API_POLL).await,
            }
        }
    }

    /// The run's pods and Services as they are now, and the first pod that
    /// is not Ready yet (with what its container is waiting for).
    async fn placement(
        &self,
        expected: &[PodId],
    ) -> Result<(Placement, Option<(PodId, String)>), DriverError> {
        let mut placement = Placement::default();
        let mut waiting = None;
        let selector = ListParams::default().labels(&self.names.selector());
        let mut namespaces: Vec<&str> = expected.iter().map(|p| p.namespace.as_str()).collect();
        namespaces.dedup();
        for model_ns in namespaces {
            let namespace = self.names.namespace(model_ns);
            let pods: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
            let listed = pods
                .list(&selector)
                .await
                .map_err(api(format!("cannot list pods in `{namespace}`")))?;
            for pod in listed.items {
                let name = pod.metadata.name.clone().unwrap_or_default();
                let id = PodId::new(model_ns, &name);
                match ready(&pod) {
                    Ok((ip, node)) => {
                        placement.pods.insert(id, (ip, node));
                    }
                    Err(detail) => {
                        waiting.get_or_insert((id, detail));
                    }
                }
            }
            let services: Api<Service> = Api::namespaced(self.client.clone(), &namespace);
            let listed = services
                .list(&selector)
                .await
                .map_err(api(format!("cannot list services in `{namespace}`")))?;
            for service in listed.items {
                let name = service.metadata.name.clone().unwrap_or_default();
                let ip = service
                    .spec
                    .and_then(|s| s.cluster_ip)
                    .and_then(|ip| ip.parse().ok());
                if let Some(ip) = ip {
                    placement.services.insert(PodId::new(model_ns, &name), ip);
                }
            }
        }
        if waiting.is_none()
            && let Some(missing) = expected.iter().find(|p| !placement.pods.contains_key(p))
        {
            waiting = Some((missing.clone(), " (not created yet)".into()));
        }
        Ok((placement, waiting))
    }

    pub async fn apply_policy(&self, policy: &NetworkPolicy) -> Result<(), DriverError> {
        let policy = self.names.policy_object(policy);
        let (namespace, name) = ns_name(&policy.metadata);
        let policies: Api<NetworkPolicy> = Api::namespaced(self.client.clone(), &namespace);
        policies
            .patch(&name, &Self::apply_params(), &Patch::Apply(&policy))
            .await
            .map_err(api(format!(
                "cannot apply networkpolicy `{namespace}/{name}`"
            )))?;
        Ok(())
    }

    /// Sends a policy as `apply_policy` would, with `dryRun=All`: the API
    /// server validates and defaults it and stores nothing. Unknown fields
    /// are refused (`fieldValidation=Strict`), as a user's `kubectl apply`
    /// refuses them.
    pub async fn dry_run_policy(&self, policy: &NetworkPolicy) -> Result<(), DriverError> {
        let policy = self.names.policy_object(policy);
        let (namespace, name) = ns_name(&policy.metadata);
        let policies: Api<NetworkPolicy> = Api::namespaced(self.client.clone(), &namespace);
        let params = Self::apply_params().dry_run().validation_strict();
        policies
            .patch(&name, &params, &Patch::Apply(&policy))
            .await
            .map_err(api(format!(
                "cannot apply networkpolicy `{namespace}/{name}`"
            )))?;
        Ok(())
    }

    pub async fn delete_policy(
        &self,
        model_namespace: &str,
        name: &str,
    ) -> Result<(), DriverError> {
        let namespace = self.names.namespace(model_namespace);
        let policies: Api<NetworkPolicy> = Api::namespaced(self.client.clone(), &namespace);
        policies
            .delete(name, &DeleteParams::default())
            .await
            .map_err(api(format!(
                "cannot delete networkpolicy `{namespace}/{name}`"
            )))?;
        Ok(())
    }

    /// Sets and removes labels with one merge patch (a removed key is `null`).
    pub async fn label_pod(
        &self,
        pod: &PodId,
        set: &Labels,
        remove: &[String],
    ) -> Result<(), DriverError> {
        let namespace = self.names.namespace(&pod.namespace);
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        pods.patch(
            &pod.name,
            &PatchParams::default(),
            &Patch::Merge(label_patch(set, remove)),
        )
        .await
        .map_err(api(format!("cannot label pod `{namespace}/{}`", pod.name)))?;
        Ok(())
    }

    pub async fn label_namespace(
        &self,
        model_namespace: &str,
        set: &Labels,
        remove: &[String],
    ) -> Result<(), DriverError> {
        let namespace = self.names.namespace(model_namespace);
        let all: Api<Namespace> = Api::all(self.client.clone());
        all.patch(
            &namespace,
            &PatchParams::default(),
            &Patch::Merge(label_patch(set, remove)),
        )
        .await
        .map_err(api(format!("cannot label namespace `{namespace}`")))?;
        Ok(())
    }
}

fn ns_name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

fn label_patch(set: &Labels, remove: &[String]) -> serde_json::Value {
    let mut labels = serde_json::Map::new();
    for key in remove {
        labels.insert(key.clone(), serde_json::Value::Null);
    }
    for (key, value) in set {
        labels.insert(key.clone(), json!(value));
    }
    json!({"metadata": {"labels": labels}})
}

/// A pod's IP and node when it is Ready, else what it is waiting for.
fn ready(pod: &Pod) -> Result<(std::net::IpAddr, String), String> {
    let status = pod.status.as_ref().ok_or(" (no status yet)")?;
    let is_ready = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let waiting = status
        .container_statuses
        .iter()
        .flatten()
        .find_map(|c| c.state.as_ref()?.waiting.as_ref())
        .map(|w| {
            let reason = w.reason.clone().unwrap_or_default();
            match &w.message {
                Some(message) => format!(" ({reason}: {message})"),
                None => format!(" ({reason})"),
            }
        });
    let phase = status.phase.clone().unwrap_or_else(|| "Pending".into());
    if !is_ready {
        return Err(waiting.unwrap_or_else(|| format!(" (phase {phase})")));
    }
    let ip = status
        .pod_ip
        .as_deref()
        .and_then(|ip| ip.parse().ok())
        .ok_or(" (Ready but no pod IP)")?;
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default();
    Ok((ip, node))
}
