//! What a kind run will do, as data: the kind config, the commands, the
//! manifests, the images, the objects. `--dry-run` prints it, the backend
//! executes it, and the snapshot tests pin it per CNI.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::backend::kube::ProbeVia;
use crate::backend::kube::objects::Names;
use crate::cni::versions::{ENFORCER_IMAGE, KIND, NODE_IMAGE, PROBE_IMAGE};
use crate::cni::{Cni, Install, Recipe};
use crate::model::Protocol;
use crate::timeouts::Timeouts;

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
        }
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
        let _ = writeln!(out, "  disableDefaultCNI: {}", recipe.disable_default_cni);
        let _ = writeln!(out, "  podSubnet: {}", recipe.pod_subnet);
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

    /// The commands and API steps, in order, as a person would run them.
    pub fn steps(&self) -> Vec<String> {
        let c = &self.cluster;
        let work = self.work_dir.display();
        let mut steps = vec![format!(
            "check kind (>= v0.24; pinned {KIND}), docker or podman, curl{} and the host kernel",
            if self
                .recipe
                .install
                .iter()
                .any(|i| matches!(i, Install::Helm { .. }))
            {
                ", helm or cilium"
            } else {
                ""
            }
        )];
        for d in &self.recipe.downloads {
            steps.push(format!(
                "curl -fsSL --retry 3 -o {work}/download.tgz {}",
                d.url
            ));
            steps.push(format!("verify sha256 {} of {work}/download.tgz", d.sha256));
            steps.push(format!(
                "tar -xzf {work}/download.tgz -C {work}/{} {}",
                parent(d.into),
                d.member
            ));
        }
        steps.push(format!("kind create cluster --name {c} --config {} (unless cluster {c} exists: then it is reused and kept)", self.config_path().display()));
        steps.push(format!(
            "kind get kubeconfig --name {c} > {}",
            self.kubeconfig_path().display()
        ));
        for image in &self.images {
            steps.push(format!(
                "docker build -f {} -t {} .",
                image.dockerfile, image.tag
            ));
            steps.push(format!("kind load docker-image {} --name {c}", image.tag));
        }
        for install in &self.recipe.install {
            match install {
                Install::Manifest { url, rewrites } => {
                    steps.push(format!("curl -fsSL --retry 3 {url}"));
                    for (from, to) in rewrites {
                        steps.push(format!("  replace `{}` with `{}`", from.trim(), to.trim()));
                    }
                    steps.push("  apply every object server-side (field manager netpol; CRDs first, then the rest once Established)".into());
                }
                Install::Helm {
                    release,
                    chart,
                    repo,
                    version,
                    namespace,
                    values,
                } => {
                    let sets: String = values
                        .iter()
                        .map(|(k, v)| format!(" --set {k}={v}"))
                        .collect();
                    steps.push(format!(
                        "env KUBECONFIG={} helm upgrade --install {release} {chart} --repo {repo} --version {version} --namespace {namespace}{sets}",
                        self.kubeconfig_path().display()
                    ));
                    steps.push(format!(
                        "  (without helm: env KUBECONFIG={} cilium install --version {version}{sets})",
                        self.kubeconfig_path().display()
                    ));
                }
                Install::Bundled { manifests } => {
                    steps.push(format!(
                        "apply {} server-side, image {ENFORCER_IMAGE}",
                        manifests.join(", ")
                    ));
                }
                Install::EachNode { argv, why } => {
                    steps.push(format!(
                        "docker exec NODE {} for every node of kind get nodes --name {c} ({why})",
                        argv.join(" ")
                    ));
                }
            }
        }
        for workload in &self.recipe.ready {
            steps.push(format!(
                "wait until {workload} is ready ({}s)",
                Timeouts::CNI_READY.as_secs()
            ));
        }
        steps.push(format!(
            "wait until every node is Ready ({}s)",
            Timeouts::CNI_READY.as_secs()
        ));
        steps.push(format!(
            "create namespaces x, y, z, pods, Services (server-side apply); wait until every pod is Ready ({}s)",
            Timeouts::POD_READY.as_secs()
        ));
        steps.push(format!(
            "run the cases: one exec of `/netpol-probe probe` per source pod per matrix, by {}",
            match self.via {
                ProbeVia::Pod => "pod IP",
                ProbeVia::Service => "Service ClusterIP",
                ProbeVia::Both => "pod IP and Service ClusterIP (differences listed)",
            }
        ));
        if self.delete_after {
            steps.push(format!(
                "kind delete cluster --name {c} (everything goes with it)"
            ));
        } else {
            steps.push(format!(
                "delete the namespaces labelled {}",
                self.names.selector()
            ));
            steps.push(format!(
                "keep cluster {c} (kind delete cluster --name {c} removes it)"
            ));
        }
        steps
    }
}

fn parent(path: &str) -> &str {
    Path::new(path)
        .parent()
        .and_then(|p| p.to_str())
        .unwrap_or("")
}
