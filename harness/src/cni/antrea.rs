//! Antrea from its release manifest, as antrea docs/kind.md: kind with its
//! default CNI disabled, then `antrea.yml`.

use super::versions::ANTREA;
use super::{
    Cni, Gotcha, HostCheck, Install, Ipv6Support, KIND_POD_SUBNET, KubeProxyMode, Recipe, Workload,
};

pub fn recipe() -> Recipe {
    Recipe {
        ipv6: Ipv6Support::Refused(
            "the recipe applies antrea.yml as it is, for an IPv4 cluster; a dual-stack Antrea needs its agent configured for it, which this recipe does not do: use --ip-family ipv4, or --cni kindnet",
        ),
        cni: Cni::Antrea,
        version: ANTREA.into(),
        docs: "https://github.com/antrea-io/antrea/blob/main/docs/kind.md",
        disable_default_cni: true,
        pod_subnet: KIND_POD_SUBNET,
        kube_proxy_mode: KubeProxyMode::Iptables,
        downloads: Vec::new(),
        mounts: Vec::new(),
        install: vec![Install::Manifest {
            url: format!(
                "https://github.com/antrea-io/antrea/releases/download/{ANTREA}/antrea.yml"
            ),
            rewrites: Vec::new(),
        }],
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
        restart_on_reuse: Vec::new(),
        enforces_policy: true,
        sctp: true,
        // The agent's init container loads openvswitch from the node's
        // /lib/modules (the host's): it must exist in this kernel.
        host_checks: vec![HostCheck {
            path: "/sys/module/openvswitch",
            module: "openvswitch",
            fix: "Antrea's agent needs the openvswitch kernel module, which this kernel does not have (Docker Desktop before 2.5 and WSL2's default kernel lack it, antrea docs/kind.md FAQ; on Linux install your distribution's extra kernel modules, then `sudo modprobe openvswitch`)",
        }],
        gotchas: vec![
            Gotcha {
                what: "Antrea's ci/kind/kind-setup.sh turns TX checksum offload off in every node, but only for clusters on extra Docker networks: on kind's default network it returns before that (configure_networks, \"Using default kind docker network\")",
                handled: "nothing is run in the nodes: the recipe follows docs/kind.md (kind with the default CNI disabled, then antrea.yml) on kind's default network",
            },
            Gotcha {
                what: "the agent needs the openvswitch kernel module (missing in some Docker Desktop and WSL2 kernels)",
                handled: "a host check refuses a kernel without it before the cluster is made, naming the fix (antrea docs/kind.md FAQ)",
            },
        ],
    }
}
