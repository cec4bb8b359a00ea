//! Controller mode: the enforcer as a DaemonSet pod on every node (deploy/).
//! kube-rs reflectors keep Pods, Namespaces, NetworkPolicies and Nodes; any
//! change rebuilds the index, which yields the same `Snapshot` local mode
//! reads from a file, and the same `compile` + `apply` run. Reconcile is
//! idempotent: a ruleset equal to the one in force is not applied again.
//!
//! A thin shell: `index` (pure), `Reconciler` (pure but for the apply it is
//! given), `cni` (pure); only `run` talks to the API server and the kernel.

pub mod cni;
pub mod index;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};

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
    #[error("a watch ended before its first list")]
    NeverSynced,
}

/// Runs until killed; returns an exit code only when it cannot start.
pub fn run(options: &ControllerOptions) -> u8 {
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ControllerError::Runtime)
        .and_then(|runtime| runtime.block_on(run_async(options)));
    match result {
        Ok(()) => exit::OK,
        Err(error) => {
            eprintln!("netpol-enforcer: {}", error_chain(&error));
            exit::BAD_INPUT
        }
    }
}

/// A reflector over every object of a kind, and a stream of "something changed".
fn reflect<K>(client: &Client) -> (Store<K>, stream::BoxStream<'static, ()>)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let events = reflector::reflector(
        writer,
        watcher(Api::<K>::all(client.clone()), watcher::Config::default()),
    )
    .default_backoff()
    .filter_map(|event| async move { event.ok().map(|_| ()) })
    .boxed();
    (reader, events)
}

async fn run_async(options: &ControllerOptions) -> Result<(), ControllerError> {
    let client = Client::try_default()
        .await
        .map_err(ControllerError::Client)?;
    let (pods, pod_events) = reflect::<Pod>(&client);
    let (namespaces, namespace_events) = reflect::<Namespace>(&client);
    let (policies, policy_events) = reflect::<NetworkPolicy>(&client);
    let (nodes, node_events) = reflect::<Node>(&client);
    let mut events = stream::select_all([pod_events, namespace_events, policy_events, node_events]);
    let mut reconciler = Reconciler::new(&options.node);
    let mut routes = Vec::new();
    let mut first = true;
    loop {
        // Wait for a change (or the resync), then let a burst settle.
        let _ = tokio::time::timeout(RESYNC, events.next()).await;
        while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, events.next()).await {}
        if first {
            // Never compile from a partial view: an empty store would lift
            // every isolation (fail open). Only the first time: later lists
            // keep the old content until they are complete.
            for ready in [
                pods.wait_until_ready().await,
                namespaces.wait_until_ready().await,
                policies.wait_until_ready().await,
                nodes.wait_until_ready().await,
            ] {
                ready.map_err(|_| ControllerError::NeverSynced)?;
            }
            first = false;
        }
        if let Some(path) = &options.cni_config {
            be_the_cni(&options.node, path, &nodes, &mut routes);
        }
        let index = Index::from_objects(
            pods.state().iter().map(AsRef::as_ref),
            namespaces.state().iter().map(AsRef::as_ref),
            policies.state().iter().map(AsRef::as_ref),
        );
        // nft takes milliseconds: blocking this one-threaded runtime that long
        // only delays the watches, which buffer.
        let outcome = reconciler.reconcile(&index, &mut |text| nft::apply(text));
        match outcome {
            Outcome::Unchanged => {}
            Outcome::Applied {
                generation,
                warnings,
            } => {
                eprintln!(
                    "netpol-enforcer: node {}: generation {generation} applied ({} warnings)",
                    options.node,
                    warnings.len()
                );
                for warning in warnings {
                    eprintln!("netpol-enforcer: warning: {warning}");
                }
            }
            Outcome::Failed { generation, error } => {
                eprintln!(
                    "netpol-enforcer: node {}: generation {generation} not applied, previous ruleset kept: {error}",
                    options.node
                );
            }
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
    let wanted = cni::conflist(&pod_cidr);
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
