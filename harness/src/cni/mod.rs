//! CNI recipes for the `kind` backend, one file each: the kind cluster a CNI
//! needs, how to install it at a pinned version, how to tell it is ready,
//! and the known gotchas, each encoded where it bites. Recipes are data: the
//! kind backend executes them, `--dry-run` prints them, tests pin them.

mod antrea;
mod calico;
mod cilium;
mod flannel;
mod kindnet;
mod kube_router;
mod reference;
pub mod versions;

use std::fmt;

/// The CNIs the kind backend can install (and `none`, which only `netns` has).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cni {
    Calico,
    Cilium,
    Flannel,
    Antrea,
    KubeRouter,
    Kindnet,
    Reference,
}

impl Cni {
    pub const ALL: [Cni; 7] = [
        Cni::Calico,
        Cni::Cilium,
        Cni::Flannel,
        Cni::Antrea,
        Cni::KubeRouter,
        Cni::Kindnet,
        Cni::Reference,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cni::Calico => "calico",
            Cni::Cilium => "cilium",
            Cni::Flannel => "flannel",
            Cni::Antrea => "antrea",
            Cni::KubeRouter => "kube-router",
            Cni::Kindnet => "kindnet",
            Cni::Reference => "reference",
        }
    }

    pub fn recipe(self) -> Recipe {
        match self {
            Cni::Calico => calico::recipe(),
            Cni::Cilium => cilium::recipe(),
            Cni::Flannel => flannel::recipe(),
            Cni::Antrea => antrea::recipe(),
            Cni::KubeRouter => kube_router::recipe(),
            Cni::Kindnet => kindnet::recipe(),
            Cni::Reference => reference::recipe(),
        }
    }
}

impl fmt::Display for Cni {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// kube-proxy's mode in the kind cluster (`networking.kubeProxyMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KubeProxyMode {
    Iptables,
    Nftables,
    /// The CNI replaces kube-proxy.
    None,
}

impl KubeProxyMode {
    pub fn name(self) -> &'static str {
        match self {
            KubeProxyMode::Iptables => "iptables",
            KubeProxyMode::Nftables => "nftables",
            KubeProxyMode::None => "none",
        }
    }
}

/// A file of the host bind-mounted into every kind node (`extraMounts`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeMount {
    /// Relative to the run's work folder, which the kind backend creates.
    pub host_file: &'static str,
    pub node_path: &'static str,
}

/// A file the harness downloads and verifies before creating the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Download {
    pub url: String,
    pub sha256: &'static str,
    /// The archive member to extract to `NodeMount::host_file`.
    pub member: &'static str,
    pub into: &'static str,
    /// The architecture the archive is for (`amd64`): a node of another
    /// cannot run what it holds, so such a host is refused before anything.
    pub arch: &'static str,
}

/// One install step, run in order after the cluster exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Install {
    /// A manifest fetched at a pinned URL and applied server-side by the
    /// harness; each `(from, to)` replaces text before applying.
    Manifest {
        url: String,
        rewrites: Vec<(String, String)>,
    },
    /// A Helm chart, by `helm` or, when helm is absent, the `cilium` CLI.
    Helm {
        release: &'static str,
        chart: &'static str,
        repo: &'static str,
        version: &'static str,
        namespace: &'static str,
        values: Vec<(&'static str, &'static str)>,
    },
    /// The bundled manifests of `deploy/`, with the enforcer image.
    Bundled { manifests: Vec<&'static str> },
}

/// A workload whose readiness means the CNI is up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Workload {
    DaemonSet {
        namespace: &'static str,
        name: &'static str,
    },
    Deployment {
        namespace: &'static str,
        name: &'static str,
    },
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Workload::DaemonSet { namespace, name } => write!(f, "daemonset {namespace}/{name}"),
            Workload::Deployment { namespace, name } => write!(f, "deployment {namespace}/{name}"),
        }
    }
}

/// Something the host kernel must offer, checked before the cluster is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostCheck {
    /// A path under /proc or /sys that exists when the feature is loaded.
    pub path: &'static str,
    /// The kernel module that provides it: when it is not loaded but can be
    /// (built in, or in modules.dep), the kernel or the CNI loads it on use,
    /// so the run goes on with a warning; when it cannot, the run is refused.
    pub module: &'static str,
    /// What is missing, and how to fix it.
    pub fix: &'static str,
}

/// A known trap of this CNI on kind, and what the recipe does about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gotcha {
    pub what: &'static str,
    pub handled: &'static str,
}

/// Everything the kind backend needs to know about one CNI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipe {
    pub cni: Cni,
    /// The pinned version, as results report it.
    pub version: String,
    /// The published page the install follows.
    pub docs: &'static str,
    pub disable_default_cni: bool,
    pub pod_subnet: &'static str,
    pub kube_proxy_mode: KubeProxyMode,
    pub downloads: Vec<Download>,
    pub mounts: Vec<NodeMount>,
    pub install: Vec<Install>,
    pub ready: Vec<Workload>,
    /// Workloads running an image this run builds and reloads under a fixed
    /// tag: on a reused cluster they are restarted, or they keep running the
    /// old image (the kubelet does not restart pods for a retagged image).
    pub restart_on_reuse: Vec<Workload>,
    /// Whether NetworkPolicy is enforced at all (Flannel: no).
    pub enforces_policy: bool,
    /// Whether pods can carry SCTP on this datapath as installed; the run
    /// also needs SCTP in the host kernel.
    pub sctp: bool,
    pub host_checks: Vec<HostCheck>,
    pub gotchas: Vec<Gotcha>,
    /// Whether the recipe builds an IPv6 or dual-stack cluster (kind's
    /// `networking.ipFamily`), or why not.
    pub ipv6: Ipv6Support,
}

/// A recipe's second family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ipv6Support {
    /// `ipFamily: ipv6` and `dual`, with kind's default subnets.
    Supported,
    /// Refused, with the reason a person can act on.
    Refused(&'static str),
}

impl Recipe {
    /// How long a step waits for enforcement on this CNI: the cluster's
    /// deadline, or a short one where nothing is ever enforced.
    pub fn timeouts(&self) -> crate::timeouts::Timeouts {
        if self.enforces_policy {
            crate::timeouts::Timeouts::CLUSTER
        } else {
            crate::timeouts::Timeouts::CLUSTER_UNENFORCED
        }
    }
}

/// kind's default pod subnet; recipes that keep it say so by using this.
pub const KIND_POD_SUBNET: &str = "10.244.0.0/16";
/// kind's default IPv6 pod subnet, and its Service subnets of each family
/// (kind's `networking` defaults for `ipFamily: ipv6` and `dual`).
pub const KIND_POD_SUBNET_V6: &str = "fd00:10:244::/56";
pub const KIND_SERVICE_SUBNET: &str = "10.96.0.0/16";
pub const KIND_SERVICE_SUBNET_V6: &str = "fd00:10:96::/112";

/// The `--cni` values that exist only to be refused, with the reason.
pub fn refused(name: &str) -> Option<&'static str> {
    match name {
        "weave" | "weave-net" => Some(
            "Weave Net is archived upstream (weaveworks/weave, read-only since 2024; Weaveworks \
             shut down) and its last release does not support current Kubernetes: \
             pick calico, cilium, flannel, antrea, kube-router, kindnet or reference",
        ),
        _ => None,
    }
}

/// `nfnetlink_queue`: kube-network-policies hands the first packet of each
/// connection to user space through NFQUEUE.
pub(crate) const NFQUEUE: HostCheck = HostCheck {
    path: "/proc/net/netfilter/nfnetlink_queue",
    module: "nfnetlink_queue",
    fix: "the host kernel has no NFQUEUE, which kindnet's kube-network-policies needs \
          (`sudo modprobe nfnetlink_queue`)",
};
