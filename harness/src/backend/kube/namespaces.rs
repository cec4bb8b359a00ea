//! The namespaces of the world: created ready for pods (a foreign one
//! refused, a Terminating one waited out, a killed run's deleted first, the
//! default ServiceAccount awaited or made), and deleted by the run's label
//! until they are gone.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, Patch};

use super::driver::{Driver, DriverError, api};
use super::objects::{MANAGED_BY, RUN_LABEL};
use crate::timeouts::Timeouts;

impl Driver {
    /// Creates (or re-applies) one namespace of the world, ready for pods.
    /// A namespace of that name that netpol did not create is refused; one
    /// being deleted is waited for (pods are refused in a Terminating
    /// namespace); one a killed netpol run left (netpol's, another run's
    /// label) is deleted with everything in it and waited for, so no stale
    /// policy, pod or Service of that run survives into this one.
    pub async fn apply_namespace(&self, namespace: &Namespace) -> Result<(), DriverError> {
        let name = namespace.metadata.name.clone().unwrap_or_default();
        let all: Api<Namespace> = Api::all(self.client.clone());
        let started = Instant::now();
        let mut deleted_stale = false;
        while let Some(existing) = all
            .get_opt(&name)
            .await
            .map_err(api(format!("cannot read namespace `{name}`")))?
        {
            let labels = existing.metadata.labels.clone().unwrap_or_default();
            if labels.get(MANAGED_BY.0).map(String::as_str) != Some(MANAGED_BY.1) {
                return Err(DriverError::Foreign(name));
            }
            let terminating = existing.metadata.deletion_timestamp.is_some();
            if !terminating && labels.get(RUN_LABEL) == Some(&self.names.run_id) {
                break;
            }
            if !terminating && !deleted_stale {
                all.delete(&name, &DeleteParams::background())
                    .await
                    .map_err(api(format!(
                        "cannot delete namespace `{name}`, left by netpol run {}",
                        labels.get(RUN_LABEL).map_or("(unknown)", String::as_str)
                    )))?;
                deleted_stale = true;
            }
            if started.elapsed() >= Timeouts::NAMESPACE_GONE {
                return Err(DriverError::Lingering {
                    what: format!("namespace `{name}`"),
                    within: Timeouts::NAMESPACE_GONE,
                    detail:
                        " (still Terminating: `kubectl get namespace -o yaml` shows what holds it)"
                            .into(),
                });
            }
            tokio::time::sleep(Timeouts::API_POLL).await;
        }
        all.patch(&name, &Self::apply_params(), &Patch::Apply(namespace))
            .await
            .map_err(api(format!("cannot create namespace `{name}`")))?;
        Ok(())
    }

    /// Creates the `default` ServiceAccount of a namespace, as the
    /// controller manager would where none runs.
    pub async fn apply_service_account(&self, namespace: &str) -> Result<(), DriverError> {
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        let account = ServiceAccount {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("default".into()),
                namespace: Some(namespace.to_owned()),
                ..Default::default()
            },
            ..ServiceAccount::default()
        };
        accounts
            .patch("default", &Self::apply_params(), &Patch::Apply(&account))
            .await
            .map_err(api(format!(
                "cannot create serviceaccount `{namespace}/default`"
            )))?;
        Ok(())
    }

    /// Waits for the `default` ServiceAccount of a new namespace: until the
    /// controller manager has made it, the ServiceAccount admission plugin
    /// refuses every pod there ("error looking up service account",
    /// plugin/pkg/admission/serviceaccount/admission.go), token or not;
    /// upstream e2e waits the same way before creating pods.
    pub async fn await_service_account(
        &self,
        namespace: &str,
        within: Duration,
    ) -> Result<(), DriverError> {
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        let started = Instant::now();
        loop {
            let found = accounts.get_opt("default").await.map_err(api(format!(
                "cannot read serviceaccount `{namespace}/default`"
            )))?;
            if found.is_some() {
                return Ok(());
            }
            if started.elapsed() >= within {
                return Err(DriverError::NotReady {
                    what: format!("serviceaccount `{namespace}/default`"),
                    within,
                    detail: " (not created: is kube-controller-manager running?)".into(),
                });
            }
            tokio::time::sleep(Timeouts::API_POLL).await;
        }
    }

    /// Deletes every namespace of this run (and so everything in them),
    /// found by label, so an interrupted setup is undone as well, and waits
    /// until they are gone, so a rerun on the same cluster never meets them
    /// Terminating. Returns what could not be deleted.
    pub async fn cleanup(&self) -> Vec<String> {
        let all: Api<Namespace> = Api::all(self.client.clone());
        let started = Instant::now();
        let mut deleted: Vec<String> = Vec::new();
        loop {
            let listed = match all
                .list(&ListParams::default().labels(&self.names.selector()))
                .await
            {
                Ok(listed) => listed,
                Err(e) => {
                    return vec![format!(
                        "cannot list this run's namespaces: {}",
                        crate::error::chain(&e)
                    )];
                }
            };
            // Belt and braces: only ever delete what carries this run's label.
            let ours: Vec<Namespace> = listed
                .items
                .into_iter()
                .filter(|n| {
                    n.metadata.labels.as_ref().and_then(|l| l.get(RUN_LABEL))
                        == Some(&self.names.run_id)
                })
                .collect();
            if ours.is_empty() {
                return Vec::new();
            }
            let mut problems = Vec::new();
            for namespace in &ours {
                let name = namespace.metadata.name.clone().unwrap_or_default();
                if deleted.contains(&name) || namespace.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                match all.delete(&name, &DeleteParams::background()).await {
                    Ok(_) => deleted.push(name),
                    Err(e) => problems.push(format!(
                        "cannot delete namespace `{name}`: {}",
                        crate::error::chain(&e)
                    )),
                }
            }
            if !problems.is_empty() {
                return problems;
            }
            if started.elapsed() >= Timeouts::NAMESPACE_GONE {
                let names: Vec<String> = ours
                    .iter()
                    .filter_map(|n| n.metadata.name.clone())
                    .collect();
                return vec![format!(
                    "namespaces {} still exist {}s after their deletion",
                    names.join(", "),
                    Timeouts::NAMESPACE_GONE.as_secs()
                )];
            }
            tokio::time::sleep(Timeouts::API_POLL).await;
        }
    }
}
