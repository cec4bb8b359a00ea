//! The four reflectors of controller mode, driven by a task of their own.
//!
//! A kube-runtime store becomes ready only while its reflector stream is
//! polled: `Store::wait_until_ready` "will _not_ await the source of the
//! stream that populates the Writer" (kube-runtime 5.0.0,
//! src/reflector/store.rs:210-216; the store is marked ready on the
//! `InitDone` event in `Writer::apply_watcher_event`, store.rs:126-140).
//! The first version of this controller awaited readiness without polling,
//! so a first LIST slower than its 100 ms debounce deadlocked it for good.
//! Here one task polls every stream for as long as the controller runs, and
//! the reconcile loop only waits for stores and for change notifications.

use std::sync::Arc;

use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// What one reflector stream yields: a change, or why its watch failed
/// (the watcher retries with backoff; the error is only reported).
type Events = stream::BoxStream<'static, Result<(), String>>;

/// The controller's view of the cluster.
#[derive(Clone)]
pub struct Stores {
    pub pods: Store<Pod>,
    pub namespaces: Store<Namespace>,
    pub policies: Store<NetworkPolicy>,
    pub nodes: Store<Node>,
}

impl Stores {
    /// Waits until every store holds a complete first list. Fails only when a
    /// reflector ended before that (its writer was dropped).
    pub async fn ready(&self) -> Result<(), reflector::store::WriterDropped> {
        self.pods.wait_until_ready().await?;
        self.namespaces.wait_until_ready().await?;
        self.policies.wait_until_ready().await?;
        self.nodes.wait_until_ready().await
    }
}

/// A reflector over every object of a kind, as a stream of "something changed".
fn reflect<K>(client: &Client) -> (Store<K>, Events)
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let kind = K::kind(&()).into_owned();
    let (reader, writer) = reflector::store();
    let events = reflector::reflector(
        writer,
        watcher(Api::<K>::all(client.clone()), watcher::Config::default()),
    )
    .default_backoff()
    .map(move |event| {
        event
            .map(drop)
            .map_err(|error| format!("watch of {kind}: {}", crate::local::error_chain(&error)))
    })
    .boxed();
    (reader, events)
}

/// Starts the reflectors on `client` and the task that drives them. Every
/// event wakes `changed`; watch errors go to `report` (stderr in the
/// DaemonSet), never silently away.
pub fn start(
    client: &Client,
    changed: Arc<Notify>,
    report: impl Fn(&str) + Send + 'static,
) -> (Stores, JoinHandle<()>) {
    let (pods, pod_events) = reflect::<Pod>(client);
    let (namespaces, namespace_events) = reflect::<Namespace>(client);
    let (policies, policy_events) = reflect::<NetworkPolicy>(client);
    let (nodes, node_events) = reflect::<Node>(client);
    let mut events = stream::select_all([pod_events, namespace_events, policy_events, node_events]);
    let driver = tokio::spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                Ok(()) => changed.notify_one(),
                Err(error) => report(&error),
            }
        }
    });
    let stores = Stores {
        pods,
        namespaces,
        policies,
        nodes,
    };
    (stores, driver)
}
