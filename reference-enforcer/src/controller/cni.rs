//! With `--cni-config`, the enforcer is also its node's CNI, the way kindnet
//! is: a ptp + host-local configuration from the node's podCIDR, and a route
//! to every other node's podCIDR via that node's address. Pure parts here;
//! the controller writes the file and runs `ip route replace`.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Node;
use serde_json::json;

/// The CNI configuration of a node whose pods take addresses from `pod_cidr`
/// (the same shape as kindnet's 10-kindnet.conflist; kind's node image ships
/// the ptp, host-local, portmap and loopback plugins).
pub fn conflist(pod_cidr: &str) -> String {
    let default_route = if pod_cidr.contains(':') {
        "::/0"
    } else {
        "0.0.0.0/0"
    };
    let config = json!({
        "cniVersion": "0.4.0",
        "name": "netpol",
        "plugins": [
            {
                "type": "ptp",
                "ipMasq": false,
                "ipam": {
                    "type": "host-local",
                    "dataDir": "/run/cni-ipam-state",
                    "routes": [{"dst": default_route}],
                    "ranges": [[{"subnet": pod_cidr}]]
                },
                "mtu": 1500
            },
            {"type": "portmap", "capabilities": {"portMappings": true}}
        ]
    });
    let mut text = serde_json::to_string_pretty(&config).unwrap_or_default();
    text.push('\n');
    text
}

/// A route this node needs: `destination` (another node's podCIDR) via `gateway`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub destination: String,
    pub gateway: IpAddr,
}

impl Route {
    /// The `ip` arguments that install it, idempotently.
    pub fn ip_args(&self) -> Vec<String> {
        vec![
            "route".into(),
            "replace".into(),
            self.destination.clone(),
            "via".into(),
            self.gateway.to_string(),
        ]
    }
}

/// This node's podCIDR, if the controller-manager has given it one.
pub fn pod_cidr(node: &Node) -> Option<String> {
    node.spec.as_ref()?.pod_cidr.clone()
}

fn internal_ip(node: &Node) -> Option<IpAddr> {
    node.status
        .as_ref()?
        .addresses
        .iter()
        .flatten()
        .find(|a| a.type_ == "InternalIP")
        .and_then(|a| a.address.parse().ok())
}

/// Routes to every other node's podCIDR, sorted.
pub fn routes<'a>(this_node: &str, nodes: impl IntoIterator<Item = &'a Node>) -> Vec<Route> {
    let mut out: Vec<Route> = nodes
        .into_iter()
        .filter(|n| n.metadata.name.as_deref() != Some(this_node))
        .filter_map(|n| {
            Some(Route {
                destination: pod_cidr(n)?,
                gateway: internal_ip(n)?,
            })
        })
        .collect();
    out.sort();
    out
}
