//! The `kind` backend: a kind cluster per CNI, made by the harness from a
//! recipe (`cni/`), the model world on it through the shared Kubernetes
//! driver, and the cluster deleted at the end unless `--keep`.

mod bundled;
pub mod cluster;
pub mod plan;
mod render;
pub mod tools;

use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use kube::Client;

use super::kube::{self as driver, Driver, KubeWorld, WorldOptions, apply};
use super::{Backend, BackendError, BackendResult, Capabilities, ClusterInfo, CniInfo};
use crate::cni::Cni;
use crate::cni::versions::{KUBERNETES, PROBE_IMAGE};
use crate::model::{Addresses, Change, Model, Probe};
use crate::probe::Matrix;
use crate::timeouts::Timeouts;
use cluster::Cluster;
use plan::KindPlan;
use tools::Tools;

pub use bundled::manifest as bundled_manifest;

const NAME: &str = "kind";

fn error(message: impl Into<String>) -> BackendError {
    BackendError {
        backend: NAME,
        message: message.into(),
        source: None,
    }
}

pub struct KindBackend {
    plan: KindPlan,
    tools: Tools,
    /// The workspace root, where the Dockerfiles build from.
    workspace: PathBuf,
    /// Set once the cluster exists (made by this run, or reused).
    created: bool,
    reused: bool,
    world: Option<KubeWorld>,
}

/// Checks the tools and the host, and returns a backend ready to set up.
/// Every missing prerequisite is an `Err` with the fix (exit 2).
pub fn prepare(plan: KindPlan, workspace: PathBuf) -> Result<KindBackend, String> {
    let tools = tools::find(&plan.recipe, |name| which::which(name).ok())?;
    let problems = tools::host_problems(&plan.recipe);
    if !problems.is_empty() {
        return Err(format!(
            "the {} recipe cannot run on this host:\n  - {}",
            plan.recipe.cni,
            problems.join("\n  - ")
        ));
    }
    Ok(KindBackend {
        plan,
        tools,
        workspace,
        created: false,
        reused: false,
        world: None,
    })
}

/// Shows one phase with a spinner, and a line with its duration when done.
async fn phase<T, F>(name: String, work: F) -> BackendResult<T>
where
    F: std::future::Future<Output = Result<T, String>>,
{
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(name.clone());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let started = Instant::now();
    let result = work.await;
    bar.finish_and_clear();
    match result {
        Ok(value) => {
            eprintln!("netpol: {name}: done in {:.0?}", started.elapsed());
            Ok(value)
        }
        Err(message) => Err(error(format!("{name}: {message}"))),
    }
}

impl KindBackend {
    pub fn plan(&self) -> &KindPlan {
        &self.plan
    }

    async fn client(&self, kubeconfig: &str) -> Result<Client, String> {
        let parsed = kube::config::Kubeconfig::from_yaml(kubeconfig)
            .map_err(|e| format!("bad kubeconfig from kind: {e}"))?;
        let config = kube::Config::from_custom_kubeconfig(
            parsed,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .map_err(|e| format!("cannot use kind's kubeconfig: {e}"))?;
        Client::try_from(config).map_err(|e| format!("cannot make an API client: {e}"))
    }

    fn world(&mut self) -> BackendResult<&mut KubeWorld> {
        self.world
            .as_mut()
            .ok_or_else(|| error("used before setup"))
    }
}

impl Backend for KindBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn cni(&self) -> CniInfo {
        CniInfo {
            name: self.plan.recipe.cni.name().into(),
            version: Some(self.plan.recipe.version.clone()),
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            protocols: self.plan.protocols.clone(),
            ipv6: false,
            timeouts: Timeouts::CLUSTER,
        }
    }

    fn cluster(&self) -> ClusterInfo {
        ClusterInfo {
            kubernetes: Some(KUBERNETES.into()),
            nodes: Some(plan::WORKERS as u32 + 1),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|s| s.trim().to_owned()),
        }
    }

    async fn setup(&mut self, model: &Model) -> BackendResult<Addresses> {
        let work = self.plan.work_dir.clone();
        std::fs::create_dir_all(&work)
            .map_err(|e| error(format!("cannot create {}: {e}", work.display())))?;
        let (plan, tools) = (self.plan.clone(), self.tools.clone());
        let cluster = Cluster {
            plan: &plan,
            tools: &tools,
        };
        let version = phase("checking kind".into(), cluster.version()).await?;
        tools::check_kind_version(&version).map_err(error)?;
        self.reused = phase("looking for an existing cluster".into(), cluster.exists()).await?;
        if !self.reused {
            for download in &plan.recipe.downloads {
                phase(
                    format!("downloading {}", download.url),
                    cluster.download(download),
                )
                .await?;
            }
            // Recorded before creation, so an interrupted create is still deleted.
            self.created = true;
            phase(
                format!(
                    "creating kind cluster {} ({})",
                    plan.cluster, plan.recipe.cni
                ),
                cluster.create(),
            )
            .await?;
        }
        let kubeconfig = phase("reading the kubeconfig".into(), cluster.kubeconfig()).await?;
        let client = phase(
            "connecting to the API server".into(),
            self.client(&kubeconfig),
        )
        .await?;
        let workspace = self.workspace.clone();
        phase(
            "building and loading images".into(),
            cluster.build_and_load(&workspace),
        )
        .await?;
        if !self.reused {
            phase(
                format!("installing {} {}", plan.recipe.cni, plan.recipe.version),
                cluster.install(&client),
            )
            .await?;
        }
        for workload in &plan.recipe.ready {
            let wait = apply::await_workload(&client, workload, Timeouts::CNI_READY);
            phase(format!("waiting for {workload}"), async {
                wait.await.map_err(|e| crate::error::chain(&e))
            })
            .await?;
        }
        let nodes = apply::await_nodes(&client, Timeouts::CNI_READY);
        phase("waiting for every node".into(), async {
            nodes.await.map_err(|e| crate::error::chain(&e))
        })
        .await?;
        let options = WorldOptions {
            probe_image: PROBE_IMAGE.into(),
            pull_policy: "Never".into(),
            via: plan.via,
            protocols: plan.protocols.clone(),
        };
        let world = self.world.insert(KubeWorld::new(
            Driver::new(client, plan.names.clone()),
            options,
        ));
        let setup = world.setup(model);
        phase("creating the model world".into(), async {
            setup.await.map_err(|e| crate::error::chain(&e))
        })
        .await
    }

    async fn reset(&mut self) -> BackendResult<()> {
        self.world()?
            .reset()
            .await
            .map_err(|e| driver::backend_error(NAME, e))
    }

    async fn change(&mut self, changes: &[Change]) -> BackendResult<()> {
        self.world()?
            .change(changes)
            .await
            .map_err(|e| driver::backend_error(NAME, e))
    }

    async fn probe(&mut self, probes: &[Probe]) -> BackendResult<Matrix> {
        self.world()?
            .probe(probes)
            .await
            .map_err(|e| driver::backend_error(NAME, e))
    }

    async fn teardown(&mut self) -> BackendResult<()> {
        let mut problems = Vec::new();
        if let Some(world) = self.world.as_mut() {
            report_divergences(&world.divergences);
            // A deleted cluster takes the world with it; a kept one is cleaned.
            if !self.plan.delete_after || self.reused {
                problems.extend(world.teardown().await);
            }
        }
        self.world = None;
        if self.created && self.plan.delete_after && !self.reused {
            let (plan, tools) = (self.plan.clone(), self.tools.clone());
            let cluster = Cluster {
                plan: &plan,
                tools: &tools,
            };
            if let Err(e) = phase(
                format!("deleting kind cluster {}", plan.cluster),
                cluster.delete(),
            )
            .await
            {
                problems.push(e.message);
            }
            self.created = false;
        } else if self.created || self.reused {
            eprintln!(
                "netpol: kept kind cluster {} (`kind delete cluster --name {}` removes it)",
                self.plan.cluster, self.plan.cluster
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(error(problems.join("; ")))
        }
    }
}

/// With `--probe-via both`: every cell where Service traffic differed from
/// pod-IP traffic, a class of CNI bug of its own.
pub fn report_divergences(divergences: &[driver::exec::Divergence]) {
    if divergences.is_empty() {
        return;
    }
    eprintln!(
        "netpol: Service and pod-IP results differed in {} cells:",
        divergences.len()
    );
    for d in divergences.iter().take(50) {
        eprintln!("  {d}");
    }
}

/// The plan of `--cni` on kind.
pub fn plan_for(
    cni: Cni,
    cluster_name: Option<String>,
    keep: bool,
    via: driver::ProbeVia,
    run_id: &str,
) -> KindPlan {
    // A named cluster may be someone's: reused as it is, and kept.
    let keep = keep || cluster_name.is_some();
    let cluster = cluster_name.unwrap_or_else(|| plan::cluster_name(cni));
    KindPlan::new(
        cni.recipe(),
        cluster,
        keep,
        via,
        netpol_probe::sctp_supported(),
        run_id,
    )
}
