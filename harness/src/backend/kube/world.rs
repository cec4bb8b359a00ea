//! The model world on a cluster: what both cluster backends do between the
//! cluster existing and it going away (setup, change, reset, probe, cleanup).

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use tokio::task::JoinSet;

use super::baseline;
use super::driver::{Driver, DriverError};
use super::exec::{self, Endpoints, Paths, ProbeVia};
use super::objects;
use crate::model::{
    Addresses, Change, LabelTarget, Model, PodIps, Probe, Protocol, SERVED_PORTS, World,
};
use crate::probe::Matrix;
use crate::timeouts::Timeouts;

/// How the world is built and probed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorldOptions {
    pub probe_image: String,
    /// `Never` for images loaded into kind, `IfNotPresent` for a registry.
    pub pull_policy: String,
    pub via: ProbeVia,
    /// The protocols Services carry (SCTP only where the cluster can).
    pub protocols: Vec<Protocol>,
    pub service_accounts: ServiceAccounts,
}

/// Who makes each new namespace's `default` ServiceAccount, without which
/// no pod is admitted there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ServiceAccounts {
    /// The cluster's controller manager: wait for it (kind, kubeconfig).
    #[default]
    Await,
    /// Nobody: the API server runs alone, so the harness creates it.
    Create,
}

pub struct KubeWorld {
    pub driver: Driver,
    pub options: WorldOptions,
    initial: Option<World>,
    world: Option<World>,
    endpoints: Endpoints,
    pub nodes: Vec<String>,
    /// Nodes the pods are bound to (`spec.nodeName`) when there is no
    /// scheduler (a control plane of its own); empty: the scheduler places them.
    pub bindings: std::collections::BTreeMap<crate::model::PodId, String>,
    /// The UDP source port of each probing round (see `SourcePorts`).
    source_ports: crate::probe::SourcePorts,
}

fn missing(what: &str) -> DriverError {
    DriverError::Missing(format!("{what} before setup"))
}

impl KubeWorld {
    pub fn new(driver: Driver, options: WorldOptions) -> KubeWorld {
        KubeWorld {
            driver,
            options,
            initial: None,
            world: None,
            endpoints: Endpoints::default(),
            nodes: Vec::new(),
            bindings: Default::default(),
            source_ports: crate::probe::SourcePorts::new(),
        }
    }

    /// Namespaces, then pods, then Services; then waits for every pod.
    pub async fn setup(&mut self, model: &Model) -> Result<Addresses, DriverError> {
        self.create(model).await?;
        self.await_ready(model, Timeouts::POD_READY).await
    }

    /// Creates the world's objects without waiting for any pod: namespaces
    /// (each with its `default` ServiceAccount), pods, Services. A caller
    /// that plays the kubelet (a control plane without nodes) makes the pods
    /// Ready itself, then calls `await_ready`.
    pub async fn create(&mut self, model: &Model) -> Result<(), DriverError> {
        let (namespaces, pods, services) = objects::world_objects(
            &self.driver.names,
            model,
            &self.options.probe_image,
            &self.options.pull_policy,
            &self.options.protocols,
        );
        for namespace in &namespaces {
            self.driver.apply_namespace(namespace).await?;
            let name = namespace.metadata.name.as_deref().unwrap_or_default();
            match self.options.service_accounts {
                ServiceAccounts::Await => {
                    self.driver
                        .await_service_account(name, Timeouts::SERVICE_ACCOUNT)
                        .await?
                }
                ServiceAccounts::Create => self.driver.apply_service_account(name).await?,
            }
        }
        for (mut pod, model_pod) in pods.into_iter().zip(&model.pods) {
            if let (Some(node), Some(spec)) = (self.bindings.get(&model_pod.id), pod.spec.as_mut())
            {
                spec.node_name = Some(node.clone());
            }
            self.driver.apply_pod(&pod).await?;
        }
        for service in &services {
            self.driver.apply_service(service).await?;
        }
        Ok(())
    }

    /// Waits until every pod of the model is Ready and takes the world's
    /// addresses (pod IPs, Service ClusterIPs, nodes) from the cluster.
    pub async fn await_ready(
        &mut self,
        model: &Model,
        within: std::time::Duration,
    ) -> Result<Addresses, DriverError> {
        let placement = self.driver.await_pods(&model.pod_ids(), within).await?;
        let mut addresses = Addresses::default();
        self.endpoints = Endpoints::default();
        for (id, (ip, node)) in &placement.pods {
            if let std::net::IpAddr::V4(v4) = ip {
                addresses
                    .ips
                    .insert(id.clone(), PodIps { v4: *v4, v6: None });
            }
            self.endpoints.pod_ips.insert(id.clone(), *ip);
            if !self.nodes.contains(node) {
                self.nodes.push(node.clone());
            }
        }
        self.endpoints.service_ips = placement.services;
        let world = World::new(model.clone(), addresses.clone());
        self.initial = Some(world.clone());
        self.world = Some(world);
        Ok(addresses)
    }

    pub async fn change(&mut self, changes: &[Change]) -> Result<(), DriverError> {
        for change in changes {
            match change {
                Change::Apply(policy) => self.driver.apply_policy(policy).await?,
                Change::Delete { namespace, name } => {
                    self.driver.delete_policy(namespace, name).await?
                }
                Change::Label(label) => match &label.target {
                    LabelTarget::Pod(pod) => {
                        self.driver
                            .label_pod(pod, &label.set, &label.remove)
                            .await?
                    }
                    LabelTarget::Namespace(ns) => {
                        self.driver
                            .label_namespace(ns, &label.set, &label.remove)
                            .await?
                    }
                },
            }
            let world = self.world.as_mut().ok_or_else(|| missing("change"))?;
            world.apply(change).map_err(DriverError::Missing)?;
        }
        Ok(())
    }

    /// Back to the world `setup` built: every policy deleted, every label
    /// that changed restored; nothing is touched when nothing changed.
    pub async fn reset(&mut self) -> Result<(), DriverError> {
        let initial = self.initial.clone().ok_or_else(|| missing("reset"))?;
        let current = self.world.clone().ok_or_else(|| missing("reset"))?;
        for (namespace, name) in current.policies.keys() {
            self.driver.delete_policy(namespace, name).await?;
        }
        for (now, then) in current.model.pods.iter().zip(&initial.model.pods) {
            if now.labels != then.labels {
                let remove: Vec<String> = now
                    .labels
                    .keys()
                    .filter(|k| !then.labels.contains_key(*k))
                    .cloned()
                    .collect();
                self.driver
                    .label_pod(&then.id, &then.labels, &remove)
                    .await?;
            }
        }
        for (now, then) in current
            .model
            .namespaces
            .iter()
            .zip(&initial.model.namespaces)
        {
            if now.labels != then.labels {
                let remove: Vec<String> = now
                    .labels
                    .keys()
                    .filter(|k| !then.labels.contains_key(*k))
                    .cloned()
                    .collect();
                let mut set = then.labels.clone();
                set.remove(crate::model::NAMESPACE_NAME_LABEL);
                self.driver
                    .label_namespace(&then.name, &set, &remove)
                    .await?;
            }
        }
        self.world = Some(initial);
        Ok(())
    }

    /// `setup`, then `await_baseline`: the world both cluster backends judge on.
    pub async fn setup_to_baseline(
        &mut self,
        model: &Model,
        within: std::time::Duration,
    ) -> Result<Addresses, DriverError> {
        let addresses = self.setup(model).await?;
        self.await_baseline(within).await?;
        Ok(addresses)
    }

    /// `reset`, then `await_baseline`: the CNI has removed the case's rules.
    pub async fn reset_to_baseline(
        &mut self,
        within: std::time::Duration,
    ) -> Result<(), DriverError> {
        self.reset().await?;
        self.await_baseline(within).await?;
        Ok(())
    }

    /// Probes until the world without policy is seen: every cell connected
    /// on every path, on each protocol the world carries (both served
    /// ports). Called after setup and after every reset.
    pub async fn await_baseline(
        &mut self,
        within: std::time::Duration,
    ) -> Result<baseline::Baseline, DriverError> {
        let probes: Vec<Probe> = self
            .options
            .protocols
            .iter()
            .flat_map(|p| SERVED_PORTS.map(|port| Probe::new(*p, port)))
            .collect();
        baseline::await_all_connected(self, &probes, within, Timeouts::CLUSTER.poll).await
    }

    /// One matrix: `probe_paths`, merged (a cell where the paths disagree
    /// is an error naming both).
    pub async fn probe(&mut self, probes: &[Probe]) -> Result<Matrix, DriverError> {
        Ok(self.probe_paths(probes).await?.merged())
    }

    /// Every path's matrix: execs of the agent in every source pod, all at
    /// once (more than one per pod when the targets do not fit one exec).
    pub async fn probe_paths(&mut self, probes: &[Probe]) -> Result<Paths, DriverError> {
        let world = self.world.as_ref().ok_or_else(|| missing("probe"))?;
        let pods = world.model.pod_ids();
        let targets = exec::targets(&pods, &self.endpoints, probes, self.options.via);
        let batches = exec::argument_batches(
            &targets,
            crate::probe::Round {
                timeout: Timeouts::CLUSTER.probe,
                source_port: self.source_ports.next_port(),
            },
            exec::EXEC_ARGUMENT_BYTES,
        );
        let limit = Timeouts::CLUSTER.probe + Timeouts::EXEC_SLACK;
        let mut tasks = JoinSet::new();
        for (from, pod) in pods.iter().enumerate() {
            let api: Api<Pod> = Api::namespaced(
                self.driver.client.clone(),
                &self.driver.names.namespace(&pod.namespace),
            );
            for args in &batches {
                let (api, name, args) = (api.clone(), pod.name.clone(), args.clone());
                tasks.spawn(
                    async move { (from, exec::exec_agent(&api, &name, &args, limit).await) },
                );
            }
        }
        let mut outputs = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            if let Ok(output) = joined {
                outputs.push(output);
            }
        }
        Ok(exec::paths(&pods, probes, self.options.via, &outputs))
    }

    pub async fn teardown(&mut self) -> Vec<String> {
        self.world = None;
        self.driver.cleanup().await
    }
}

impl baseline::Rounds for KubeWorld {
    fn round(
        &mut self,
        probes: &[Probe],
    ) -> impl std::future::Future<Output = Result<Paths, DriverError>> + Send {
        self.probe_paths(probes)
    }
}
