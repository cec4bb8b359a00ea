//! `netpol run` on the cluster backends (kind, kubeconfig): which CNI goes
//! with which backend, `--dry-run`, and the prerequisites (exit 2 with the fix).

use super::run::run_on;
use super::{BackendName, CniName, RunArgs, UsageError};
use crate::backend::kind;
use crate::backend::kube::new_run_id;
use crate::backend::kubeconfig::{KubeconfigBackend, Target};
use crate::backend::netns;
use crate::case::Case;
use crate::cni::{self, Cni};
use crate::exit;
use crate::model::Model;

/// The run id printed in dry runs; the real one is chosen at run time.
const DRY_RUN_ID: &str = "000000";

fn refuse_weave(cni: Option<CniName>) -> Result<(), UsageError> {
    match cni {
        Some(CniName::Weave) => Err(UsageError::Message(format!(
            "--cni weave: {}",
            cni::refused("weave").unwrap_or_default()
        ))),
        _ => Ok(()),
    }
}

/// The netns backend's enforcer; the kind CNIs are refused by name.
pub(super) fn netns_cni(cni: Option<CniName>) -> Result<netns::Cni, UsageError> {
    refuse_weave(cni)?;
    match cni {
        None | Some(CniName::Reference) => Ok(netns::Cni::Reference),
        Some(CniName::None) => Ok(netns::Cni::None),
        Some(other) => Err(UsageError::Message(format!(
            "--cni {} runs on a cluster: use `--backend kind --cni {0}` (the netns backend has only `reference` and `none`)",
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
        Some(CniName::None) => {
            return Err(UsageError::Message(
                "--cni none exists only on the netns backend (a cluster always has a CNI; flannel is the kind row that enforces nothing)".into(),
            ));
        }
        Some(CniName::Weave) => unreachable!("refused above"),
    })
}

/// The workspace root: the Dockerfiles build from it.
fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}

pub(super) fn run(
    runtime: &tokio::runtime::Runtime,
    args: &RunArgs,
    cases: &[Case],
    excluded: &[Case],
    model: &Model,
) -> Result<u8, crate::error::RunError> {
    let cluster = &args.cluster;
    let run_id = if cluster.dry_run {
        DRY_RUN_ID.to_owned()
    } else {
        new_run_id()
    };
    match args.backend {
        BackendName::Kind => {
            let cni = kind_cni(args.cni)?;
            let plan = kind::plan_for(
                cni,
                cluster.cluster_name.clone(),
                cluster.keep,
                cluster.via(),
                &run_id,
            );
            if cluster.dry_run {
                print!("{}", plan.render(model));
                println!(
                    "\n{} cases selected, {} excluded",
                    cases.len(),
                    excluded.len()
                );
                return Ok(exit::PASSED);
            }
            let backend = kind::prepare(plan, workspace()).map_err(UsageError::Message)?;
            runtime.block_on(run_on(backend, args, cases, excluded, model))
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
            if cluster.keep || cluster.cluster_name.is_some() {
                return Err(UsageError::Message(
                    "--keep and --cluster-name are for the kind backend; the kubeconfig backend never creates or deletes a cluster".into(),
                ).into());
            }
            let target = Target {
                kubeconfig: cluster.kubeconfig.clone(),
                context: cluster.context.clone(),
                probe_image,
                via: cluster.via(),
                cni: args.cni.map_or_else(|| "unknown".to_owned(), name),
                run_id,
            };
            let backend = KubeconfigBackend::new(target);
            if cluster.dry_run {
                print!("{}", backend.render_plan(model));
                println!(
                    "\n{} cases selected, {} excluded",
                    cases.len(),
                    excluded.len()
                );
                return Ok(exit::PASSED);
            }
            runtime.block_on(run_on(backend, args, cases, excluded, model))
        }
        BackendName::Netns | BackendName::Oracle => unreachable!("dispatched in run"),
    }
}
