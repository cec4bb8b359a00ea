//! The shape of a netns world, computed before anything is created: names,
//! addresses, which pod lives on which node. Pure, so it is unit-tested.
//!
//! ```text
//!   pod ns (eth0 10.244.N.M/32       ──veth── node ns N (podJ 169.254.1.1/32 ──veth── fabric ns (br0)
//!           fd00:10:244:N::M/128)                       fe80::1/64)
//! ```
//! Pods are L3-routed through their node, so every pod packet crosses the
//! node's forward hook, where the enforcer filters (as with kind's ptp CNI).
//! Every pod is dual-stack: IPv6 is routed like IPv4, a ULA /64 per node
//! (`fd00:10:244:N::/64`) beside its /24, nodes reach each other over a ULA
//! /64 on the fabric, and a pod's IPv6 gateway is the link-local `fe80::1`
//! of its node-side veth (as Calico does), found by neighbour discovery.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::model::{Model, PodId};

/// Every network namespace of netpol starts with this, then the run id.
pub const NETNS_PREFIX: &str = "netpol-";
/// Simulated nodes; two give both same-node and cross-node pairs.
pub const NODES: usize = 2;
/// The address every pod uses as its gateway; each node veth carries it.
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 1);
/// The node side of the fabric, one /24 in the fabric namespace only.
const FABRIC_NET: [u8; 3] = [10, 255, 0];
/// Pod addresses: node N gets 10.244.N.0/24, like kind's pod CIDRs.
const POD_NET: [u8; 2] = [10, 244];
/// The IPv6 gateway of every pod: link-local, so each node veth carries it.
pub const GATEWAY_V6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
/// The nodes' fabric /64 (`fd00:10:255::N`): a ULA, as no address here is global.
const FABRIC_NET_V6: [u16; 3] = [0xfd00, 0x10, 0x255];
/// Node N's pods get `fd00:10:244:N::/64`, the ULA twin of 10.244.N.0/24.
const POD_NET_V6: [u16; 3] = [0xfd00, 0x10, 0x244];
/// IPv6 prefix lengths: a /64 per link, pods as /128 host routes.
pub const NET_V6_PREFIX: u8 = 64;
const FIRST_POD_HOST: u8 = 10;
/// Interface names inside a node; namespaces isolate them, so they are short.
pub const NODE_FABRIC_IF: &str = "fabric0";
pub const POD_IF: &str = "eth0";
pub const BRIDGE: &str = "br0";

/// How the node-side veth of a pod is named.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HostIfNaming {
    /// `pod0`, `pod1`, … per node.
    #[default]
    Plain,
    /// What Calico's CNI plugin names it: `cali` + the first 11 hex digits
    /// of sha1("<namespace>.<pod>") (libcalico-go
    /// lib/backend/k8s/conversion/workload_endpoint_default.go
    /// `VethNameForWorkload`); Felix programs only interfaces named so.
    Calico,
}

/// Where the node holds the pods' gateway address (169.254.1.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Gateway {
    /// On every host veth (/32), so the node answers ARP on each.
    #[default]
    HostVeth,
    /// On the node's `lo`: Felix removes every address from the interfaces
    /// it manages (`cali*`), as in a Calico node whose workload interfaces
    /// have none; the node still answers ARP for a local address on any
    /// interface (arp_ignore=0), and Felix enables proxy ARP on them too.
    NodeLoopback,
}

/// What the world must look like for an engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorldShape {
    pub host_if: HostIfNaming,
    pub gateway: Gateway,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    pub run_id: String,
    /// What the policy engine needs the world to look like.
    pub shape: WorldShape,
    pub fabric: String,
    pub nodes: Vec<NodePlan>,
    pub pods: Vec<PodPlan>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodePlan {
    /// The node's name in snapshots (`node1`).
    pub name: String,
    pub netns: String,
    /// The node's end of its fabric veth, in the fabric namespace.
    pub fabric_port: String,
    pub fabric_ip: Ipv4Addr,
    /// The /24 of this node's pods.
    pub pod_net: Ipv4Addr,
    /// The node's IPv6 address on the fabric /64.
    pub fabric_ip6: Ipv6Addr,
    /// The /64 of this node's pods.
    pub pod_net6: Ipv6Addr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodPlan {
    pub id: PodId,
    pub node: usize,
    pub netns: String,
    /// The node-side veth of this pod, in the node namespace.
    pub host_if: String,
    pub ip: Ipv4Addr,
    pub ip6: Ipv6Addr,
}

impl Topology {
    /// Pods alternate between nodes in model order, so each namespace has pods
    /// on both nodes.
    pub fn plan(model: &Model, run_id: &str) -> Topology {
        Topology::plan_shaped(model, run_id, WorldShape::default())
    }

    /// [`Topology::plan`] in the shape an engine needs.
    pub fn plan_shaped(model: &Model, run_id: &str, shape: WorldShape) -> Topology {
        let nodes = (0..NODES)
            .map(|i| {
                let n = i as u8 + 1;
                NodePlan {
                    name: format!("node{n}"),
                    netns: format!("{NETNS_PREFIX}{run_id}-node{n}"),
                    fabric_port: format!("node{n}"),
                    fabric_ip: Ipv4Addr::new(FABRIC_NET[0], FABRIC_NET[1], FABRIC_NET[2], n),
                    pod_net: Ipv4Addr::new(POD_NET[0], POD_NET[1], n, 0),
                    fabric_ip6: v6(FABRIC_NET_V6, 0, u16::from(n)),
                    pod_net6: v6(POD_NET_V6, u16::from(n), 0),
                }
            })
            .collect::<Vec<_>>();
        let mut per_node = [0u8; NODES];
        let pods = model
            .pods
            .iter()
            .enumerate()
            .map(|(i, pod)| {
                let node = i % NODES;
                let slot = per_node[node];
                per_node[node] += 1;
                let net = nodes[node].pod_net.octets();
                PodPlan {
                    id: pod.id.clone(),
                    node,
                    netns: format!(
                        "{NETNS_PREFIX}{run_id}-{}-{}",
                        pod.id.namespace, pod.id.name
                    ),
                    host_if: match shape.host_if {
                        HostIfNaming::Plain => format!("pod{slot}"),
                        HostIfNaming::Calico => {
                            super::engines::calico_veth_name(&pod.id.namespace, &pod.id.name)
                        }
                    },
                    ip: Ipv4Addr::new(net[0], net[1], net[2], FIRST_POD_HOST + slot),
                    ip6: v6(
                        POD_NET_V6,
                        node as u16 + 1,
                        u16::from(FIRST_POD_HOST + slot),
                    ),
                }
            })
            .collect();
        Topology {
            run_id: run_id.to_owned(),
            shape,
            fabric: format!("{NETNS_PREFIX}{run_id}-fabric"),
            nodes,
            pods,
        }
    }

    /// Every namespace of the run, fabric first.
    pub fn namespaces(&self) -> Vec<&str> {
        std::iter::once(self.fabric.as_str())
            .chain(self.nodes.iter().map(|n| n.netns.as_str()))
            .chain(self.pods.iter().map(|p| p.netns.as_str()))
            .collect()
    }
}

/// `prefix:subnet::host`.
fn v6(prefix: [u16; 3], subnet: u16, host: u16) -> Ipv6Addr {
    Ipv6Addr::new(prefix[0], prefix[1], prefix[2], subnet, 0, 0, 0, host)
}

/// Run ids are this many lower-case hex digits, so other `netpol-…` names
/// (a test's own namespaces, say) are never taken for a run's.
pub const RUN_ID_LEN: usize = 6;

/// The run id of a netpol namespace name, if it is one.
pub fn run_id_of(netns: &str) -> Option<&str> {
    let id = netns.strip_prefix(NETNS_PREFIX)?.split('-').next()?;
    let hex = id.len() == RUN_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    hex.then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_alternate_between_nodes_so_every_namespace_spans_both() {
        let topology = Topology::plan(&Model::default(), "ab12cd");
        for ns in ["x", "y", "z"] {
            let nodes: std::collections::BTreeSet<usize> = topology
                .pods
                .iter()
                .filter(|p| p.id.namespace == ns)
                .map(|p| p.node)
                .collect();
            assert_eq!(nodes.len(), NODES, "namespace {ns}");
        }
        let x_a = &topology.pods[0];
        assert_eq!(
            (x_a.netns.as_str(), x_a.host_if.as_str()),
            ("netpol-ab12cd-x-a", "pod0")
        );
        assert_eq!(x_a.ip, Ipv4Addr::new(10, 244, 1, 10));
        assert_eq!(topology.pods[1].ip, Ipv4Addr::new(10, 244, 2, 10));
        assert_eq!(x_a.ip6.to_string(), "fd00:10:244:1::a");
        assert_eq!(topology.pods[1].ip6.to_string(), "fd00:10:244:2::a");
        assert_eq!(topology.nodes[1].pod_net6.to_string(), "fd00:10:244:2::");
        assert_eq!(topology.nodes[1].fabric_ip6.to_string(), "fd00:10:255::2");
    }

    #[test]
    fn every_name_carries_the_run_id_and_interface_names_fit_the_kernel_limit() {
        let topology = Topology::plan(&Model::default(), "ab12cd");
        assert_eq!(topology.namespaces().len(), 1 + NODES + 9);
        assert!(
            topology
                .namespaces()
                .iter()
                .all(|n| run_id_of(n) == Some("ab12cd"))
        );
        let addresses: std::collections::BTreeSet<Ipv4Addr> =
            topology.pods.iter().map(|p| p.ip).collect();
        assert_eq!(addresses.len(), 9, "every pod has its own address");
        let v6: std::collections::BTreeSet<Ipv6Addr> =
            topology.pods.iter().map(|p| p.ip6).collect();
        assert_eq!(v6.len(), 9, "and its own IPv6 address");
        // IFNAMSIZ is 16 with the terminating zero.
        assert!(topology.pods.iter().all(|p| p.host_if.len() <= 15));
    }

    #[test]
    fn only_netpol_namespaces_have_a_run_id() {
        assert_eq!(run_id_of("netpol-ab12cd-node1"), Some("ab12cd"));
        assert_eq!(run_id_of("other-ns"), None);
        assert_eq!(run_id_of("netpol-"), None);
        assert_eq!(run_id_of("netpol-enf-test-42-a"), None, "not a run id");
        assert_eq!(run_id_of("netpol-AB12CD-x-a"), None);
    }

    #[test]
    fn in_calicos_shape_host_veths_are_named_as_calicos_cni_plugin_names_them() {
        let shape = WorldShape {
            host_if: HostIfNaming::Calico,
            gateway: Gateway::NodeLoopback,
        };
        let topology = Topology::plan_shaped(&Model::default(), "ab12cd", shape);
        assert_eq!(topology.pods[0].host_if, "cali456b416f2bf", "x/a");
        let names: std::collections::BTreeSet<&str> =
            topology.pods.iter().map(|p| p.host_if.as_str()).collect();
        assert_eq!(names.len(), topology.pods.len());
        assert!(topology.pods.iter().all(|p| p.host_if.len() <= 15));
    }
}
