//! The bundled reference enforcer as a cluster's CNI: kind's default CNI is
//! disabled and the enforcer's DaemonSet provides pod connectivity the way
//! kindnet does (ptp + host-local from the node's podCIDR, routes to the other
//! nodes' podCIDRs), so the row measures our enforcer alone.

use super::{Cni, Gotcha, Install, Ipv6Support, KIND_POD_SUBNET, KubeProxyMode, Recipe, Workload};

/// Where the DaemonSet runs.
pub const NAMESPACE: &str = "netpol-system";
pub const DAEMONSET: &str = "netpol-enforcer";

pub fn recipe() -> Recipe {
    Recipe {
        ipv6: Ipv6Support::Refused(
            "the enforcer writes the pod network's CNI config (ptp + host-local) from the node's podCIDR, one range: pods would get no address of the second family, although the enforcer reads podIPs of both: use --ip-family ipv4, or --cni kindnet",
        ),
        cni: Cni::Reference,
        version: env!("CARGO_PKG_VERSION").into(),
        docs: "reference-enforcer/README.md",
        disable_default_cni: true,
        pod_subnet: KIND_POD_SUBNET,
        kube_proxy_mode: KubeProxyMode::Iptables,
        downloads: Vec::new(),
        mounts: Vec::new(),
        install: vec![Install::Bundled {
            manifests: vec![
                "deploy/namespace.yaml",
                "deploy/rbac.yaml",
                "deploy/daemonset.yaml",
            ],
        }],
        ready: vec![Workload::DaemonSet {
            namespace: NAMESPACE,
            name: DAEMONSET,
        }],
        restart_on_reuse: vec![Workload::DaemonSet {
            namespace: NAMESPACE,
            name: DAEMONSET,
        }],
        enforces_policy: true,
        sctp: true,
        host_checks: Vec::new(),
        gotchas: vec![
            Gotcha {
                what: "with kind's default CNI disabled, nodes stay NotReady until something writes a CNI config",
                handled: "the enforcer writes /etc/cni/net.d/10-netpol.conflist (ptp + host-local, as kindnet does) from its node's podCIDR; kind's node image ships those plugins",
            },
            Gotcha {
                what: "the enforcer filters in the forward hook: traffic between a pod and its own node is not filtered",
                handled: "documented in reference-enforcer/README.md; the cases probe pod to pod only",
            },
            Gotcha {
                what: "the nodes share the host kernel, which must have nf_tables (and the enforcer's nft 1.0.6 must understand it)",
                handled: "a ruleset the kernel rejects is logged per generation by the DaemonSet and the previous one stays in force; probes then show the cells it should have changed",
            },
            Gotcha {
                what: "pods get no masquerade to outside the cluster",
                handled: "the suite needs pod-to-pod traffic only; DNS is not used (probes dial IPs)",
            },
        ],
    }
}
