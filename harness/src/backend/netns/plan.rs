//! The `ip` commands that build and remove a netns world, as data: printed by
//! `--dry-run`, snapshot-tested, and run one by one by the backend.
//!
//! Everything is created inside namespaces of the run: veths are made in a
//! node namespace with their peer moved straight into a pod or the fabric, so
//! the root network namespace is never touched.
//!
//! Both families are built: IPv4 and IPv6 addresses, routes and gateways.
//! Every IPv6 address is added `nodad`, and duplicate address detection is
//! off in every namespace before its first interface exists (the automatic
//! link-local addresses too), so no address is ever tentative: the world is
//! usable as soon as the commands return, with no DAD delay to wait out.

use super::topology::{
    BRIDGE, GATEWAY, GATEWAY_V6, Gateway, NET_V6_PREFIX, NODE_FABRIC_IF, POD_IF, Topology,
};

/// Turns duplicate address detection off in a namespace, for the interfaces
/// made later (`default`) and the loopback already there (`all`).
const NO_DAD: &str = "echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad; \
echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad";

/// One `ip` invocation (arguments after `ip`).
pub type IpCommand = Vec<String>;

fn cmd(words: &[&str]) -> IpCommand {
    words.iter().map(|w| (*w).to_owned()).collect()
}

/// The commands that build the world, in order.
pub fn build(topology: &Topology) -> Vec<IpCommand> {
    let mut out = Vec::new();
    for netns in topology.namespaces() {
        out.push(cmd(&["netns", "add", netns]));
        out.push(cmd(&["netns", "exec", netns, "sh", "-c", NO_DAD]));
        out.push(cmd(&["-n", netns, "link", "set", "lo", "up"]));
    }
    let fabric = topology.fabric.as_str();
    out.push(cmd(&[
        "-n", fabric, "link", "add", BRIDGE, "type", "bridge",
    ]));
    out.push(cmd(&["-n", fabric, "link", "set", BRIDGE, "up"]));
    for node in &topology.nodes {
        let ns = node.netns.as_str();
        let port = node.fabric_port.as_str();
        let address = format!("{}/24", node.fabric_ip);
        out.push(cmd(&[
            "-n",
            fabric,
            "link",
            "add",
            port,
            "type",
            "veth",
            "peer",
            "name",
            NODE_FABRIC_IF,
            "netns",
            ns,
        ]));
        out.push(cmd(&[
            "-n", fabric, "link", "set", port, "master", BRIDGE, "up",
        ]));
        out.push(cmd(&[
            "-n",
            ns,
            "addr",
            "add",
            &address,
            "dev",
            NODE_FABRIC_IF,
        ]));
        let address6 = format!("{}/{NET_V6_PREFIX}", node.fabric_ip6);
        out.push(cmd(&[
            "-n",
            ns,
            "addr",
            "add",
            &address6,
            "dev",
            NODE_FABRIC_IF,
            "nodad",
        ]));
        out.push(cmd(&["-n", ns, "link", "set", NODE_FABRIC_IF, "up"]));
        for other in topology.nodes.iter().filter(|o| o.name != node.name) {
            let net6 = format!("{}/{NET_V6_PREFIX}", other.pod_net6);
            let via6 = other.fabric_ip6.to_string();
            out.push(cmd(&[
                "-n",
                ns,
                "-6",
                "route",
                "add",
                &net6,
                "via",
                &via6,
                "dev",
                NODE_FABRIC_IF,
            ]));
            let net = format!("{}/24", other.pod_net);
            let via = other.fabric_ip.to_string();
            out.push(cmd(&[
                "-n",
                ns,
                "route",
                "add",
                &net,
                "via",
                &via,
                "dev",
                NODE_FABRIC_IF,
            ]));
        }
    }
    let gateway = format!("{GATEWAY}/32");
    let gateway_ip = GATEWAY.to_string();
    if topology.shape.gateway == Gateway::NodeLoopback {
        for node in &topology.nodes {
            out.push(cmd(&[
                "-n",
                &node.netns,
                "addr",
                "add",
                &gateway,
                "dev",
                "lo",
            ]));
        }
    }
    let gateway6 = format!("{GATEWAY_V6}/{NET_V6_PREFIX}");
    let gateway6_ip = GATEWAY_V6.to_string();
    for pod in &topology.pods {
        let node = topology.nodes[pod.node].netns.as_str();
        let (pod_ns, host_if) = (pod.netns.as_str(), pod.host_if.as_str());
        let ip = format!("{}/32", pod.ip);
        out.push(cmd(&[
            "-n", node, "link", "add", host_if, "type", "veth", "peer", "name", POD_IF, "netns",
            pod_ns,
        ]));
        let ip6 = format!("{}/128", pod.ip6);
        // With the gateway on the node's loopback (Felix's world), the
        // engine owns the host veths' addresses: the IPv6 gateway is not set
        // there either, and such a world is IPv4 only (its capabilities say so).
        if topology.shape.gateway == Gateway::HostVeth {
            out.push(cmd(&["-n", node, "addr", "add", &gateway, "dev", host_if]));
            out.push(cmd(&[
                "-n", node, "addr", "add", &gateway6, "dev", host_if, "nodad",
            ]));
        }
        out.push(cmd(&["-n", node, "link", "set", host_if, "up"]));
        out.push(cmd(&["-n", node, "route", "add", &ip, "dev", host_if]));
        out.push(cmd(&[
            "-n", node, "-6", "route", "add", &ip6, "dev", host_if,
        ]));
        out.push(cmd(&["-n", pod_ns, "addr", "add", &ip, "dev", POD_IF]));
        out.push(cmd(&[
            "-n", pod_ns, "addr", "add", &ip6, "dev", POD_IF, "nodad",
        ]));
        out.push(cmd(&["-n", pod_ns, "link", "set", POD_IF, "up"]));
        out.push(cmd(&[
            "-n",
            pod_ns,
            "route",
            "add",
            &gateway_ip,
            "dev",
            POD_IF,
            "scope",
            "link",
        ]));
        out.push(cmd(&[
            "-n",
            pod_ns,
            "route",
            "add",
            "default",
            "via",
            &gateway_ip,
            "dev",
            POD_IF,
        ]));
        // The link-local gateway needs no on-link route of its own: fe80::/64
        // is on every interface.
        out.push(cmd(&[
            "-n",
            pod_ns,
            "-6",
            "route",
            "add",
            "default",
            "via",
            &gateway6_ip,
            "dev",
            POD_IF,
        ]));
    }
    out
}

/// Nodes forward, both families; written through `ip netns exec … sh` so no thread of ours
/// ever enters a namespace.
pub fn forwarding(topology: &Topology) -> Vec<IpCommand> {
    topology
        .nodes
        .iter()
        .map(|node| {
            cmd(&[
                "netns",
                "exec",
                &node.netns,
                "sh",
                "-c",
                "echo 1 > /proc/sys/net/ipv4/ip_forward; \
echo 1 > /proc/sys/net/ipv6/conf/all/forwarding",
            ])
        })
        .collect()
}

/// The commands that remove the world: deleting a namespace deletes its veths.
pub fn remove(topology: &Topology) -> Vec<IpCommand> {
    topology
        .namespaces()
        .into_iter()
        .rev()
        .map(|ns| cmd(&["netns", "del", ns]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Model;

    #[test]
    fn the_build_plan_never_names_the_root_namespace() {
        let topology = Topology::plan(&Model::default(), "0000a0");
        for command in build(&topology) {
            // Every command either adds a namespace or runs inside one of the run's.
            let scoped = command[0] == "netns"
                || (command[0] == "-n" && command[1].starts_with("netpol-0000a0-"));
            assert!(scoped, "{command:?}");
        }
    }

    #[test]
    fn with_the_gateway_on_the_nodes_loopback_no_host_veth_has_an_address() {
        let shape = super::super::topology::WorldShape {
            host_if: super::super::topology::HostIfNaming::Calico,
            gateway: Gateway::NodeLoopback,
        };
        let topology = Topology::plan_shaped(&Model::default(), "0000a0", shape);
        let commands = build(&topology);
        let addresses: Vec<&IpCommand> = commands
            .iter()
            .filter(|c| c.get(2).is_some_and(|w| w == "addr"))
            .collect();
        for pod in &topology.pods {
            assert!(
                !addresses.iter().any(|c| c.last() == Some(&pod.host_if)),
                "{} has an address",
                pod.host_if
            );
        }
        for node in &topology.nodes {
            let on_lo = [
                "-n",
                &node.netns,
                "addr",
                "add",
                "169.254.1.1/32",
                "dev",
                "lo",
            ];
            assert!(commands.iter().any(|c| c == &on_lo), "{}", node.netns);
        }
    }

    #[test]
    fn the_build_plan_reads_as_a_script() {
        let topology = Topology::plan(&Model::default(), "0000a0");
        let script: Vec<String> = build(&topology)
            .iter()
            .chain(forwarding(&topology).iter())
            .map(|c| {
                crate::command::shell_line("ip", &c.iter().map(String::as_str).collect::<Vec<_>>())
            })
            .collect();
        insta::assert_snapshot!(script.join("\n"));
    }
}
