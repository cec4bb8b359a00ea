//! The `kind` backend: a kind cluster per CNI, made by the harness from a
//! recipe (`cni/`), the model world on it through the shared Kubernetes
//! driver, and the cluster deleted at the end unless `--keep`.

mod bundled;
pub mod cluster;
pub mod plan;
mod render;
mod step_list;
pub mod steps;
pub mod tools;

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use super::kube::{self as driver, Driver, KubeWorld, ProbeVia, ServiceAccounts, WorldOptions};
use super::{Backend, BackendError, BackendResult, Capabilities, ClusterInfo, CniInfo};
use crate::cni::Cni;
use crate::cni::versions::{KUBERNETES, PROBE_IMAGE};
use crate::model::{Addresses, Change, Model, Probe};
use crate::probe::{Matrix, Paths};
use crate::timeouts::Timeouts;
use cluster::Progress;
use plan::KindPlan;
use steps::{Action, Step};
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

/// What a kind run is asked for (the CLI fills it from its flags).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindOptions {
    pub cni: Cni,
    /// An existing cluster of that name is reused as it is (and kept).
    pub cluster_name: Option<String>,
    /// Keep the cluster after the run.
    pub keep: bool,
    pub via: ProbeVia,
    pub run_id: String,
}

impl KindOptions {
    /// The plan in `ip_family`, or why the recipe refuses it.
    pub fn plan_in(&self, ip_family: crate::model::IpFamily) -> Result<KindPlan, String> {
        plan_for(self).with_ip_family(ip_family)
    }
}

pub struct KindBackend {
    plan: KindPlan,
    tools: Tools,
    /// The workspace root, where the Dockerfiles build from.
    workspace: PathBuf,
    /// Set once the cluster exists because this run made it.
    created: bool,
    progress: Progress,
    world: Option<KubeWorld>,
}

/// Checks the tools, the host and the workspace, and returns a backend
/// ready to set up. Every missing prerequisite is in the `Err`, with its fix.
pub fn prepare(plan: KindPlan, workspace: PathBuf) -> Result<KindBackend, String> {
    let mut problems: Vec<String> = plan
        .images
        .iter()
        .filter(|image| !workspace.join(image.dockerfile).is_file())
        .map(|image| {
            format!(
                "{} is not in {} (pass the netpol source tree with --workspace DIR)",
                image.dockerfile,
                workspace.display()
            )
        })
        .collect();
    for download in &plan.recipe.downloads {
        if download.arch != plan.arch {
            problems.push(format!(
                "{} comes from a linux/{} archive pinned by its checksum ({}), and this machine is linux/{}, for which no checksum is pinned (versions.rs): run this recipe on linux/{}",
                download.member.trim_start_matches("./"),
                download.arch,
                download.url,
                plan.arch,
                download.arch
            ));
        }
    }
    let host = tools::host_problems(&plan.recipe);
    for warning in &host.warnings {
        eprintln!("netpol: warning: {warning}");
    }
    problems.extend(host.problems);
    // Every problem at once: the host's and the workspace's, then the tools'.
    let found = tools::find(&plan.recipe, |name| which::which(name).ok());
    let mut messages = Vec::new();
    if !problems.is_empty() {
        messages.push(format!(
            "the {} recipe cannot run here:\n  - {}",
            plan.recipe.cni,
            problems.join("\n  - ")
        ));
    }
    if let Err(missing) = &found {
        messages.push(missing.clone());
    }
    let tools = match found {
        Ok(tools) if messages.is_empty() => tools,
        _ => return Err(messages.join("\n")),
    };
    Ok(KindBackend {
        plan,
        tools,
        workspace,
        created: false,
        progress: Progress::default(),
        world: None,
    })
}

/// Shows one phase with a spinner, and a line with its duration when done.
async fn phase<T, F>(name: &str, work: F) -> BackendResult<T>
where
    F: std::future::Future<Output = Result<T, String>>,
{
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(name.to_owned());
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

    fn world(&mut self) -> BackendResult<&mut KubeWorld> {
        self.world
            .as_mut()
            .ok_or_else(|| error("used before setup"))
    }

    /// Runs one setup step; the model world is the backend's own.
    async fn setup_step(&mut self, step: &Step, model: &Model) -> BackendResult<Option<Addresses>> {
        if let Action::CreateCluster { .. } = step.action {
            // Recorded before creation, so an interrupted create is still deleted.
            self.created = true;
        }
        if let Action::CreateWorld = step.action {
            let client = self
                .progress
                .client
                .clone()
                .ok_or_else(|| error("no API client before the model world"))?;
            let options = WorldOptions {
                probe_image: PROBE_IMAGE.into(),
                pull_policy: "Never".into(),
                via: self.plan.via,
                protocols: self.plan.protocols.clone(),
                service_accounts: ServiceAccounts::Await,
            };
            let world = self.world.insert(KubeWorld::new(
                Driver::new(client, self.plan.names.clone()),
                options,
            ));
            let setup = world.setup_to_baseline(model, Timeouts::BASELINE);
            return phase(&step.title, async {
                setup.await.map_err(|e| crate::error::chain(&e))
            })
            .await
            .map(Some);
        }
        let (plan, progress) = (&self.plan, &mut self.progress);
        phase(&step.title, cluster::execute(plan, &step.action, progress)).await?;
        Ok(None)
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
        self.plan.capabilities()
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
        let mut addresses = None;
        for step in self.plan.setup_steps(&self.tools, &self.workspace) {
            if step.when.applies(self.progress.reused)
                && let Some(found) = self.setup_step(&step, model).await?
            {
                addresses = Some(found);
            }
        }
        addresses.ok_or_else(|| error("the plan has no model world step"))
    }

    async fn reset(&mut self) -> BackendResult<()> {
        self.world()?
            .reset_to_baseline(Timeouts::BASELINE)
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

    async fn probe_paths(&mut self, probes: &[Probe]) -> BackendResult<Paths> {
        self.world()?
            .probe_paths(probes)
            .await
            .map_err(|e| driver::backend_error(NAME, e))
    }

    async fn teardown(&mut self) -> BackendResult<()> {
        let mut problems = Vec::new();
        let reused = self.progress.reused;
        for step in self.plan.teardown_steps(&self.tools) {
            if !step.when.applies(reused) {
                continue;
            }
            match &step.action {
                Action::CleanNamespaces => {
                    if let Some(world) = self.world.as_mut() {
                        problems.extend(world.teardown().await);
                    }
                }
                // Only a cluster this run made is deleted.
                Action::DeleteCluster(_) if !self.created => {}
                Action::Keep => {
                    if self.created || reused {
                        eprintln!(
                            "netpol: kept kind cluster {c} (`kind delete cluster --name {c}` removes it)",
                            c = self.plan.cluster
                        );
                    }
                }
                action => {
                    let (plan, progress) = (&self.plan, &mut self.progress);
                    if let Err(e) =
                        phase(&step.title, cluster::execute(plan, action, progress)).await
                    {
                        problems.push(e.message);
                    } else if let Action::DeleteCluster(_) = action {
                        self.created = false;
                    }
                }
            }
        }
        self.world = None;
        if problems.is_empty() {
            Ok(())
        } else {
            Err(error(problems.join("; ")))
        }
    }
}

/// The plan of a kind run.
pub fn plan_for(options: &KindOptions) -> KindPlan {
    // A named cluster may be someone's: reused as it is, and kept.
    let keep = options.keep || options.cluster_name.is_some();
    let cluster = options
        .cluster_name
        .clone()
        .unwrap_or_else(|| plan::cluster_name(options.cni));
    KindPlan::new(
        options.cni.recipe(),
        cluster,
        keep,
        options.via,
        netpol_probe::sctp_supported(),
        &options.run_id,
    )
}

/// The plan as `--dry-run` prints it, with the tools by name.
pub fn dry_run(plan: &KindPlan, model: &Model, workspace: &Path) -> String {
    plan.render(model, &Tools::by_name(), workspace)
}
