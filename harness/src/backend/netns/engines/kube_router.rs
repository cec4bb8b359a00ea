//! kube-router's network policy controller, alone (`--run-firewall` without
//! its router and service proxy), as the kube-router DaemonSet runs it on a
//! node but with the node's name and the kubeconfig given as flags.
//!
//! It lists the pods whose `status.hostIP` is its node's InternalIP
//! (pkg/controllers/netpol/pod.go, `getLocalPods`; the world writes both as
//! the node's fabric address) and filters them by pod IP in its FORWARD,
//! OUTPUT and INPUT chains with ipsets; a denied packet is REJECTed with
//! icmp-port-unreachable (pkg/controllers/netpol/policy.go), so a blocked
//! TCP cell reads `refused`.

use std::path::Path;

use super::{IPTABLES_NFT, Launch, NodeEnv};

/// What it runs (go-iptables and its ipset wrapper look them up on PATH).
pub const TOOLS: &[(&str, &str)] = &[
    ("iptables-nft", "iptables"),
    ("iptables-nft-save", "iptables"),
    ("iptables-nft-restore", "iptables"),
    ("ip6tables-nft", "iptables"),
    ("ipset", "ipset"),
    ("conntrack", "conntrack"),
];

/// Its top-level chain exists once the controller has started syncing
/// (pkg/controllers/netpol/network_policy_controller.go
/// `ensureTopLevelChains`).
pub const PROGRAMMED: &[&str] = &["iptables-nft", "-w", "-n", "-L", "KUBE-ROUTER-FORWARD"];

pub fn launch(node: &NodeEnv, engines: &Path) -> Launch {
    let binary = crate::engines::KUBE_ROUTER.binary(engines);
    Launch {
        program: binary,
        args: vec![
            format!("--kubeconfig={}", node.kubeconfig.display()),
            // Its Node object's name (else the namespace's hostname, the host's).
            format!("--hostname-override={}", node.node),
            "--run-firewall=true".into(),
            "--run-router=false".into(),
            "--run-service-proxy=false".into(),
            // The CNI configuration is the router's business; nothing here runs it.
            "--enable-cni=false".into(),
            // IPv4 is on by default; IPv6 (ip6tables, inet6 ipsets) only when asked.
            "--enable-ipv6=true".into(),
        ],
        env: Vec::new(),
        files: Vec::new(),
        tmpfs: Vec::new(),
        shims: IPTABLES_NFT.to_vec(),
    }
}
