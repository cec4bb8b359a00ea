//! Antrea from its release manifest, as antrea docs/kind.md: kind with its
//! default CNI disabled, then `antrea.yml`.

use super::versions::ANTREA;
use super::{Cni, Gotcha, Install, KIND_POD_SUBNET, KubeProxyMode, Recipe, Workload};

pub fn recipe() -> Recipe {
    Recipe {
        cni: Cni::Antrea,
        version: ANTREA.into(),
        docs: "https://github.com/antrea-io/antrea/blob/main/docs/kind.md",
        disable_default_cni: true,
        pod_subnet: KIND_POD_SUBNET,
        kube_proxy_mode: KubeProxyMode::Iptables,
        downloads: Vec::new(),
        mounts: Vec::new(),
        install: vec![
            Install::Manifest {
                url: format!(
                    "https://github.com/antrea-io/antrea/releases/download/{ANTREA}/antrea.yml"
                ),
                rewrites: Vec::new(),
            },
            Install::EachNode {
                argv: vec!["ethtool", "-K", "eth0", "tx", "off"],
                why: "tunnelled (Geneve) traffic between kind nodes is dropped for a bad outer checksum unless TX checksum offload is off (antrea ci/kind/kind-setup.sh)",
            },
        ],
        ready: vec![
            Workload::DaemonSet {
                namespace: "kube-system",
                name: "antrea-agent",
            },
            Workload::Deployment {
                namespace: "kube-system",
                name: "antrea-controller",
            },
        ],
        enforces_policy: true,
        sctp: true,
        host_checks: Vec::new(),
        gotchas: vec![
            Gotcha {
                what: "cross-node pod traffic is encapsulated, and the kind nodes' eth0 offloads TX checksums, which the tunnel then carries wrong",
                handled: "`ethtool -K eth0 tx off` in every node after install, as Antrea's own kind-setup.sh does",
            },
            Gotcha {
                what: "the agent needs the openvswitch kernel module (missing in some Docker Desktop and WSL2 kernels)",
                handled: "the wait for daemonset antrea-agent fails naming it (see the FAQ of antrea docs/kind.md)",
            },
        ],
    }
}
