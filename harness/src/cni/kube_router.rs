//! kube-router as "pod networking and network policy" (docs/kubeadm.md):
//! `daemonset/kubeadm-kuberouter.yaml` at the pinned tag, kube-proxy kept.

use super::versions::KUBE_ROUTER;
use super::{Cni, Gotcha, Install, Ipv6Support, KIND_POD_SUBNET, KubeProxyMode, Recipe, Workload};

/// How the manifest names its image: untagged, so `latest`.
const UNPINNED_IMAGE: &str = "image: docker.io/cloudnativelabs/kube-router\n";

pub fn recipe() -> Recipe {
    Recipe {
        ipv6: Ipv6Support::Refused(
            "kube-router runs here with its defaults, and --enable-ipv6 is off unless set (the kubeadm guide this recipe follows does not set it): use --ip-family ipv4, or --cni kindnet",
        ),
        cni: Cni::KubeRouter,
        version: KUBE_ROUTER.into(),
        docs: "https://github.com/cloudnativelabs/kube-router/blob/master/docs/kubeadm.md",
        disable_default_cni: true,
        // kube-router takes each node's podCIDR from kube-controller-manager,
        // which kind configures from podSubnet.
        pod_subnet: KIND_POD_SUBNET,
        kube_proxy_mode: KubeProxyMode::Iptables,
        downloads: Vec::new(),
        mounts: Vec::new(),
        install: vec![Install::Manifest {
            url: format!(
                "https://raw.githubusercontent.com/cloudnativelabs/kube-router/{KUBE_ROUTER}/daemonset/kubeadm-kuberouter.yaml"
            ),
            rewrites: vec![(
                UNPINNED_IMAGE.into(),
                format!("image: docker.io/cloudnativelabs/kube-router:{KUBE_ROUTER}\n"),
            )],
        }],
        ready: vec![Workload::DaemonSet {
            namespace: "kube-system",
            name: "kube-router",
        }],
        restart_on_reuse: Vec::new(),
        enforces_policy: true,
        // The bridge datapath carries SCTP; whether policies restrict it is
        // what the SCTP cases measure (kube-router#1019 is open).
        sctp: true,
        host_checks: Vec::new(),
        gotchas: vec![
            Gotcha {
                what: "the manifest at a release tag still names the untagged image (`latest`, pulled Always)",
                handled: "the recipe rewrites `image:` to the pinned tag, so the row really is that version",
            },
            Gotcha {
                what: "kube-router's CNI config uses the `bridge` plugin, which kind's node image lacks",
                handled: "nothing to do: its install-cni init container copies the plugins into /opt/cni/bin (cni-install)",
            },
            Gotcha {
                what: "SCTP in NetworkPolicy is not implemented (kube-router#1019)",
                handled: "SCTP is probed anyway: the failures are the finding",
            },
        ],
    }
}
