//! Calico's Felix in Kubernetes-datastore mode, standalone (no calico-node
//! wrapper, no Typha, no BIRD): the per-node agent that turns pods,
//! namespaces and NetworkPolicies into iptables rules (the nftables backend
//! of iptables) for the workload interfaces Calico's CNI plugin would have
//! made. What calico-node's image and its CNI plugin would otherwise
//! provide, the world and this recipe do:
//! - the interfaces: host veths named as the CNI plugin names them
//!   ([`super::calico_veth_name`]) with no address (Felix removes addresses
//!   from `cali*`), the pods' gateway 169.254.1.1 on the node's `lo`;
//! - the CRDs of the release at the pin (manifests/crds.yaml) and a
//!   ClusterInformation `default` with `datastoreReady: true` (what
//!   calico-node's startup writes; Felix waits for it);
//! - its state folders /var/lib and /run as a tmpfs of its own, one per node.
//!
//! A denied packet is DROPped (Calico's default action), so a blocked cell
//! reads `timeout`.

use std::path::Path;

use super::{Gateway, HostIfNaming, IPTABLES_NFT, Launch, NodeEnv, WorldShape};
use crate::engines::{CALICO_CRDS, CALICO_FELIX};

pub const WORLD: WorldShape = WorldShape {
    host_if: HostIfNaming::Calico,
    gateway: Gateway::NodeLoopback,
};

pub const TOOLS: &[(&str, &str)] = &[
    ("iptables-nft", "iptables"),
    ("iptables-nft-save", "iptables"),
    ("iptables-nft-restore", "iptables"),
    ("ip6tables-nft", "iptables"),
    ("ipset", "ipset"),
    ("unshare", "util-linux"),
    ("mount", "mount"),
];

/// Its forward chain, created by its first iptables programming
/// (felix/rules/static.go).
pub const PROGRAMMED: &[&str] = &["iptables-nft", "-w", "-n", "-L", "cali-FORWARD"];

/// Felix's configuration file, in the node's engine folder.
const CONFIG_FILE: &str = "felix.cfg";

pub fn launch(node: &NodeEnv, engines: &Path) -> Launch {
    let env = [
        // Kubernetes datastore: policies, pods and namespaces from the API server.
        ("FELIX_DATASTORETYPE", "kubernetes".to_owned()),
        ("KUBECONFIG", node.kubeconfig.display().to_string()),
        // Which Node's workloads are its own.
        ("FELIX_FELIXHOSTNAME", node.node.clone()),
        // Calico IPAM is not running: the Node's podCIDR is the node's block.
        ("USE_POD_CIDR", "true".to_owned()),
        ("FELIX_IPTABLESBACKEND", "NFT".to_owned()),
        // The probes' answers come back from pods to the node's agents too;
        // calico-node's default for a pod reaching its own host is DROP only
        // when configured so.
        ("FELIX_DEFAULTENDPOINTTOHOSTACTION", "ACCEPT".to_owned()),
        ("FELIX_IPV6SUPPORT", "false".to_owned()),
        // Built without cgo there is no libbpf: its connect-time load
        // balancer cleanup (BPF) would call the stub and panic at start.
        ("FELIX_DebugSkipCTLBCleanup", "true".to_owned()),
        // Logs to stderr (the run's log file), not /var/log/calico.
        ("FELIX_LOGFILEPATH", "none".to_owned()),
        ("FELIX_LOGSEVERITYSCREEN", "info".to_owned()),
        // No phoning home to usage.projectcalico.org from a test.
        ("FELIX_USAGEREPORTINGENABLED", "false".to_owned()),
        // Its health and Prometheus ports stay off: nothing reads them.
        ("FELIX_HEALTHENABLED", "false".to_owned()),
        ("FELIX_PROMETHEUSMETRICSENABLED", "false".to_owned()),
    ];
    Launch {
        program: CALICO_FELIX.binary(engines),
        // Its settings are its environment, as calico-node's image gives
        // them; the config file (else /etc/calico/felix.cfg of the host) is
        // the run's, which also puts the run folder on its command line for
        // `netpol cleanup`.
        args: vec![
            "-c".into(),
            node.dir.join(CONFIG_FILE).display().to_string(),
        ],
        env: env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        files: vec![(CONFIG_FILE.to_owned(), "[global]\n".to_owned())],
        tmpfs: vec!["/var/lib", "/run"],
        shims: IPTABLES_NFT.to_vec(),
    }
}

/// The release's CRDs (its manifests/crds.yaml, only
/// CustomResourceDefinitions), then the ClusterInformation calico-node would
/// write, as one multi-document manifest.
pub fn manifests(engines: &Path) -> Result<String, String> {
    let path = CALICO_FELIX.asset(engines, &CALICO_CRDS);
    let crds = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read Calico's CRDs {}: {e} (`netpol engines build calico-felix` copies them)",
            path.display()
        )
    })?;
    Ok(format!("{crds}\n---\n{CLUSTER_INFORMATION}"))
}

/// What calico-node's startup (node/pkg/lifecycle/startup) writes once the
/// datastore is initialised: Felix waits for `datastoreReady`.
pub const CLUSTER_INFORMATION: &str = "apiVersion: crd.projectcalico.org/v1
kind: ClusterInformation
metadata:
  name: default
spec:
  datastoreReady: true
  calicoVersion: v3.31.0
  clusterType: k8s,netpol
";
