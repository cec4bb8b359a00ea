//! What a kind run will do, as data: the kind config, the images, the
//! names; `steps` turns it into the one list of steps that `--dry-run`
//! prints and the backend executes, and the snapshot tests pin it per CNI.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::backend::kube::ProbeVia;
use crate::backend::kube::objects::Names;
use crate::cni::versions::{ENFORCER_IMAGE, NODE_IMAGE, PROBE_IMAGE};
use crate::cni::{
    Cni, Ipv6Support, KIND_POD_SUBNET, KIND_POD_SUBNET_V6, KIND_SERVICE_SUBNET,
    KIND_SERVICE_SUBNET_V6, Recipe,
};
use crate::model::{IpFamily, Protocol};

/// Worker nodes besides the control plane: two, so that the matrix has
/// same-node and cross-node pairs while the control plane stays tainted.
pub const WORKERS: usize = 2;

/// One image built from this workspace and loaded into the nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub tag: &'static str,
    pub dockerfile: &'static str,
}

/// Everything a kind run needs decided before it starts.
#[derive(Clone, Debug)]
pub struct KindPlan {
    pub recipe: Recipe,
    pub cluster: String,
    /// Delete the cluster at the end (not with `--keep`, nor a reused cluster).
    pub delete_after: bool,
    pub work_dir: PathBuf,
    pub images: Vec<Image>,
    pub via: ProbeVia,
    /// The protocols probed and carried by Services.
    pub protocols: Vec<Protocol>,
    pub names: Names,
    /// The architecture of this machine and so of the kind nodes, as
    /// release archives and `docker image save --platform` name it.
    pub arch: &'static str,
    /// `--enforce-timeout`: each step's enforce deadline instead of the recipe's.
    pub enforce: Option<std::time::Duration>,
    /// kind's `networking.ipFamily`: IPv4 unless [`KindPlan::with_ip_family`] says.
    pub ip_family: IpFamily,
}

/// The default cluster name of a CNI's run.
pub fn cluster_name(cni: Cni) -> String {
    format!("netpol-{}", cni.name())
}

/// Where a cluster's downloads and generated files live.
pub fn work_dir(cluster: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{cluster}.netpol"))
}

impl KindPlan {
    pub fn new(
        recipe: Recipe,
        cluster: String,
        keep: bool,
        via: ProbeVia,
        host_sctp: bool,
        run_id: &str,
    ) -> KindPlan {
        let mut images = vec![Image {
            tag: PROBE_IMAGE,
            dockerfile: "probe-image/Dockerfile",
        }];
        if recipe.cni == Cni::Reference {
            images.push(Image {
                tag: ENFORCER_IMAGE,
                dockerfile: "reference-enforcer/Dockerfile",
            });
        }
        let mut protocols = vec![Protocol::Tcp, Protocol::Udp];
        if recipe.sctp && host_sctp {
            protocols.push(Protocol::Sctp);
        }
        KindPlan {
            work_dir: work_dir(&cluster),
            recipe,
            cluster,
            delete_after: !keep,
            images,
            via,
            protocols,
            names: Names::plain(run_id),
            arch: super::tools::host_arch(),
            enforce: None,
            ip_family: IpFamily::Ipv4,
        }
    }

    /// The cluster in `ip_family` (kind's `networking.ipFamily`), or why the
    /// recipe cannot build it.
    pub fn with_ip_family(mut self, ip_family: IpFamily) -> Result<KindPlan, String> {
        if let (true, Ipv6Support::Refused(reason)) = (ip_family.needs_ipv6(), &self.recipe.ipv6) {
            return Err(format!(
                "--ip-family {ip_family} on kind with --cni {}: {reason}",
                self.recipe.cni
            ));
        }
        self.ip_family = ip_family;
        Ok(self)
    }

    /// What the backend declares: the recipe's protocols (and the host's
    /// SCTP) and the recipe's enforce deadline.
    pub fn capabilities(&self) -> crate::backend::Capabilities {
        crate::backend::Capabilities {
            protocols: self.protocols.clone(),
            ipv6: false,
            timeouts: self.timeouts(),
        }
    }

    /// The recipe's waits, with `--enforce-timeout` when it was given.
    pub fn timeouts(&self) -> crate::timeouts::Timeouts {
        let mut timeouts = self.recipe.timeouts();
        if let Some(enforce) = self.enforce {
            timeouts.enforce = enforce;
        }
        timeouts
    }

    pub fn config_path(&self) -> PathBuf {
        self.work_dir.join("kind-config.yaml")
    }

    pub fn kubeconfig_path(&self) -> PathBuf {
        self.work_dir.join("kubeconfig")
    }

    /// The kind cluster configuration (kind.x-k8s.io/v1alpha4).
    pub fn kind_config(&self) -> String {
        let recipe = &self.recipe;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: {}",
            self.cluster
        );
        let _ = writeln!(out, "networking:");
        if self.ip_family != IpFamily::Ipv4 {
            let _ = writeln!(out, "  ipFamily: {}", self.ip_family);
        }
        let _ = writeln!(out, "  disableDefaultCNI: {}", recipe.disable_default_cni);
        // Only recipes on kind's default subnets offer IPv6 (`with_ip_family`).
        match self.ip_family {
            IpFamily::Ipv4 => {
                let _ = writeln!(out, "  podSubnet: {}", recipe.pod_subnet);
            }
            IpFamily::Ipv6 => {
                let _ = writeln!(out, "  podSubnet: {KIND_POD_SUBNET_V6}");
                let _ = writeln!(out, "  serviceSubnet: {KIND_SERVICE_SUBNET_V6}");
            }
            IpFamily::Dual => {
                let _ = writeln!(out, "  podSubnet: {KIND_POD_SUBNET},{KIND_POD_SUBNET_V6}");
                let _ = writeln!(
                    out,
                    "  serviceSubnet: {KIND_SERVICE_SUBNET},{KIND_SERVICE_SUBNET_V6}"
                );
            }
        }
        let _ = writeln!(out, "  kubeProxyMode: {}", recipe.kube_proxy_mode.name());
        let _ = writeln!(out, "nodes:");
        let roles = std::iter::once("control-plane").chain(std::iter::repeat_n("worker", WORKERS));
        for role in roles {
            let _ = writeln!(out, "- role: {role}\n  image: {NODE_IMAGE}");
            if !recipe.mounts.is_empty() {
                let _ = writeln!(out, "  extraMounts:");
                for mount in &recipe.mounts {
                    let host = self.work_dir.join(mount.host_file);
                    let _ = writeln!(
                        out,
                        "  - hostPath: {}\n    containerPath: {}\n    readOnly: true",
                        host.display(),
                        mount.node_path
                    );
                }
            }
        }
        out
    }
}
