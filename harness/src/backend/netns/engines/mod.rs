//! Third-party policy engines on the netns world: node-level programs of real
//! CNIs (kube-router's firewall, Calico's Felix, kube-network-policies),
//! built by `netpol engines build`, one started in every node namespace with
//! the run's kubeconfig and the node's name. They watch the run's API server
//! and write their netfilter rules into the node namespace, whose forward
//! path every pod packet crosses.
//!
//! One recipe per engine (`kube_router.rs`, `calico_felix.rs`,
//! `kube_network_policies.rs`) says what the engine is given: its command
//! line, environment and files, the API objects its release installs, what
//! the world must look like for it (interface names, addresses: the world
//! provides them, the engine is never patched), what the host must have, and
//! how to tell it has programmed its node.

pub mod calico_felix;
pub mod kube_network_policies;
pub mod kube_router;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::engines::Component;

pub use super::topology::{Gateway, HostIfNaming, WorldShape};

/// A third-party engine netpol can run on the netns world.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    KubeRouter,
    CalicoFelix,
    KubeNetworkPolicies,
}

/// What a node's engine is told about its node.
#[derive(Clone, Debug)]
pub struct NodeEnv {
    /// The Node object's name (`node1`).
    pub node: String,
    /// The node's address on the fabric: its Node's InternalIP, its pods'
    /// hostIP.
    pub node_ip: Ipv4Addr,
    /// The run's kubeconfig (the API server's fabric address).
    pub kubeconfig: PathBuf,
    /// A folder of this node's engine (files it is given, its PATH shims).
    pub dir: PathBuf,
}

/// How to start one node's engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Set on top of a cleared environment (only PATH is kept, after the
    /// shims' folder).
    pub env: Vec<(String, String)>,
    /// Written before the start, in the node's folder: name and contents.
    pub files: Vec<(String, String)>,
    /// Folders given a fresh tmpfs in the engine's own mount namespace
    /// (state an engine keeps in /var/lib or /run, one per node, none on the
    /// host).
    pub tmpfs: Vec<&'static str>,
    /// Commands the engine runs by name, pointed at exact programs through a
    /// folder first on its PATH: `(name, program)`.
    pub shims: Vec<(&'static str, &'static str)>,
}

/// The iptables the engines run is the nftables one (`iptables-nft`), the
/// same on every node and for every engine, whatever the host's
/// `update-alternatives` says; its rules live in the node namespace's
/// nftables, beside nothing else.
pub const IPTABLES_NFT: &[(&str, &str)] = &[
    ("iptables", "iptables-nft"),
    ("iptables-save", "iptables-nft-save"),
    ("iptables-restore", "iptables-nft-restore"),
    ("ip6tables", "ip6tables-nft"),
    ("ip6tables-save", "ip6tables-nft-save"),
    ("ip6tables-restore", "ip6tables-nft-restore"),
];

impl Engine {
    /// Every engine, as `--cni` names them.
    pub const ALL: [Engine; 3] = [
        Engine::KubeRouter,
        Engine::CalicoFelix,
        Engine::KubeNetworkPolicies,
    ];

    /// Its `--cni` name, also the results' `cni.name`.
    pub fn name(self) -> &'static str {
        match self {
            Engine::KubeRouter => "kube-router",
            Engine::CalicoFelix => "calico-felix",
            Engine::KubeNetworkPolicies => "kube-network-policies",
        }
    }

    /// Its release, as results files show it.
    pub fn version(self) -> &'static str {
        match self {
            Engine::CalicoFelix => crate::engines::versions::CALICO_RELEASE,
            other => other.component().version,
        }
    }

    /// The build of `netpol engines build` it runs.
    pub fn component(self) -> &'static Component {
        match self {
            Engine::KubeRouter => &crate::engines::KUBE_ROUTER,
            Engine::CalicoFelix => &crate::engines::CALICO_FELIX,
            Engine::KubeNetworkPolicies => &crate::engines::KUBE_NETWORK_POLICIES,
        }
    }

    pub fn world(self) -> WorldShape {
        match self {
            Engine::CalicoFelix => calico_felix::WORLD,
            Engine::KubeRouter | Engine::KubeNetworkPolicies => WorldShape::default(),
        }
    }

    /// Whether it enforces over IPv6 in its world, so `--ip-family ipv6` and
    /// `dual` may be asked of it. kube-router programs ip6tables and IPv6
    /// ipsets from `podIPs` with `--enable-ipv6` (v2.10.0
    /// pkg/controllers/netpol `NewIPTablesHandlers`, needing a node IPv6
    /// InternalIP, which api.rs writes); kube-network-policies queues both
    /// families (its `podips-v6` set). Felix's world has no IPv6 gateway: its
    /// gateway is on the node's loopback and the host veths are Felix's
    /// (plan.rs), so its pods have no IPv6 route off their node.
    pub fn ipv6(self) -> bool {
        match self {
            Engine::KubeRouter | Engine::KubeNetworkPolicies => true,
            Engine::CalicoFelix => false,
        }
    }

    /// Programs the engine runs (checked on PATH before anything starts),
    /// each with the Debian package that has it.
    pub fn tools(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Engine::KubeRouter => kube_router::TOOLS,
            Engine::CalicoFelix => calico_felix::TOOLS,
            Engine::KubeNetworkPolicies => kube_network_policies::TOOLS,
        }
    }

    /// How to start it on one node, from its binary (and assets) in
    /// `engines`.
    pub fn launch(self, node: &NodeEnv, engines: &Path) -> Launch {
        match self {
            Engine::KubeRouter => kube_router::launch(node, engines),
            Engine::CalicoFelix => calico_felix::launch(node, engines),
            Engine::KubeNetworkPolicies => kube_network_policies::launch(node, engines),
        }
    }

    /// The API objects its release installs before its agents start, as a
    /// multi-document YAML manifest (Calico: its CRDs and a ready
    /// ClusterInformation); `None` when there are none.
    pub fn manifests(self, engines: &Path) -> Result<Option<String>, String> {
        match self {
            Engine::CalicoFelix => calico_felix::manifests(engines).map(Some),
            Engine::KubeRouter | Engine::KubeNetworkPolicies => Ok(None),
        }
    }

    /// What the kernel must offer beyond what the netns world needs,
    /// checked in a throwaway namespace; `Err` says what is missing.
    pub async fn host_check(self) -> Result<(), String> {
        match self {
            Engine::KubeNetworkPolicies => kube_network_policies::host_check().await,
            Engine::KubeRouter | Engine::CalicoFelix => Ok(()),
        }
    }

    /// A command (run in the node namespace) that succeeds once the engine
    /// has programmed its node: its top chain exists.
    pub fn programmed(self) -> &'static [&'static str] {
        match self {
            Engine::KubeRouter => kube_router::PROGRAMMED,
            Engine::CalicoFelix => calico_felix::PROGRAMMED,
            Engine::KubeNetworkPolicies => kube_network_policies::PROGRAMMED,
        }
    }
}

/// The programs of `tools` missing from PATH, with the packages to install.
pub fn missing_tools(tools: &[(&str, &str)]) -> Option<String> {
    let missing: Vec<&(&str, &str)> = tools
        .iter()
        .filter(|(tool, _)| which::which(tool).is_err())
        .collect();
    if missing.is_empty() {
        return None;
    }
    let names: Vec<&str> = missing.iter().map(|(t, _)| *t).collect();
    let mut packages: Vec<&str> = missing.iter().map(|(_, p)| *p).collect();
    packages.dedup();
    Some(format!(
        "{} not found on PATH (`apt-get install {}`)",
        names.join(", "),
        packages.join(" ")
    ))
}

/// The name Calico's CNI plugin gives a pod's host-side veth.
pub fn calico_veth_name(namespace: &str, pod: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        format!("{namespace}.{pod}").as_bytes(),
    );
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("cali{}", &hex[..11])
}

#[cfg(test)]
mod tests;
