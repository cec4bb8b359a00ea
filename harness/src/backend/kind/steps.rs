//! A kind run as one list of steps: `--dry-run` prints them, the backend
//! executes them (`cluster`), so the plan a person reads is the run that
//! happens. A step that runs commands carries their argv, built once
//! (`step_list`); the printed line is that argv, quoted for a shell.

use std::path::PathBuf;
use std::time::Duration;

use super::plan::KindPlan;
use crate::backend::kube::ProbeVia;
use crate::cni::Workload;
use crate::command::shell_line;
use crate::timeouts::Timeouts;

/// One external command: environment, argv, and how long it may take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cmd {
    pub env: Vec<(&'static str, String)>,
    pub argv: Vec<String>,
    pub timeout: Duration,
}

impl Cmd {
    pub(super) fn new(argv: Vec<String>, timeout: Duration) -> Cmd {
        Cmd {
            env: Vec::new(),
            argv,
            timeout,
        }
    }

    /// The argv that runs it: `env K=V … argv` when it has an environment.
    pub fn full_argv(&self) -> Vec<String> {
        let mut full: Vec<String> = Vec::new();
        if !self.env.is_empty() {
            full.push("env".into());
            full.extend(self.env.iter().map(|(k, v)| format!("{k}={v}")));
        }
        full.extend(self.argv.iter().cloned());
        full
    }

    /// The command as a shell would take it.
    pub fn line(&self) -> String {
        let full = self.full_argv();
        let args: Vec<&str> = full[1..].iter().map(String::as_str).collect();
        shell_line(&full[0], &args)
    }
}

/// When a step applies: a cluster made by this run, or one that existed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Always,
    NewCluster,
    ReusedCluster,
}

impl When {
    pub fn applies(self, reused: bool) -> bool {
        match self {
            When::Always => true,
            When::NewCluster => !reused,
            When::ReusedCluster => reused,
        }
    }
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `kind version`, refused unless it is the pinned minor.
    CheckKind(Cmd),
    /// `kind get clusters`: an existing cluster of the name is reused.
    FindCluster(Cmd),
    /// Fetch a file, check its sha256, unpack one member.
    Download {
        fetch: Cmd,
        file: PathBuf,
        sha256: &'static str,
        unpack: Cmd,
    },
    /// Write the kind config, then create the cluster.
    CreateCluster {
        config: PathBuf,
        create: Cmd,
    },
    /// Write the cluster's kubeconfig into the work folder and connect.
    Kubeconfig {
        get: Cmd,
        path: PathBuf,
    },
    /// Commands run in order, their output only kept for errors.
    Run(Vec<Cmd>),
    /// Fetch a manifest, apply its text replacements, apply every object
    /// server-side (CRDs first, then the rest once Established).
    ApplyManifest {
        fetch: Cmd,
        url: String,
        rewrites: Vec<(String, String)>,
    },
    /// The bundled manifests of deploy/, server-side, with this build's image.
    ApplyBundled {
        manifests: Vec<&'static str>,
    },
    /// Roll a DaemonSet whose image was just reloaded under the same tag:
    /// the kubelet never restarts a running pod for a retagged image.
    RestartDaemonSet {
        namespace: &'static str,
        name: &'static str,
    },
    AwaitWorkload(Workload),
    AwaitNodes,
    /// The model world through the shared driver.
    CreateWorld,
    /// Done by the runner between setup and teardown; listed for the reader.
    RunCases(ProbeVia),
    /// Delete this run's namespaces, by label.
    CleanNamespaces,
    DeleteCluster(Cmd),
    /// Say the cluster is kept, and how to delete it.
    Keep,
}

/// One step: a title for progress and errors, when it applies, what it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub title: String,
    pub when: When,
    pub action: Action,
    /// What the plan adds for the reader (an alternative, a reason).
    pub note: Option<String>,
}

pub(super) fn step(title: impl Into<String>, when: When, action: Action) -> Step {
    Step {
        title: title.into(),
        when,
        action,
        note: None,
    }
}

pub(super) fn s(path: &std::path::Path) -> String {
    path.display().to_string()
}

impl Step {
    /// The plan's lines for this step: commands as they run, API steps in words.
    pub fn plan_lines(&self, plan: &KindPlan) -> Vec<String> {
        let mut lines = match &self.action {
            Action::CheckKind(cmd) => vec![format!(
                "{} (refused unless kind {}; kindnet enforces NetworkPolicy since v0.24)",
                cmd.line(),
                super::tools::pinned_minor()
            )],
            Action::FindCluster(cmd) => vec![format!(
                "{} (an existing cluster {} is reused as it is, and kept)",
                cmd.line(),
                plan.cluster
            )],
            Action::Download {
                fetch,
                file,
                sha256,
                unpack,
            } => vec![
                fetch.line(),
                format!("verify sha256 {sha256} of {}", file.display()),
                unpack.line(),
            ],
            Action::CreateCluster { config, create } => vec![
                format!("write the kind config below to {}", config.display()),
                create.line(),
            ],
            Action::Kubeconfig { get, path } => {
                vec![format!("{} > {}", get.line(), path.display())]
            }
            Action::Run(cmds) => cmds.iter().map(Cmd::line).collect(),
            Action::ApplyManifest {
                fetch, rewrites, ..
            } => {
                let mut lines = vec![fetch.line()];
                for (from, to) in rewrites {
                    lines.push(format!("  replace `{}` with `{}`", from.trim(), to.trim()));
                }
                lines.push("  apply every object server-side (field manager netpol; CRDs first, then the rest once Established)".into());
                lines
            }
            Action::ApplyBundled { manifests } => vec![format!(
                "apply {} server-side (field manager netpol), image {}",
                manifests.join(", "),
                crate::cni::versions::ENFORCER_IMAGE
            )],
            Action::RestartDaemonSet { namespace, name } => vec![format!(
                "restart daemonset {namespace}/{name} (annotate its pod template with netpol/restarted-by={}), so the reloaded image runs",
                plan.names.run_id
            )],
            Action::AwaitWorkload(workload) => vec![format!(
                "wait until {workload} is ready and up to date ({}s)",
                Timeouts::CNI_READY.as_secs()
            )],
            Action::AwaitNodes => vec![format!(
                "wait until every node is Ready ({}s)",
                Timeouts::CNI_READY.as_secs()
            )],
            Action::CreateWorld => vec![format!(
                "create namespaces x, y, z (one a killed run left is deleted first, one still Terminating waited for, {}s), wait for each one's default ServiceAccount ({}s), then pods and Services (server-side apply); wait until every pod is Ready ({}s); then probe until every cell connects, as without policy ({}s; again after every case's reset)",
                Timeouts::NAMESPACE_GONE.as_secs(),
                Timeouts::SERVICE_ACCOUNT.as_secs(),
                Timeouts::POD_READY.as_secs(),
                Timeouts::BASELINE.as_secs()
            )],
            Action::RunCases(via) => vec![format!(
                "run the cases: `/netpol-probe probe --target …` exec'd in every source pod per matrix (one exec per {} bytes of targets), by {}",
                crate::backend::kube::exec::EXEC_ARGUMENT_BYTES,
                match via {
                    ProbeVia::Pod => "pod IP",
                    ProbeVia::Service => "Service ClusterIP",
                    ProbeVia::Both =>
                        "pod IP and Service ClusterIP, each path judged (a cell passes only if both match)",
                }
            )],
            Action::CleanNamespaces => vec![format!(
                "delete the namespaces labelled {} and wait until they are gone ({}s)",
                plan.names.selector(),
                Timeouts::NAMESPACE_GONE.as_secs()
            )],
            Action::DeleteCluster(cmd) => vec![format!("{} (everything goes with it)", cmd.line())],
            Action::Keep => vec![format!(
                "keep cluster {c} (kind delete cluster --name {c} removes it)",
                c = plan.cluster
            )],
        };
        if let Some(note) = &self.note {
            lines.push(format!("  ({note})"));
        }
        match self.when {
            When::Always => {}
            When::NewCluster => lines[0].push_str(" [new cluster only]"),
            When::ReusedCluster => lines[0].push_str(" [reused cluster only]"),
        }
        lines
    }
}
