//! Cilium through its Helm chart, as docs.cilium.io "Installation Using Kind":
//! kind with its default CNI disabled, then the chart with
//! `image.pullPolicy=IfNotPresent` and `ipam.mode=kubernetes`.

use super::versions::CILIUM;
use super::{Cni, Gotcha, Install, Ipv6Support, KIND_POD_SUBNET, KubeProxyMode, Recipe, Workload};

pub fn recipe() -> Recipe {
    Recipe {
        ipv6: Ipv6Support::Refused(
            "the recipe installs Cilium with the chart's defaults beside the values it lists, and `ipv6.enabled` defaults to false (IPv4 only): use --ip-family ipv4, or --cni kindnet",
        ),
        cni: Cni::Cilium,
        version: CILIUM.into(),
        docs: "https://docs.cilium.io/en/stable/installation/kind/",
        disable_default_cni: true,
        pod_subnet: KIND_POD_SUBNET,
        kube_proxy_mode: KubeProxyMode::Iptables,
        downloads: Vec::new(),
        mounts: Vec::new(),
        install: vec![Install::Helm {
            release: "cilium",
            chart: "cilium",
            repo: "https://helm.cilium.io/",
            version: CILIUM,
            namespace: "kube-system",
            values: vec![
                ("image.pullPolicy", "IfNotPresent"),
                ("ipam.mode", "kubernetes"),
                // A boolean since Cilium 1.14; `strict`/`partial` are gone.
                // kube-proxy stays, so the row measures policy, not Cilium's service LB.
                ("kubeProxyReplacement", "false"),
            ],
        }],
        ready: vec![
            Workload::DaemonSet {
                namespace: "kube-system",
                name: "cilium",
            },
            Workload::Deployment {
                namespace: "kube-system",
                name: "cilium-operator",
            },
        ],
        restart_on_reuse: Vec::new(),
        enforces_policy: true,
        // SCTP is a beta datapath feature behind `sctp.enabled`; without it
        // Cilium drops SCTP, so probing it would measure the option, not policy.
        sctp: false,
        host_checks: Vec::new(),
        gotchas: vec![
            Gotcha {
                what: "kubeProxyReplacement is a boolean since Cilium 1.14 (`strict`, `partial`, `probe`, `disabled` were removed); old guides' values make the chart fail",
                handled: "the recipe sets kubeProxyReplacement=false and keeps kind's kube-proxy (iptables)",
            },
            Gotcha {
                what: "Cilium is installed by Helm or the cilium CLI, not by a plain manifest",
                handled: "`helm install` when helm is on PATH, else `cilium install` with the same version and values, else exit 2 naming both",
            },
            Gotcha {
                what: "SCTP needs `sctp.enabled=true` (beta)",
                handled: "SCTP cases are skipped on this row rather than measuring a disabled feature",
            },
        ],
    }
}
