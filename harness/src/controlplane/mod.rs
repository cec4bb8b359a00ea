//! A real control plane for the netns world: etcd and kube-apiserver (built by
//! `netpol engines build`) in a control-plane network namespace attached to
//! the fabric, nothing in the root network namespace.
//!
//! ```text
//! control-plane netns: etcd (127.0.0.1:2379), kube-apiserver (0.0.0.0:6443)
//!     └─ fabric0 10.255.0.254/24 ──veth── fabric netns (br0) ── node netns …
//! harness: kube-rs client through sockets opened in the control-plane netns
//! ```
//!
//! Everything lives in `<run>/control-plane/`: a fresh CA and serving
//! certificate, the service-account key, the admin token, etcd's data, the
//! logs, and the kubeconfig engines in node namespaces use (it points at the
//! fabric address). [`ControlPlane::stop`] (also run on drop) kills both
//! processes, deletes the namespace and removes the folder; every process's
//! command line names the run folder, so `netpol cleanup` finds what a
//! SIGKILLed run left.

mod connector;
pub mod fabric;
mod health;
pub mod layout;
pub mod pki;
mod process;
pub mod sockets;

use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use connector::{NetnsConnector, client};
use fabric::Attachment;
use layout::{API_PORT, Layout};
use process::{Engine, Tools};
use sockets::NetnsSockets;

use crate::command::CommandError;
use crate::engines::{self, Status};
use crate::timeouts::Timeouts;

/// The control plane's address on the fabric: the top of the nodes' /24
/// (nodes count up from .1).
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 255, 0, 254);

#[derive(Debug, thiserror::Error)]
pub enum ControlPlaneError {
    #[error("{0}")]
    Prerequisite(String),
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot make the control plane's certificates")]
    Pki(#[from] rcgen::Error),
    #[error("attaching the control-plane namespace to the fabric failed")]
    Netns(#[source] CommandError),
    #[error("cannot start {name}")]
    Spawn {
        name: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{name} exited ({status}); its log ends: {log}")]
    Exited {
        name: &'static str,
        status: String,
        log: String,
    },
    #[error("{what} not within {timeout:?}: {last}; the log ends: {log}")]
    NotReady {
        what: &'static str,
        timeout: Duration,
        last: String,
        log: String,
    },
    #[error("cannot make an API client from {path}")]
    Client {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The engine binaries, both the pinned versions.
#[derive(Clone, Debug)]
pub struct Binaries {
    pub etcd: PathBuf,
    pub kube_apiserver: PathBuf,
}

impl Binaries {
    /// The pinned etcd and kube-apiserver from the engines folder, or what to
    /// run to get them.
    pub async fn find() -> Result<Binaries, String> {
        let dir = engines::engines_dir()?;
        let mut missing = Vec::new();
        let mut path =
            async |component: &engines::Component| match engines::status(component, &dir).await {
                Status::Built(path) => path,
                other => {
                    missing.push(format!(
                        "{} ({} at {})",
                        component.label(),
                        other.word(),
                        other.path().display()
                    ));
                    PathBuf::new()
                }
            };
        let binaries = Binaries {
            etcd: path(&engines::ETCD).await,
            kube_apiserver: path(&engines::KUBE_APISERVER).await,
        };
        if missing.is_empty() {
            Ok(binaries)
        } else {
            Err(format!(
                "the control plane needs {}: run `netpol engines build`",
                missing.join(" and ")
            ))
        }
    }
}

/// What to start, and where.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The run folder; it exists, and `netpol cleanup` knows it by its
    /// `owner.pid`.
    pub run_dir: PathBuf,
    pub attachment: Attachment,
    pub binaries: Binaries,
}

/// How long the start took, measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StartTimes {
    /// Certificates, keys and the namespace.
    pub prepare: Duration,
    /// From etcd's start to its first healthy answer.
    pub etcd: Duration,
    /// From kube-apiserver's start to its first `/readyz` `ok`.
    pub apiserver: Duration,
    pub total: Duration,
}

/// A running control plane; stopped on drop.
#[derive(Debug)]
pub struct ControlPlane {
    layout: Layout,
    attachment: Attachment,
    tools: Tools,
    /// Set before `ip netns add`, so a failure anywhere deletes it.
    netns_created: bool,
    engines: Vec<Engine>,
    sockets: Option<NetnsSockets>,
    config: Option<kube::Config>,
    times: StartTimes,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ControlPlaneError + '_ {
    move |source| ControlPlaneError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes a file only its owner may read.
fn write_private(path: &Path, text: &str) -> Result<(), ControlPlaneError> {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(io(path))
}

impl ControlPlane {
    /// Starts etcd and kube-apiserver and waits until the API is ready. On any
    /// error, what was created is removed before returning.
    pub async fn start(spec: &Spec) -> Result<ControlPlane, ControlPlaneError> {
        let started = Instant::now();
        let tools = Tools::find().map_err(ControlPlaneError::Prerequisite)?;
        let mut plane = ControlPlane {
            layout: Layout::new(&spec.run_dir),
            attachment: spec.attachment.clone(),
            tools,
            netns_created: false,
            engines: Vec::new(),
            sockets: None,
            config: None,
            times: StartTimes::default(),
        };
        // On error `plane` is dropped here, which stops what started.
        plane.start_all(spec, started).await?;
        Ok(plane)
    }

    async fn start_all(&mut self, spec: &Spec, started: Instant) -> Result<(), ControlPlaneError> {
        self.write_files()?;
        self.attach().await?;
        let sockets = NetnsSockets::enter(&self.attachment.netns).map_err(|source| {
            ControlPlaneError::Prerequisite(format!(
                "cannot open sockets in the control-plane namespace: {source}"
            ))
        })?;
        self.sockets = Some(sockets.clone());
        self.times.prepare = started.elapsed();

        let etcd = self.spawn("etcd", &spec.binaries.etcd, layout::etcd_args(&self.layout))?;
        let probe = sockets.clone();
        self.times.etcd = health::wait_for("etcd healthy", etcd, Timeouts::ETCD_HEALTHY, || {
            health::etcd_health(&probe)
        })
        .await?;

        let args = layout::apiserver_args(&self.layout, self.attachment.address);
        let config = self.config_for_harness().await?;
        let client = client(&config, sockets).map_err(|e| ControlPlaneError::Client {
            path: self.layout.kubeconfig(),
            source: Box::new(e),
        })?;
        self.config = Some(config);
        let apiserver = self.spawn("kube-apiserver", &spec.binaries.kube_apiserver, args)?;
        self.times.apiserver = health::wait_for(
            "kube-apiserver /readyz",
            apiserver,
            Timeouts::APISERVER_READY,
            || health::apiserver_ready(&client),
        )
        .await?;
        self.times.total = started.elapsed();
        Ok(())
    }

    fn write_files(&self) -> Result<(), ControlPlaneError> {
        let root = &self.layout.root;
        if root.exists() {
            std::fs::remove_dir_all(root).map_err(io(root))?;
        }
        std::fs::create_dir_all(root).map_err(io(root))?;
        let secrets = pki::generate(&[IpAddr::V4(self.attachment.address)])?;
        let files = [
            (self.layout.ca_cert(), secrets.ca_cert.as_str()),
            (self.layout.serving_cert(), secrets.serving_cert.as_str()),
            (self.layout.serving_key(), secrets.serving_key.as_str()),
            (
                self.layout.service_account_key(),
                secrets.service_account_key.as_str(),
            ),
            (
                self.layout.service_account_public_key(),
                secrets.service_account_public_key.as_str(),
            ),
        ];
        for (path, text) in &files {
            write_private(path, text)?;
        }
        write_private(
            &self.layout.tokens(),
            &pki::token_file(&secrets.admin_token),
        )?;
        let kubeconfig = kubeconfig(&self.layout, self.attachment.address, &secrets.admin_token);
        let text = serde_json::to_string_pretty(&kubeconfig)
            .map_err(|e| io(&self.layout.kubeconfig())(e.into()))?;
        write_private(&self.layout.kubeconfig(), &text)
    }

    async fn attach(&mut self) -> Result<(), ControlPlaneError> {
        let ip = self.tools.ip.to_string_lossy().into_owned();
        self.netns_created = true;
        for command in fabric::attach(&self.attachment) {
            let args: Vec<&str> = command.iter().map(String::as_str).collect();
            crate::command::run(&ip, &args, None, Timeouts::NETNS_COMMAND)
                .await
                .map_err(ControlPlaneError::Netns)?;
        }
        Ok(())
    }

    fn spawn(
        &mut self,
        name: &'static str,
        program: &Path,
        args: Vec<String>,
    ) -> Result<&mut Engine, ControlPlaneError> {
        let engine = Engine::spawn(
            &self.tools,
            &self.attachment.netns,
            name,
            program,
            &args,
            &self.layout.log(name),
        )
        .map_err(|source| ControlPlaneError::Spawn { name, source })?;
        self.engines.push(engine);
        Ok(self.engines.last_mut().expect("just pushed"))
    }

    /// The kubeconfig of the run folder, read back as every engine reads it.
    async fn config_for_harness(&self) -> Result<kube::Config, ControlPlaneError> {
        let path = self.layout.kubeconfig();
        let error = |source: Box<dyn std::error::Error + Send + Sync>| ControlPlaneError::Client {
            path: path.clone(),
            source,
        };
        let kubeconfig =
            kube::config::Kubeconfig::read_from(&path).map_err(|e| error(Box::new(e)))?;
        kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .map_err(|e| error(Box::new(e)))
    }

    /// A new API client through sockets of the control-plane namespace.
    pub fn client(&self) -> Result<kube::Client, ControlPlaneError> {
        let (Some(config), Some(sockets)) = (&self.config, &self.sockets) else {
            return Err(ControlPlaneError::Prerequisite(
                "the control plane is not running".into(),
            ));
        };
        client(config, sockets.clone()).map_err(|e| ControlPlaneError::Client {
            path: self.layout.kubeconfig(),
            source: Box::new(e),
        })
    }

    /// The admin kubeconfig in the run folder (server: the fabric address).
    pub fn kubeconfig(&self) -> PathBuf {
        self.layout.kubeconfig()
    }

    /// The folder holding everything the control plane wrote.
    pub fn folder(&self) -> &Path {
        &self.layout.root
    }

    pub fn netns(&self) -> &str {
        &self.attachment.netns
    }

    /// The API server's URL on the fabric.
    pub fn server(&self) -> String {
        server_url(self.attachment.address)
    }

    pub fn start_times(&self) -> StartTimes {
        self.times
    }

    /// The pids of etcd and kube-apiserver (those started).
    pub fn pids(&self) -> Vec<(&'static str, u32)> {
        self.engines.iter().map(|e| (e.name, e.pid())).collect()
    }

    /// Kills both processes, deletes the namespace and removes the folder;
    /// every step runs even when one fails, and a second call does nothing.
    /// The run's signal handling calls it; drop calls it too.
    pub fn stop(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        self.sockets = None;
        self.config = None;
        // The API server first: it must not see its store go away and log about it.
        for mut engine in self.engines.drain(..).rev() {
            if let Err(problem) = engine.stop() {
                problems.push(problem);
            }
        }
        if std::mem::take(&mut self.netns_created) {
            problems.extend(crate::backend::netns::cleanup::delete_namespaces(&[self
                .attachment
                .netns
                .as_str()]));
        }
        let root = &self.layout.root;
        if root.exists()
            && let Err(e) = std::fs::remove_dir_all(root)
        {
            problems.push(format!("cannot remove {}: {e}", root.display()));
        }
        problems
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let problems = self.stop();
        if !problems.is_empty() {
            eprintln!(
                "netpol: control plane cleanup incomplete: {}",
                problems.join("; ")
            );
        }
    }
}

pub fn server_url(address: Ipv4Addr) -> String {
    format!("https://{address}:{API_PORT}")
}

/// One cluster, one user (the admin token), one context.
fn kubeconfig(layout: &Layout, address: Ipv4Addr, token: &str) -> kube::config::Kubeconfig {
    use kube::config::{
        AuthInfo, Cluster, Context, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext,
    };
    const NAME: &str = "netpol";
    Kubeconfig {
        api_version: Some("v1".into()),
        kind: Some("Config".into()),
        clusters: vec![NamedCluster {
            name: NAME.into(),
            cluster: Some(Cluster {
                server: Some(server_url(address)),
                certificate_authority: Some(layout.ca_cert().display().to_string()),
                ..Default::default()
            }),
            ..Default::default()
        }],
        auth_infos: vec![NamedAuthInfo {
            name: NAME.into(),
            auth_info: Some(AuthInfo {
                token: Some(token.to_owned().into()),
                ..Default::default()
            }),
            ..Default::default()
        }],
        contexts: vec![NamedContext {
            name: NAME.into(),
            context: Some(Context {
                cluster: NAME.into(),
                user: Some(NAME.into()),
                ..Default::default()
            }),
            ..Default::default()
        }],
        current_context: Some(NAME.into()),
        ..Default::default()
    }
}
