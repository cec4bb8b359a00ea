//! Controller mode: the enforcer as a DaemonSet pod on every node (deploy/).
//! kube-rs reflectors keep Pods, Namespaces, NetworkPolicies and Nodes; any
//! change rebuilds the index, which yields the same `Snapshot` local mode
//! reads from a file, and the same `compile` + `apply` run. Reconcile is
//! idempotent: a ruleset equal to the one in force is not applied again.
//!
//! A thin shell: `index` (pure), `Reconciler` (pure but for the apply it is
//! given), `cni` (pure), `watch` (the reflectors' task); `control` is the
//! loop, given its API client and its apply, and `run` wires in the real ones.

pub mod cni;
pub mod index;
#[cfg(test)]
mod slow_server;
#[cfg(test)]
mod tests;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::Client;
use kube::runtime::reflector::Store;
use tokio::sync::Notify;

use crate::compile::compile;
use crate::exit;
use crate::local::error_chain;
use crate::nft::{self, ApplyError};
use crate::render::render;
use crate::ruleset::Ruleset;
use index::Index;

/// Changes arriving this close together are reconciled once.
pub const DEBOUNCE: Duration = Duration::from_millis(100);
/// Reconcile at least this often, so a failed apply or route is retried
/// even when the cluster is quiet.
pub const RESYNC: Duration = Duration::from_secs(30);
/// One `ip route` command.
const IP_TIMEOUT: Duration = Duration::from_secs(10);

/// What `netpol-enforcer controller` needs.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    pub node: String,
    /// Also be the node's CNI: write this conflist and route to other nodes' podCIDRs.
    pub cni_config: Option<PathBuf>,
    /// Written once the first ruleset is in force (deploy/daemonset.yaml's
    /// readinessProbe looks for it), so a controller that never synced
    /// shows as a DaemonSet that is not Ready.
    pub ready_file: Option<PathBuf>,
    /// The kubeconfig to use; `None`: the in-cluster config, or $KUBECONFIG.
    pub kubeconfig: Option<PathBuf>,
}

/// The result of one reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The ruleset in force is already this one.
    Unchanged,
    Applied {
        generation: u64,
        warnings: Vec<String>,
    },
    /// Not applied; the previous ruleset stays in force and the next
    /// reconcile tries again.
    Failed { generation: u64, error: String },
}

/// Compiles each snapshot for one node and applies it when it changed.
#[derive(Debug)]
pub struct Reconciler {
    node: String,
    generation: u64,
    /// The ruleset in force (generation zeroed, so equal content compares equal).
    in_force: Option<Ruleset>,
}

impl Reconciler {
    pub fn new(node: &str) -> Reconciler {
        Reconciler {
            node: node.to_owned(),
            generation: 0,
            in_force: None,
        }
    }

    pub fn reconcile(
        &mut self,
        index: &Index,
        apply: &mut dyn FnMut(&str) -> Result<(), ApplyError>,
    ) -> Outcome {
        let mut ruleset = compile(&index.snapshot(self.generation + 1), &self.node);
        let generation = ruleset.generation;
        let mut content = ruleset.clone();
        content.generation = 0;
        if self.in_force.as_ref() == Some(&content) {
            return Outcome::Unchanged;
        }
        self.generation = generation;
        match apply(&render(&ruleset)) {
            Ok(()) => {
                self.in_force = Some(content);
                Outcome::Applied {
                    generation,
                    warnings: std::mem::take(&mut ruleset.warnings),
                }
            }
            Err(error) => Outcome::Failed {
                generation,
                error: error_chain(&error),
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot connect to the API server (in-cluster config or kubeconfig)")]
    Client(#[source] kube::Error),
    #[error("cannot use the kubeconfig {path}")]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("a watch ended before its first list")]
    NeverSynced,
}

/// Runs until killed; returns an exit code only when it cannot start.
pub fn run(options: &ControllerOptions) -> u8 {
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ControllerError::Runtime)
        .and_then(|runtime| {
            runtime.block_on(async {
                let client = match &options.kubeconfig {
                    Some(path) => client_from(path).await?,
                    None => Client::try_default()
                        .await
                        .map_err(ControllerError::Client)?,
                };
                control(client, options, &mut |text| nft::apply(text)).await
            })
        });
    match result {
        Ok(()) => exit::OK,
        Err(error) => {
            eprintln!("netpol-enforcer: {}", error_chain(&error));
            exit::BAD_INPUT
        }
    }
}

/// A client from the current context of the kubeconfig at `path`.
async fn client_from(path: &Path) -> Result<Client, ControllerError> {
    let error = |source: Box<dyn std::error::Error + Send + Sync>| ControllerError::Kubeconfig {
        path: path.to_owned(),
        source,
    };
    let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(|e| error(Box::new(e)))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .map_err(|e| error(Box::new(e)))?;
    Client::try_from(config).map_err(ControllerError::Client)
}

/// Stops the reflectors' task when the controller stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The controller on `client`, applying each new ruleset with `apply`;
/// returns only when it cannot go on. The reflectors run in their own task
/// (`watch`), so the stores fill however slow the first lists are.
pub async fn control(
    client: Client,
    options: &ControllerOptions,
    apply: &mut dyn FnMut(&str) -> Result<(), ApplyError>,
) -> Result<(), ControllerError> {
    let node = &options.node;
    let changed = Arc::new(Notify::new());
    let (stores, driver) = watch::start(&client, changed.clone(), |error| {
        eprintln!("netpol-enforcer: {error}");
    });
    let _driver = AbortOnDrop(driver);
    eprintln!("netpol-enforcer: node {node}: listing pods, namespaces, networkpolicies and nodes");
    // Never compile from a partial view: an empty store would lift every
    // isolation (fail open). Only the first time: a later relist keeps the
    // old content until it is complete (Writer buffers it until InitDone).
    stores
        .ready()
        .await
        .map_err(|_| ControllerError::NeverSynced)?;
    eprintln!("netpol-enforcer: node {node}: first lists complete, watching");
    let mut reconciler = Reconciler::new(node);
    let mut routes = Vec::new();
    let mut signalled = false;
    loop {
        if let Some(path) = &options.cni_config {
            be_the_cni(node, path, &stores.nodes, &mut routes);
        }
        let index = Index::from_objects(
            stores.pods.state().iter().map(AsRef::as_ref),
            stores.namespaces.state().iter().map(AsRef::as_ref),
            stores.policies.state().iter().map(AsRef::as_ref),
        );
        // nft takes milliseconds: blocking this one-threaded runtime that long
        // only delays the watches, which buffer.
        match reconciler.reconcile(&index, apply) {
            Outcome::Unchanged => {}
            Outcome::Applied {
                generation,
                warnings,
            } => {
                eprintln!(
                    "netpol-enforcer: node {node}: generation {generation} applied ({} warnings)",
                    warnings.len()
                );
                for warning in warnings {
                    eprintln!("netpol-enforcer: warning: {warning}");
                }
                if !signalled && let Some(path) = &options.ready_file {
                    signalled = signal_ready(path, generation);
                }
            }
            Outcome::Failed { generation, error } => {
                eprintln!(
                    "netpol-enforcer: node {node}: generation {generation} not applied, previous ruleset kept: {error}"
                );
            }
        }
        // Wait for a change (or the resync), then let a burst settle. Notify
        // keeps one permit, so a change during the reconcile is not lost.
        let _ = tokio::time::timeout(RESYNC, changed.notified()).await;
        while tokio::time::timeout(DEBOUNCE, changed.notified())
            .await
            .is_ok()
        {}
    }
}

/// Writes the readiness file the DaemonSet's readinessProbe looks for: a
/// ruleset built from complete lists is in force. Returns whether it was written.
fn signal_ready(path: &Path, generation: u64) -> bool {
    match std::fs::write(path, format!("generation {generation}\n")) {
        Ok(()) => true,
        Err(error) => {
            eprintln!(
                "netpol-enforcer: cannot write the readiness file {}: {error}",
                path.display()
            );
            false
        }
    }
}

/// Writes the CNI config (when it changed) and the routes to other nodes.
fn be_the_cni(node: &str, path: &Path, nodes: &Store<Node>, applied: &mut Vec<cni::Route>) {
    let state = nodes.state();
    let Some(this) = state
        .iter()
        .find(|n| n.metadata.name.as_deref() == Some(node))
    else {
        eprintln!("netpol-enforcer: node {node} is not known to the API server yet");
        return;
    };
    let Some(pod_cidr) = cni::pod_cidr(this) else {
        eprintln!(
            "netpol-enforcer: node {node} has no podCIDR yet (kube-controller-manager allocates it)"
        );
        return;
    };
    let mtu = cni::node_mtu(|path| std::fs::read_to_string(path).ok()).unwrap_or_else(|error| {
        eprintln!(
            "netpol-enforcer: node {node}: {error}: pod interfaces get MTU {}",
            cni::FALLBACK_MTU
        );
        cni::FALLBACK_MTU
    });
    let wanted = cni::conflist(&pod_cidr, mtu);
    if std::fs::read_to_string(path).ok().as_deref() != Some(wanted.as_str())
        && let Err(error) = write_aside(path, &wanted)
    {
        eprintln!("netpol-enforcer: cannot write {}: {error}", path.display());
    }
    for route in cni::routes(node, state.iter().map(AsRef::as_ref)) {
        if applied.contains(&route) {
            continue;
        }
        let args = route.ip_args();
        let argv: Vec<&str> = std::iter::once("ip")
            .chain(args.iter().map(String::as_str))
            .collect();
        match crate::command::run(&argv, None, IP_TIMEOUT) {
            Ok(_) => applied.push(route),
            Err(error) => eprintln!("netpol-enforcer: {}", error_chain(&error)),
        }
    }
}

/// Writes by rename, so the kubelet never reads half a config.
fn write_aside(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Not `.conflist`: the kubelet ignores other extensions while it is written.
    let aside = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&aside, text)?;
    std::fs::rename(&aside, path)
}
