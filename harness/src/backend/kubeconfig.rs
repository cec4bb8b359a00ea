//! The `kubeconfig` backend: an existing cluster, as it is deployed. netpol
//! creates only its own namespaces (`netpol-<run>-x`, labelled with the run)
//! and refuses any namespace of that name it did not create; cleanup deletes
//! by the run's label and nothing else.

use std::path::PathBuf;

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::kube::{
    self as driver, Driver, KubeWorld, Names, ProbeVia, ServiceAccounts, WorldOptions,
};
use super::{Backend, BackendError, BackendResult, Capabilities, ClusterInfo, CniInfo};
use crate::model::{Addresses, Change, Model, Probe, Protocol};
use crate::probe::{Matrix, Paths};
use crate::timeouts::Timeouts;

const NAME: &str = "kubeconfig";

/// deploy/kubeconfig-rbac.yaml: the ClusterRole this backend needs, which
/// the plan quotes and tests/kube_rbac.rs compares with the driver's requests.
pub const RBAC: &str = include_str!("../../../deploy/kubeconfig-rbac.yaml");

/// The ClusterRole's rules, one line per rule: `pods/exec: get, create`.
pub fn permissions() -> Vec<String> {
    let objects = super::kube::apply::parse_manifests(RBAC).unwrap_or_default();
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(String::from))
            .collect()
    };
    objects
        .iter()
        .filter(|o| o.types.as_ref().is_some_and(|t| t.kind == "ClusterRole"))
        .flat_map(|role| role.data["rules"].as_array().cloned().unwrap_or_default())
        .map(|rule| {
            let groups: Vec<String> = strings(&rule["apiGroups"])
                .into_iter()
                .filter(|g| !g.is_empty())
                .collect();
            let resources = strings(&rule["resources"]).join(", ");
            let verbs = strings(&rule["verbs"]).join(", ");
            if groups.is_empty() {
                format!("{resources}: {verbs}")
            } else {
                format!("{resources} ({}): {verbs}", groups.join(", "))
            }
        })
        .collect()
}

fn error(message: impl Into<String>) -> BackendError {
    BackendError {
        backend: NAME,
        message: message.into(),
        source: None,
    }
}

/// Where the cluster is and what to run there.
#[derive(Clone, Debug)]
pub struct Target {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub probe_image: String,
    pub via: ProbeVia,
    /// What the results call the cluster's CNI (`--cni`, or `unknown`).
    pub cni: String,
    pub run_id: String,
    /// `--enforce-timeout`: each step's enforce deadline instead of the cluster's 60 s.
    pub enforce: Option<std::time::Duration>,
}

pub struct KubeconfigBackend {
    target: Target,
    world: Option<KubeWorld>,
    kubernetes: Option<String>,
}

impl KubeconfigBackend {
    pub fn new(target: Target) -> KubeconfigBackend {
        KubeconfigBackend {
            target,
            world: None,
            kubernetes: None,
        }
    }

    pub fn names(&self) -> Names {
        Names::prefixed(&self.target.run_id)
    }

    /// The plan `--dry-run` prints.
    pub fn render_plan(&self, model: &Model) -> String {
        let names = self.names();
        let source = match (&self.target.kubeconfig, std::env::var_os("KUBECONFIG")) {
            (Some(path), _) => path.display().to_string(),
            (None, Some(env)) => format!("$KUBECONFIG ({})", env.to_string_lossy()),
            (None, None) => "~/.kube/config".into(),
        };
        let mut out = format!(
            "netpol run --backend kubeconfig (dry run: nothing is touched)\n\ncluster: {source}, context {}\ncni (as results name it): {}\nprobe image: {}\nprotocols probed: tcp, udp (SCTP is not assumed on a cluster netpol did not make)\n\nobjects (server-side apply, field manager netpol, labels {}):\n",
            self.target.context.as_deref().unwrap_or("(current)"),
            self.target.cni,
            self.target.probe_image,
            names.selector(),
        );
        let enforce = self.capabilities().timeouts.enforce;
        out.insert_str(
            out.find("\nobjects").unwrap_or(out.len()),
            &format!(
                "enforce deadline: {}s per step{}\n",
                enforce.as_secs_f64(),
                if self.target.enforce.is_some() {
                    " (--enforce-timeout)"
                } else {
                    ""
                }
            ),
        );
        out.push_str(&format!(
            "  probe pods meet {}\n",
            super::kube::objects::POD_SECURITY
        ));
        for ns in &model.namespaces {
            out.push_str(&format!(
                "  namespace {} (model {}); refused if it exists and netpol did not create it\n",
                names.namespace(&ns.name),
                ns.name
            ));
        }
        for pod in &model.pods {
            out.push_str(&format!(
                "  pod and Service {}/{}\n",
                names.namespace(&pod.id.namespace),
                pod.id.name
            ));
        }
        out.push_str("  each case's NetworkPolicies, in the mapped namespaces (kubernetes.io/metadata.name selectors mapped too)\n");
        out.push_str("\npermissions (the ClusterRole of deploy/kubeconfig-rbac.yaml; `kubectl apply -f` it and bind it to who runs netpol):\n");
        for line in permissions() {
            out.push_str(&format!("  {line}\n"));
        }
        out.push_str("\nsteps:\n");
        out.push_str("   1. connect with the kubeconfig and context; read the server version\n");
        out.push_str(&format!(
            "   2. create the namespaces, wait for each one's default ServiceAccount ({}s), create the pods and Services; wait until every pod is Ready ({}s)\n",
            Timeouts::SERVICE_ACCOUNT.as_secs(),
            Timeouts::POD_READY.as_secs()
        ));
        out.push_str(&format!(
            "   3. probe until every cell connects, as without policy ({}s; again after every case's reset)\n",
            Timeouts::BASELINE.as_secs()
        ));
        out.push_str(&format!(
            "   4. run the cases: `/netpol-probe probe --target …` exec'd in every source pod per matrix (one exec per {} bytes of targets, no stdin)\n",
            super::kube::exec::EXEC_ARGUMENT_BYTES
        ));
        out.push_str(&format!(
            "   5. delete the namespaces labelled {} (and nothing else), and wait until they are gone ({}s)\n",
            names.selector(),
            Timeouts::NAMESPACE_GONE.as_secs()
        ));
        out
    }

    async fn connect(&self) -> Result<Client, String> {
        let options = KubeConfigOptions {
            context: self.target.context.clone(),
            ..KubeConfigOptions::default()
        };
        let config = match &self.target.kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path)
                    .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?;
                kube::Config::from_custom_kubeconfig(file, &options).await
            }
            None => kube::Config::from_kubeconfig(&options).await,
        }
        .map_err(|e| format!("cannot load the kubeconfig: {e}"))?;
        Client::try_from(config).map_err(|e| format!("cannot make an API client: {e}"))
    }

    fn world(&mut self) -> BackendResult<&mut KubeWorld> {
        self.world
            .as_mut()
            .ok_or_else(|| error("used before setup"))
    }
}

impl Backend for KubeconfigBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn cni(&self) -> CniInfo {
        CniInfo {
            name: self.target.cni.clone(),
            version: None,
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            protocols: vec![Protocol::Tcp, Protocol::Udp],
            ipv6: false,
            timeouts: Timeouts {
                enforce: self.target.enforce.unwrap_or(Timeouts::CLUSTER.enforce),
                ..Timeouts::CLUSTER
            },
        }
    }

    fn cluster(&self) -> ClusterInfo {
        ClusterInfo {
            kubernetes: self.kubernetes.clone(),
            nodes: self.world.as_ref().map(|w| w.nodes.len() as u32),
            kernel: None,
        }
    }

    async fn setup(&mut self, model: &Model) -> BackendResult<Addresses> {
        let client = self.connect().await.map_err(error)?;
        let version = client.apiserver_version().await.map_err(|e| {
            error(format!(
                "cannot reach the API server: {}",
                crate::error::chain(&e)
            ))
        })?;
        self.kubernetes = Some(version.git_version);
        let options = WorldOptions {
            probe_image: self.target.probe_image.clone(),
            pull_policy: "IfNotPresent".into(),
            via: self.target.via,
            protocols: vec![Protocol::Tcp, Protocol::Udp],
            service_accounts: ServiceAccounts::Await,
        };
        let world = self
            .world
            .insert(KubeWorld::new(Driver::new(client, self.names()), options));
        world
            .setup_to_baseline(model, Timeouts::BASELINE)
            .await
            .map_err(|e| driver::backend_error(NAME, e))
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
        let Some(world) = self.world.as_mut() else {
            return Ok(());
        };
        let problems = world.teardown().await;
        self.world = None;
        if problems.is_empty() {
            Ok(())
        } else {
            Err(error(problems.join("; ")))
        }
    }
}
