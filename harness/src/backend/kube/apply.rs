//! Installing a CNI's manifests the way `kubectl apply --server-side` would,
//! and waiting until its workloads and the nodes are Ready.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use kube::discovery::{self, Scope};

use super::driver::{DriverError, FIELD_MANAGER};
use crate::cni::Workload;
use crate::timeouts::Timeouts;

fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> DriverError {
    let action = action.into();
    move |source| DriverError::Api { action, source }
}

/// Every object of a multi-document YAML manifest (empty documents and
/// `kind: List` wrappers are unfolded), in order.
pub fn parse_manifests(text: &str) -> Result<Vec<DynamicObject>, String> {
    let documents: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(text).map_err(|e| format!("not YAML: {e}"))?;
    let mut objects = Vec::new();
    for document in documents {
        if document.is_null() {
            continue;
        }
        let items = match document.get("kind").and_then(|k| k.as_str()) {
            Some(kind) if kind.ends_with("List") => document
                .get("items")
                .and_then(|i| i.as_array())
                .cloned()
                .unwrap_or_default(),
            _ => vec![document],
        };
        for item in items {
            let object: DynamicObject = serde_json::from_value(item)
                .map_err(|e| format!("not a Kubernetes object: {e}"))?;
            if object.types.is_none() || object.metadata.name.is_none() {
                return Err("an object without apiVersion, kind or metadata.name".into());
            }
            objects.push(object);
        }
    }
    Ok(objects)
}

fn gvk(object: &DynamicObject) -> GroupVersionKind {
    let types = object.types.clone().unwrap_or_default();
    let (group, version) = match types.api_version.split_once('/') {
        Some((group, version)) => (group.to_owned(), version.to_owned()),
        None => (String::new(), types.api_version.clone()),
    };
    GroupVersionKind {
        group,
        version,
        kind: types.kind,
    }
}

fn is_crd(object: &DynamicObject) -> bool {
    let gvk = gvk(object);
    gvk.group == "apiextensions.k8s.io" && gvk.kind == "CustomResourceDefinition"
}

/// Applies every object server-side: CustomResourceDefinitions first, then
/// (once they are Established) the rest, so custom resources find their kind.
pub async fn apply_manifests(
    client: &Client,
    objects: &[DynamicObject],
    within: Duration,
) -> Result<usize, DriverError> {
    let (crds, rest): (Vec<&DynamicObject>, Vec<&DynamicObject>) =
        objects.iter().partition(|o| is_crd(o));
    for object in &crds {
        apply_one(client, object).await?;
    }
    for object in &crds {
        await_established(
            client,
            object.metadata.name.as_deref().unwrap_or_default(),
            within,
        )
        .await?;
    }
    for object in &rest {
        apply_one(client, object).await?;
    }
    Ok(objects.len())
}

async fn apply_one(client: &Client, object: &DynamicObject) -> Result<(), DriverError> {
    let gvk = gvk(object);
    let name = object.metadata.name.clone().unwrap_or_default();
    let what = format!("{} `{name}`", gvk.kind.to_lowercase());
    let (resource, capabilities) =
        discovery::pinned_kind(client, &gvk)
            .await
            .map_err(api(format!(
                "cannot find the API of {what} ({}/{})",
                gvk.group, gvk.version
            )))?;
    let objects: Api<DynamicObject> = match capabilities.scope {
        Scope::Namespaced => {
            let namespace = object
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into());
            Api::namespaced_with(client.clone(), &namespace, &resource)
        }
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    objects
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(object),
        )
        .await
        .map_err(api(format!("cannot apply {what}")))?;
    Ok(())
}

/// Waits until `check` says ready, naming `what` when it never does.
async fn wait_for<F, Fut>(what: String, within: Duration, mut check: F) -> Result<(), DriverError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<String>, DriverError>>,
{
    let started = Instant::now();
    loop {
        match check().await? {
            None => return Ok(()),
            Some(detail) if started.elapsed() >= within => {
                return Err(DriverError::NotReady {
                    what,
                    within,
                    detail: format!(" ({detail})"),
                });
            }
            Some(_) => tokio::time::sleep(Timeouts::API_POLL).await,
        }
    }
}

async fn await_established(
    client: &Client,
    name: &str,
    within: Duration,
) -> Result<(), DriverError> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    wait_for(
        format!("customresourcedefinition `{name}`"),
        within,
        || async {
            let crd = crds.get(name).await.map_err(api(format!(
                "cannot read customresourcedefinition `{name}`"
            )))?;
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            Ok((!established).then(|| "not Established".to_owned()))
        },
    )
    .await
}

/// Waits until a CNI workload has every replica ready and up to date.
pub async fn await_workload(
    client: &Client,
    workload: &Workload,
    within: Duration,
) -> Result<(), DriverError> {
    match workload {
        Workload::DaemonSet { namespace, name } => {
            let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), namespace);
            wait_for(workload.to_string(), within, || async {
                let Some(ds) = daemonsets.get_opt(name).await.map_err(api_err(workload))? else {
                    return Ok(Some("not created".into()));
                };
                let generation = ds.metadata.generation.unwrap_or(0);
                let status = ds.status.unwrap_or_default();
                // Counts describe the spec the controller last saw: after a
                // change (a restart) they are only meaningful once it saw this one.
                let observed = status.observed_generation.unwrap_or(0) >= generation;
                let ok = observed
                    && status.desired_number_scheduled > 0
                    && status.number_ready == status.desired_number_scheduled
                    && status.updated_number_scheduled.unwrap_or(0)
                        == status.desired_number_scheduled;
                Ok((!ok).then(|| {
                    format!(
                        "{}/{} ready",
                        status.number_ready, status.desired_number_scheduled
                    )
                }))
            })
            .await
        }
        Workload::Deployment { namespace, name } => {
            let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
            wait_for(workload.to_string(), within, || async {
                let Some(deployment) =
                    deployments.get_opt(name).await.map_err(api_err(workload))?
                else {
                    return Ok(Some("not created".into()));
                };
                let generation = deployment.metadata.generation.unwrap_or(0);
                let wanted = deployment.spec.and_then(|s| s.replicas).unwrap_or(1);
                let status = deployment.status.unwrap_or_default();
                let observed = status.observed_generation.unwrap_or(0) >= generation;
                let available = status.available_replicas.unwrap_or(0);
                let updated = status.updated_replicas.unwrap_or(0);
                Ok((!observed || available < wanted || updated < wanted)
                    .then(|| format!("{available}/{wanted} available, {updated} up to date")))
            })
            .await
        }
    }
}

fn api_err(workload: &Workload) -> impl FnOnce(kube::Error) -> DriverError {
    api(format!("cannot read {workload}"))
}

/// Waits until every node is Ready (the CNI wrote its config), returning their names.
pub async fn await_nodes(client: &Client, within: Duration) -> Result<Vec<String>, DriverError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let started = Instant::now();
    loop {
        let listed = nodes
            .list(&ListParams::default())
            .await
            .map_err(api("cannot list nodes"))?;
        let mut names = Vec::new();
        let mut not_ready = Vec::new();
        for node in listed.items {
            let name = node.metadata.name.clone().unwrap_or_default();
            let ready = node
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            if !ready {
                not_ready.push(name.clone());
            }
            names.push(name);
        }
        if !names.is_empty() && not_ready.is_empty() {
            return Ok(names);
        }
        if started.elapsed() >= within {
            let detail = if names.is_empty() {
                "no nodes".to_owned()
            } else {
                format!("{} not Ready", not_ready.join(", "))
            };
            return Err(DriverError::NotReady {
                what: "every node".into(),
                within,
                detail: format!(" ({detail})"),
            });
        }
        tokio::time::sleep(Timeouts::API_POLL).await;
    }
}
