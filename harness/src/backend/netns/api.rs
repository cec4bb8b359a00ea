//! The netns world as API objects (`netpol run --control-plane`): etcd and
//! kube-apiserver on the fabric (`controlplane/`), then, through the kube
//! driver the cluster backends use, namespaces x, y, z with the model's
//! labels, one Node per netns node and the nine pods bound to their nodes.
//! No kubelet runs, so the harness writes what one would: each Node's
//! addresses and Ready condition, each pod's phase, IPs and Ready condition,
//! before anything probes. One Service per pod is created as the driver
//! makes them, but no kube-proxy runs: probes go to pod IPs (netns probing,
//! real packets in the namespaces).

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, NodeStatus, PodStatus};

use super::topology::{BRIDGE, NET_V6_PREFIX, NETNS_PREFIX, NodePlan, PodPlan, Topology};
use crate::backend::kube::objects::{CONTAINER, MANAGED_BY, RUN_LABEL};
use crate::backend::kube::{Driver, DriverError, KubeWorld, Names, ServiceAccounts, WorldOptions};
use crate::controlplane::fabric::Attachment;
use crate::controlplane::{self, Binaries, ControlPlane, ControlPlaneError, Spec};
use crate::model::{Addresses, Change, Model, Protocol};

/// The image pods name: nothing pulls it (no kubelet), so it only documents
/// what serves in the pod's namespace.
pub const AGENT_IMAGE: &str = "netpol-probe:netns";

/// A running control plane and the world's objects in it.
pub struct ApiWorld {
    pub plane: ControlPlane,
    pub kube: KubeWorld,
    /// When the API server answered the last write of the latest `change`:
    /// time to enforce counts from there.
    pub written: Option<Instant>,
    /// Measured at setup.
    pub objects_took: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiWorldError {
    #[error("the control plane did not start")]
    Start(#[source] ControlPlaneError),
    #[error("the world's API objects")]
    Driver(#[source] DriverError),
    #[error("{0}")]
    Mismatch(String),
}

/// The control plane's namespace of a run.
pub fn control_plane_netns(run_id: &str) -> String {
    format!("{NETNS_PREFIX}{run_id}-cp")
}

/// What `ControlPlane::start` needs for a netns world.
pub fn spec(run_dir: &std::path::Path, topology: &Topology, binaries: Binaries) -> Spec {
    Spec {
        run_dir: run_dir.to_owned(),
        attachment: Attachment {
            netns: control_plane_netns(&topology.run_id),
            fabric: topology.fabric.clone(),
            bridge: BRIDGE.into(),
            address: controlplane::ADDRESS,
            prefix_len: 24,
        },
        binaries,
    }
}

fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("the object's JSON is written here, in its schema")
}

/// A Node as its kubelet would register it: named as in snapshots, its
/// pod /24 as `spec.podCIDR`, and, the world being dual-stack, its pod /24
/// and /64 as `spec.podCIDRs` (IPv4 first: the primary family leads, as
/// kube-controller-manager allocates them).
pub fn node_object(node: &NodePlan, run_id: &str) -> Node {
    let cidr = format!("{}/24", node.pod_net);
    let cidr6 = format!("{}/{NET_V6_PREFIX}", node.pod_net6);
    from_json(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node.name,
            "labels": {
                "kubernetes.io/hostname": node.name,
                "kubernetes.io/os": "linux",
                MANAGED_BY.0: MANAGED_BY.1,
                RUN_LABEL: run_id,
            },
        },
        "spec": {"podCIDR": cidr, "podCIDRs": [cidr, cidr6]},
    }))
}

/// What a kubelet would report for the node: its fabric addresses (one
/// InternalIP per family, IPv4 first: engines that take one node IP take
/// the first), Ready.
pub fn node_status(node: &NodePlan) -> NodeStatus {
    from_json(serde_json::json!({
        "addresses": [
            {"type": "InternalIP", "address": node.fabric_ip.to_string()},
            {"type": "InternalIP", "address": node.fabric_ip6.to_string()},
            {"type": "Hostname", "address": node.name},
        ],
        "conditions": [{
            "type": "Ready",
            "status": "True",
            "reason": "NetnsNodeReady",
            "message": "a netns node: netpol writes this status, no kubelet runs",
        }],
    }))
}

/// What a kubelet would report for a running pod: Running, Ready, its IPs
/// in its namespace (`podIP` the IPv4 one, `podIPs` both families, IPv4
/// first), its node's fabric IPs as the host IPs.
pub fn pod_status(pod: &PodPlan, node: &NodePlan) -> PodStatus {
    let conditions: Vec<serde_json::Value> =
        ["PodScheduled", "Initialized", "ContainersReady", "Ready"]
            .iter()
            .map(|kind| serde_json::json!({"type": kind, "status": "True"}))
            .collect();
    from_json(serde_json::json!({
        "phase": "Running",
        "conditions": conditions,
        "podIP": pod.ip.to_string(),
        "podIPs": [{"ip": pod.ip.to_string()}, {"ip": pod.ip6.to_string()}],
        "hostIP": node.fabric_ip.to_string(),
        "hostIPs": [
            {"ip": node.fabric_ip.to_string()},
            {"ip": node.fabric_ip6.to_string()},
        ],
        "containerStatuses": [{
            "name": CONTAINER,
            "image": AGENT_IMAGE,
            "imageID": "",
            "ready": true,
            "started": true,
            "restartCount": 0,
            "state": {"running": {}},
        }],
    }))
}

impl ApiWorld {
    /// Starts the control plane on the world's fabric and creates the world
    /// as API objects. On error, what was started is stopped (drop).
    pub async fn start(
        spec: &Spec,
        topology: &Topology,
        model: &Model,
        protocols: &[Protocol],
    ) -> Result<ApiWorld, ApiWorldError> {
        let plane = ControlPlane::start(spec)
            .await
            .map_err(ApiWorldError::Start)?;
        let client = plane.client().map_err(ApiWorldError::Start)?;
        let driver = Driver::new(client, Names::plain(&topology.run_id));
        let options = WorldOptions {
            probe_image: AGENT_IMAGE.into(),
            pull_policy: "Never".into(),
            via: crate::backend::kube::ProbeVia::Pod,
            protocols: protocols.to_vec(),
            service_accounts: ServiceAccounts::Create,
        };
        let mut kube = KubeWorld::new(driver, options);
        kube.bindings = topology
            .pods
            .iter()
            .map(|p| (p.id.clone(), topology.nodes[p.node].name.clone()))
            .collect();
        let mut world = ApiWorld {
            plane,
            kube,
            written: None,
            objects_took: Duration::ZERO,
        };
        let started = Instant::now();
        world.create(topology, model).await?;
        world.objects_took = started.elapsed();
        Ok(world)
    }

    async fn create(&mut self, topology: &Topology, model: &Model) -> Result<(), ApiWorldError> {
        let driver = self.kube.driver.clone();
        for node in &topology.nodes {
            driver
                .apply_node(&node_object(node, &topology.run_id))
                .await
                .map_err(ApiWorldError::Driver)?;
            driver
                .patch_node_status(&node.name, &node_status(node))
                .await
                .map_err(ApiWorldError::Driver)?;
        }
        self.kube
            .create(model)
            .await
            .map_err(ApiWorldError::Driver)?;
        for pod in &topology.pods {
            driver
                .patch_pod_status(&pod.id, &pod_status(pod, &topology.nodes[pod.node]))
                .await
                .map_err(ApiWorldError::Driver)?;
        }
        let addresses = self
            .kube
            .await_ready(model, crate::timeouts::Timeouts::POD_READY)
            .await
            .map_err(ApiWorldError::Driver)?;
        check_addresses(&addresses, topology)
    }

    /// One step's changes through the API: server-side apply, delete, label
    /// patches; `written` is when the last was answered.
    pub async fn change(&mut self, changes: &[Change]) -> Result<(), DriverError> {
        self.written = None;
        self.kube.change(changes).await?;
        self.written = Some(Instant::now());
        Ok(())
    }
}

/// The API must hold the addresses the namespaces have: a pod whose API IP
/// differs from its interface's would make the enforcer's rules miss it.
fn check_addresses(addresses: &Addresses, topology: &Topology) -> Result<(), ApiWorldError> {
    for pod in &topology.pods {
        let api = addresses.ips.get(&pod.id).map(|ips| ips.v4);
        if api != Some(pod.ip) {
            return Err(ApiWorldError::Mismatch(format!(
                "pod {} has {} in its namespace but {api:?} in the API",
                pod.id, pod.ip
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_and_pods_carry_the_topology_addresses_in_the_api_schema() {
        let topology = Topology::plan(&Model::default(), "abc123");
        let node = node_object(&topology.nodes[1], "abc123");
        let spec = node.spec.expect("spec");
        assert_eq!(spec.pod_cidr.as_deref(), Some("10.244.2.0/24"));
        assert_eq!(node.metadata.name.as_deref(), Some("node2"));
        let status = node_status(&topology.nodes[1]);
        let addresses = status.addresses.expect("addresses");
        assert_eq!(addresses[0].address, "10.255.0.2");
        let pod = &topology.pods[1];
        let status = pod_status(pod, &topology.nodes[pod.node]);
        assert_eq!(status.pod_ip, Some(pod.ip.to_string()));
        assert_eq!(status.host_ip.as_deref(), Some("10.255.0.2"));
        assert!(
            status
                .conditions
                .expect("conditions")
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        );
    }

    #[test]
    fn the_world_is_dual_stack_in_the_api_with_ipv4_first_everywhere() {
        let topology = Topology::plan(&Model::default(), "abc123");
        let node = &topology.nodes[1];
        let spec = node_object(node, "abc123").spec.expect("spec");
        assert_eq!(
            spec.pod_cidrs.expect("podCIDRs"),
            ["10.244.2.0/24", "fd00:10:244:2::/64"]
        );
        let internal: Vec<String> = node_status(node)
            .addresses
            .expect("addresses")
            .into_iter()
            .filter(|a| a.type_ == "InternalIP")
            .map(|a| a.address)
            .collect();
        assert_eq!(internal, ["10.255.0.2", "fd00:10:255::2"]);
        let pod = &topology.pods[1];
        let status = pod_status(pod, node);
        let ips: Vec<String> = status
            .pod_ips
            .expect("podIPs")
            .into_iter()
            .map(|ip| ip.ip)
            .collect();
        assert_eq!(ips, ["10.244.2.10", "fd00:10:244:2::a"]);
        assert_eq!(status.pod_ip.as_deref(), Some("10.244.2.10"));
        let hosts: Vec<String> = status
            .host_ips
            .expect("hostIPs")
            .into_iter()
            .map(|ip| ip.ip)
            .collect();
        assert_eq!(hosts, ["10.255.0.2", "fd00:10:255::2"]);
    }
}
