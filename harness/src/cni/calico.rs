//! Calico, the manifest install of docs.tigera.io "Kind multi-node install"
//! (Calico 3.31): kind with its default CNI disabled and the pod subnet set to
//! Calico's default IP pool, then `calico.yaml`.

use super::versions::CALICO;
use super::{Cni, Gotcha, Install, Ipv6Support, KubeProxyMode, Recipe, Workload};

/// Calico's default IPv4 pool, which the manifest uses when
/// `CALICO_IPV4POOL_CIDR` is left commented out.
const POOL: &str = "192.168.0.0/16";

pub fn recipe() -> Recipe {
    Recipe {
        ipv6: Ipv6Support::Refused(
            "calico.yaml as pinned enables IPv4 only (FELIX_IPV6SUPPORT false, calico-ipam assigning IPv4); dual-stack needs an IPv6 pool and IPAM changes the Calico kind guide does not make: use --ip-family ipv4, or --cni kindnet",
        ),
        cni: Cni::Calico,
        version: CALICO.into(),
        docs: "https://docs.tigera.io/calico/latest/getting-started/kubernetes/kind",
        disable_default_cni: true,
        pod_subnet: POOL,
        kube_proxy_mode: KubeProxyMode::Iptables,
        downloads: Vec::new(),
        mounts: Vec::new(),
        install: vec![Install::Manifest {
            url: format!(
                "https://raw.githubusercontent.com/projectcalico/calico/{CALICO}/manifests/calico.yaml"
            ),
            rewrites: Vec::new(),
        }],
        ready: vec![
            Workload::DaemonSet {
                namespace: "kube-system",
                name: "calico-node",
            },
            Workload::Deployment {
                namespace: "kube-system",
                name: "calico-kube-controllers",
            },
        ],
        restart_on_reuse: Vec::new(),
        enforces_policy: true,
        sctp: true,
        host_checks: Vec::new(),
        gotchas: vec![
            Gotcha {
                what: "the IP pool must match the cluster's pod CIDR, or pods get addresses kube-proxy and policies do not expect",
                handled: "kind's podSubnet is set to 192.168.0.0/16, Calico's default pool, as the Calico kind guide does",
            },
            Gotcha {
                what: "calico.yaml's CRDs are too large for client-side `kubectl apply` (last-applied annotation over 256 KiB)",
                handled: "the harness applies server-side, which keeps no such annotation",
            },
        ],
    }
}
