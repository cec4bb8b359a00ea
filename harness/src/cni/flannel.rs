//! Flannel, from its release manifest. Flannel provides connectivity only: it
//! does not implement NetworkPolicy, so this row is the control that shows
//! what "not enforced" looks like on a real cluster.

use super::versions::{CNI_PLUGINS, CNI_PLUGINS_SHA256, FLANNEL};
use super::{
    Cni, Download, Gotcha, HostCheck, Install, Ipv6Support, KIND_POD_SUBNET, KubeProxyMode,
    NodeMount, Recipe, Workload,
};

pub fn recipe() -> Recipe {
    Recipe {
        ipv6: Ipv6Support::Refused(
            "kube-flannel.yml as pinned configures one IPv4 network (net-conf.json has no EnableIPv6 or IPv6Network): use --ip-family ipv4, or --cni kindnet",
        ),
        cni: Cni::Flannel,
        version: FLANNEL.into(),
        docs: "https://github.com/flannel-io/flannel#deploying-flannel-manually",
        disable_default_cni: true,
        // kube-flannel.yml's net-conf.json uses 10.244.0.0/16, kind's default.
        pod_subnet: KIND_POD_SUBNET,
        kube_proxy_mode: KubeProxyMode::Iptables,
        downloads: vec![Download {
            url: format!(
                "https://github.com/containernetworking/plugins/releases/download/{CNI_PLUGINS}/cni-plugins-linux-amd64-{CNI_PLUGINS}.tgz"
            ),
            sha256: CNI_PLUGINS_SHA256,
            member: "./bridge",
            into: "cni-bin/bridge",
            arch: "amd64",
        }],
        mounts: vec![NodeMount {
            host_file: "cni-bin/bridge",
            node_path: "/opt/cni/bin/bridge",
        }],
        install: vec![Install::Manifest {
            url: format!(
                "https://github.com/flannel-io/flannel/releases/download/{FLANNEL}/kube-flannel.yml"
            ),
            rewrites: Vec::new(),
        }],
        ready: vec![Workload::DaemonSet {
            namespace: "kube-flannel",
            name: "kube-flannel-ds",
        }],
        restart_on_reuse: Vec::new(),
        enforces_policy: false,
        sctp: true,
        host_checks: vec![HostCheck {
            path: "/proc/sys/net/bridge/bridge-nf-call-iptables",
            module: "br_netfilter",
            fix: "flannel's bridge needs br_netfilter in the host kernel so kube-proxy sees bridged traffic (`sudo modprobe br_netfilter`)",
        }],
        gotchas: vec![
            Gotcha {
                what: "Flannel does not implement NetworkPolicy: every isolating case fails on this row",
                handled: "the recipe says so (results name the CNI); the row is the comparison's control",
            },
            Gotcha {
                what: "Flannel delegates to the `bridge` CNI plugin, which kind's node image does not ship (kind#3015, flannel#1847)",
                handled: "the harness downloads the reference plugins at a pinned version and checksum and mounts `bridge` into every node at /opt/cni/bin/bridge",
            },
            Gotcha {
                what: "bridged pod traffic bypasses iptables (and so Services) without br_netfilter",
                handled: "the run checks /proc/sys/net/bridge on the host before creating the cluster",
            },
        ],
    }
}
