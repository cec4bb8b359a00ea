//! `netpol run` on the cluster backends (kind, kubeconfig): their flags,
//! which CNI goes with which backend, and the backend (or, with `--dry-run`,
//! the plan) for `cli/run` to run; prerequisites are usage errors with the fix.

use std::path::{Path, PathBuf};

use super::{BackendName, CniName, RunArgs, UsageError};
use crate::backend::kind::{self, KindBackend, KindOptions};
use crate::backend::kube::{ProbeVia, new_run_id};
use crate::backend::kubeconfig::{KubeconfigBackend, Target};
use crate::backend::netns;
use crate::backend::netns::engines::Engine;
use crate::case::Case;
use crate::cni::{self, Cni};
use crate::model::Model;

/// The run id printed in dry runs; the real one is chosen at run time.
const DRY_RUN_ID: &str = "000000";

/// The flags of the cluster backends, flattened into `netpol run`.
#[derive(Clone, Debug, Default, clap::Args)]
#[command(next_help_heading = "Cluster backends (kind, kubeconfig)")]
pub struct ClusterArgs {
    /// Print the complete plan (kind config, CNI manifests and versions,
    /// images, objects, steps) and touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep the kind cluster after the run (it is deleted otherwise).
    #[arg(long)]
    pub keep: bool,
    /// The kind cluster's name; an existing cluster of that name is reused
    /// as it is (and kept).
    #[arg(long, value_name = "NAME")]
    pub cluster_name: Option<String>,
    /// Probe by pod IP, by Service ClusterIP, or both.
    #[arg(long, value_enum, value_name = "VIA")]
    pub probe_via: Option<ProbeVia>,
    /// The kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: the current one).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// The probe image the cluster pulls (kubeconfig backend: required,
    /// since nothing can be loaded into someone else's nodes).
    #[arg(long, value_name = "IMAGE")]
    pub probe_image: Option<String>,
    /// The netpol source tree the kind backend builds its images from
    /// (default: the tree this netpol was built from, else the current folder).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
}

impl clap::ValueEnum for ProbeVia {
    fn value_variants<'a>() -> &'a [Self] {
        &[ProbeVia::Pod, ProbeVia::Service, ProbeVia::Both]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        use clap::builder::PossibleValue;
        Some(match self {
            ProbeVia::Pod => PossibleValue::new("pod").help("The destination pod's IP"),
            ProbeVia::Service => {
                PossibleValue::new("service").help("The destination pod's Service ClusterIP")
            }
            ProbeVia::Both => PossibleValue::new("both").help(
                "Both, each path judged: a cell passes only if it matches on both; where they differ is in the results",
            ),
        })
    }
}

/// What `netpol run` on a cluster backend runs: a backend, or a plan to print.
pub enum Prepared {
    Kind(Box<KindBackend>),
    Kubeconfig(Box<KubeconfigBackend>),
    /// `--dry-run`: the whole plan, nothing touched.
    Plan(String),
}

fn refuse_weave(cni: Option<CniName>) -> Result<(), UsageError> {
    match cni {
        Some(CniName::Weave) => Err(UsageError::Message(format!(
            "--cni weave: {}",
            cni::refused("weave").unwrap_or_default()
        ))),
        _ => Ok(()),
    }
}

/// Why `--cni kube-router-nft` cannot run here: the module proxy reachable
/// here serves no kube-router with the nftables backend whole.
pub const KUBE_ROUTER_NFT_REFUSED: &str = "--cni kube-router-nft: kube-router's nftables backend \
    (--use-nftables-for-netpol) exists from v2.11.0, and the Go module proxy reachable here \
    answers 403 for the .mod and .zip of v2.11.x (v2.12.0 has no .zip and needs Go 1.27), so it \
    cannot be built here; kube-router v2.10.0 (`--cni kube-router`) is its iptables backend";

/// The netns backend's enforcer; the kind CNIs are refused by name.
pub(super) fn netns_cni(cni: Option<CniName>) -> Result<netns::Cni, UsageError> {
    refuse_weave(cni)?;
    match cni {
        None | Some(CniName::Reference) => Ok(netns::Cni::Reference),
        Some(CniName::None) => Ok(netns::Cni::None),
        Some(CniName::KubeRouter) => Ok(netns::Cni::Engine(Engine::KubeRouter)),
        Some(CniName::CalicoFelix) => Ok(netns::Cni::Engine(Engine::CalicoFelix)),
        Some(CniName::KubeNetworkPolicies) => Ok(netns::Cni::Engine(Engine::KubeNetworkPolicies)),
        Some(CniName::KubeRouterNft) => Err(UsageError::Message(KUBE_ROUTER_NFT_REFUSED.into())),
        Some(other) => Err(UsageError::Message(format!(
            "--cni {} runs on a cluster: use `--backend kind --cni {0}` (the netns backend has \
             `reference`, `none`, `kube-router`, `calico-felix` and `kube-network-policies`)",
            name(other)
        ))),
    }
}

fn name(cni: CniName) -> String {
    use clap::ValueEnum;
    cni.to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

/// The kind recipe of `--cni` (kindnet when absent).
fn kind_cni(cni: Option<CniName>) -> Result<Cni, UsageError> {
    refuse_weave(cni)?;
    Ok(match cni {
        None | Some(CniName::Kindnet) => Cni::Kindnet,
        Some(CniName::Reference) => Cni::Reference,
        Some(CniName::Calico) => Cni::Calico,
        Some(CniName::Cilium) => Cni::Cilium,
        Some(CniName::Flannel) => Cni::Flannel,
        Some(CniName::Antrea) => Cni::Antrea,
        Some(CniName::KubeRouter) => Cni::KubeRouter,
        Some(CniName::KubeRouterNft) => {
            return Err(UsageError::Message(KUBE_ROUTER_NFT_REFUSED.into()));
        }
        Some(CniName::CalicoFelix) => {
            return Err(UsageError::Message(
                "--cni calico-felix is Felix alone on the netns backend; on kind the whole of Calico is `--cni calico`".into(),
            ));
        }
        Some(CniName::KubeNetworkPolicies) => {
            return Err(UsageError::Message(
                "--cni kube-network-policies is the engine alone on the netns backend; on kind it is kindnet's, `--cni kindnet`".into(),
            ));
        }
        Some(CniName::None) => {
            return Err(UsageError::Message(
                "--cni none exists only on the netns backend (a cluster always has a CNI; flannel is the kind row that enforces nothing)".into(),
            ));
        }
        Some(CniName::Weave) => unreachable!("refused above"),
    })
}

/// The source tree the images build from: `--workspace`, else the tree this
/// binary was built from while it is still there, else the current folder
/// (`prepare` then checks the Dockerfiles are in it).
fn workspace(flag: Option<&Path>) -> PathBuf {
    if let Some(dir) = flag {
        return dir.to_path_buf();
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).parent();
    match built {
        Some(dir) if dir.join("probe-image/Dockerfile").is_file() => dir.to_path_buf(),
        _ => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    }
}

fn selected(cases: &[Case], excluded: &[Case]) -> String {
    format!(
        "\n{} cases selected, {} excluded\n",
        cases.len(),
        excluded.len()
    )
}

/// The backend of a cluster run, or the plan of a dry run.
pub(super) fn prepare(
    args: &RunArgs,
    cases: &[Case],
    excluded: &[Case],
    model: &Model,
) -> Result<Prepared, crate::error::RunError> {
    let cluster = &args.cluster;
    let run_id = if cluster.dry_run {
        DRY_RUN_ID.to_owned()
    } else {
        new_run_id()
    };
    let via = cluster.probe_via.unwrap_or_default();
    match args.backend {
        BackendName::Kind => {
            let ip_family: crate::model::IpFamily = args.ip_family.into();
            let mut plan = KindOptions {
                cni: kind_cni(args.cni)?,
                cluster_name: cluster.cluster_name.clone(),
                keep: cluster.keep,
                via,
                run_id,
            }
            .plan_in(ip_family)
            .map_err(UsageError::Message)?;
            plan.enforce = args.enforce_timeout;
            let workspace = workspace(cluster.workspace.as_deref());
            if cluster.dry_run {
                return Ok(Prepared::Plan(
                    kind::dry_run(&plan, model, &workspace) + &selected(cases, excluded),
                ));
            }
            if ip_family.needs_ipv6() {
                // The cluster can be dual-stack, but the kind backend reads
                // one pod IP and dials it: refused rather than judged on IPv4
                // alone under an IPv6 flag.
                return Err(UsageError::Message(format!(
                    "--ip-family {ip_family}: the kind backend probes IPv4 only so far (it reads each pod's podIP, not podIPs); \
                     `--dry-run` shows the {ip_family} cluster, and `--backend netns --ip-family {ip_family}` runs it"
                ))
                .into());
            }
            let backend = kind::prepare(plan, workspace).map_err(UsageError::Message)?;
            Ok(Prepared::Kind(Box::new(backend)))
        }
        BackendName::Kubeconfig => {
            refuse_weave(args.cni)?;
            if matches!(args.cni, Some(CniName::None)) {
                return Err(UsageError::Message(
                    "--cni none exists only on the netns backend".into(),
                )
                .into());
            }
            let probe_image = match (&cluster.probe_image, cluster.dry_run) {
                (Some(image), _) => image.clone(),
                (None, true) => "(--probe-image, required)".into(),
                (None, false) => {
                    return Err(UsageError::Message(
                        "the kubeconfig backend needs --probe-image IMAGE: an image the cluster can pull, \
                         built from probe-image/Dockerfile (`docker build -f probe-image/Dockerfile -t REGISTRY/netpol-probe:TAG .` \
                         and push it)"
                            .into(),
                    ).into());
                }
            };
            if cluster.keep || cluster.cluster_name.is_some() || cluster.workspace.is_some() {
                return Err(UsageError::Message(
                    "--keep, --cluster-name and --workspace are for the kind backend; the kubeconfig backend never creates, builds or deletes anything but its namespaces".into(),
                ).into());
            }
            let backend = KubeconfigBackend::new(Target {
                kubeconfig: cluster.kubeconfig.clone(),
                context: cluster.context.clone(),
                probe_image,
                via,
                cni: args.cni.map_or_else(|| "unknown".to_owned(), name),
                run_id,
                enforce: args.enforce_timeout,
            });
            if cluster.dry_run {
                return Ok(Prepared::Plan(
                    backend.render_plan(model) + &selected(cases, excluded),
                ));
            }
            Ok(Prepared::Kubeconfig(Box::new(backend)))
        }
        BackendName::Netns | BackendName::Oracle => unreachable!("dispatched in cli/run"),
    }
}
