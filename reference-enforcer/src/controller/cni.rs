//! With `--cni-config`, the enforcer is also its node's CNI, the way kindnet
//! is: a ptp + host-local configuration from the node's podCIDR, and a route
//! to every other node's podCIDR via that node's address. Pure parts here;
//! the controller writes the file and runs `ip route replace`.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Node;
use serde_json::json;

/// The MTU pod interfaces get when the node's cannot be read.
pub const FALLBACK_MTU: u32 = 1500;

/// The interface of this network namespace's IPv4 default route, from
/// `/proc/net/route` (destination and mask 00000000; the lowest metric wins).
pub fn default_route_interface(proc_net_route: &str) -> Option<String> {
    proc_net_route
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (iface, destination, metric, mask) = (
                fields.first()?,
                fields.get(1)?,
                fields.get(6)?,
                fields.get(7)?,
            );
            (*destination == "00000000" && *mask == "00000000").then(|| {
                (
                    metric.parse::<u32>().unwrap_or(u32::MAX),
                    (*iface).to_owned(),
                )
            })
        })
        .min()
        .map(|(_, iface)| iface)
}

/// The MTU pods should get: the node's default-route interface's, as
/// kindnet does, so pod packets fit wherever the node's do (a Docker network
/// or a cloud VM with an MTU below 1500). `read` reads a file.
pub fn node_mtu(read: impl Fn(&str) -> Option<String>) -> Result<u32, String> {
    let routes = read("/proc/net/route").ok_or("cannot read /proc/net/route")?;
    let iface = default_route_interface(&routes).ok_or("no IPv4 default route")?;
    let path = format!("/sys/class/net/{iface}/mtu");
    read(&path)
        .and_then(|text| text.trim().parse().ok())
        .ok_or_else(|| format!("cannot read {path}"))
}

/// The CNI configuration of a node whose pods take addresses from `pod_cidr`
/// (the same shape as kindnet's 10-kindnet.conflist; kind's node image ships
/// the ptp, host-local, portmap and loopback plugins), with the node's MTU.
pub fn conflist(pod_cidr: &str, mtu: u32) -> String {
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
                "mtu": mtu
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
