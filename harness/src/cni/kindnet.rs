//! kindnet, kind's own CNI: nothing to install. Since kind v0.24 kindnetd
//! embeds kube-network-policies, the upstream sig-network reference
//! implementation, so this row is the natural comparison.

use super::versions::KIND;
use super::{Cni, Gotcha, Ipv6Support, KIND_POD_SUBNET, KubeProxyMode, NFQUEUE, Recipe, Workload};

pub fn recipe() -> Recipe {
    Recipe {
        // kind's own guide documents `networking.ipFamily: ipv6` and `dual`
        // with kindnet, its default CNI.
        ipv6: Ipv6Support::Supported,
        cni: Cni::Kindnet,
        version: format!("kind {KIND}"),
        docs: "https://kind.sigs.k8s.io/docs/user/configuration/#networking",
        disable_default_cni: false,
        pod_subnet: KIND_POD_SUBNET,
        kube_proxy_mode: KubeProxyMode::Iptables,
        downloads: Vec::new(),
        mounts: Vec::new(),
        install: Vec::new(),
        ready: vec![Workload::DaemonSet {
            namespace: "kube-system",
            name: "kindnet",
        }],
        restart_on_reuse: Vec::new(),
        enforces_policy: true,
        sctp: true,
        host_checks: vec![NFQUEUE],
        gotchas: vec![
            Gotcha {
                what: "kindnet enforces NetworkPolicy only since kind v0.24 (kind#842); older kind ignores policies",
                handled: "kind is pinned (v0.30.0) and its version is checked before the cluster is made",
            },
            Gotcha {
                what: "kube-network-policies needs nftables and NFQUEUE in the host kernel",
                handled: "the run checks the host before creating the cluster: NFQUEUE loaded, or a loadable nfnetlink_queue module (loaded on first use; a warning), else refused",
            },
        ],
    }
}
