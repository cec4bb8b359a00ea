//! The `netns` backend: nodes and pods as Linux network namespaces, real
//! packets, and the reference enforcer on every node (`--cni reference`) or no
//! enforcement at all (`--cni none`). With a control plane (`--control-plane`)
//! the world is also real API objects (`api`), changed through the API, and
//! the enforcers run in controller mode, watching the API server.

pub mod api;
pub mod cleanup;
mod enforcers;
pub mod engines;
pub mod plan;
mod preflight;

pub use preflight::{is_root, kernel};
pub use world::snapshot;
mod probing;
mod process;
mod third_party;
pub mod topology;
mod world;

use std::path::{Path, PathBuf};

use super::{Backend, BackendError, BackendResult, Capabilities, ClusterInfo, CniInfo};
use crate::command;
use crate::model::{Addresses, Change, Model, PodIps, Probe, Protocol, World};
use crate::probe::Matrix;
use crate::timeouts::Timeouts;
use preflight::Tools;
use process::Process;
use topology::Topology;
use world::RunDir;

/// What enforces policies in the netns world.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cni {
    /// The bundled nftables enforcer, one per node.
    Reference,
    /// Nothing: every cell connects; proves the probes see blocking.
    None,
    /// A third-party engine on every node, watching the run's API server.
    Engine(engines::Engine),
}

impl Cni {
    pub fn name(self) -> &'static str {
        match self {
            Cni::Reference => "reference",
            Cni::None => "none",
            Cni::Engine(engine) => engine.name(),
        }
    }
}

pub struct NetnsBackend {
    cni: Cni,
    /// The `netpol` binary, which is also the agent and the enforcer.
    netpol_exe: PathBuf,
    run_id: String,
    dir: RunDir,
    sctp: bool,
    /// Start etcd and kube-apiserver with these, and keep the world in them.
    control_plane: Option<crate::controlplane::Binaries>,
    /// The world, from the moment its plan is known (before the first
    /// namespace exists, so that a failure anywhere in `setup` is undone)
    /// until `teardown` removes it.
    ready: Option<Ready>,
}

/// Everything a built world is: its layout, its processes, its state.
struct Ready {
    tools: Tools,
    topology: Topology,
    agents: Vec<Process>,
    enforcers: Vec<Process>,
    /// The world `setup` built, and the world now.
    initial: World,
    world: World,
    /// Of the last snapshot written for the enforcers.
    generation: u64,
    /// Set while the enforcers are killed on purpose (fault tests): snapshots
    /// are still written, but nobody acknowledges them.
    enforcers_down: bool,
    /// The control plane and the world's API objects (`--control-plane`).
    api: Option<api::ApiWorld>,
    /// The UDP source port of each probing round (see `SourcePorts`).
    source_ports: crate::probe::SourcePorts,
}

fn error(message: impl Into<String>) -> BackendError {
    BackendError {
        backend: "netns",
        message: message.into(),
        source: None,
    }
}

fn api_error(e: crate::backend::kube::DriverError) -> BackendError {
    crate::backend::kube::backend_error("netns", e)
}

/// `ip netns exec <netns> <argv…>`, as program and arguments.
fn netns_exec(
    tools: &Tools,
    netns: &str,
    argv: impl Iterator<Item = String>,
) -> (String, Vec<String>) {
    let mut full = vec!["netns".to_owned(), "exec".to_owned(), netns.to_owned()];
    full.extend(argv);
    (tools.ip.display().to_string(), full)
}

fn not_set_up() -> BackendError {
    error("used before setup")
}

impl NetnsBackend {
    pub fn new(cni: Cni, netpol_exe: PathBuf) -> NetnsBackend {
        let run_id = super::new_run_id();
        NetnsBackend {
            cni,
            netpol_exe,
            dir: RunDir::new(&run_id),
            run_id,
            sctp: netpol_probe::sctp_supported(),
            control_plane: None,
            ready: None,
        }
    }

    /// With a control plane: etcd and kube-apiserver (these binaries) in a
    /// namespace on the fabric, the world as API objects, changes through the
    /// API, and with `Cni::Reference` the enforcers in controller mode.
    pub fn with_control_plane(mut self, binaries: crate::controlplane::Binaries) -> NetnsBackend {
        self.control_plane = Some(binaries);
        self
    }

    /// Whether the enforcers watch an API server (controller mode).
    fn controllers(&self) -> bool {
        self.cni == Cni::Reference && self.control_plane.is_some()
    }

    /// The control plane's start times, once it runs.
    pub fn control_plane_times(&self) -> Option<crate::controlplane::StartTimes> {
        let api = self.ready.as_ref()?.api.as_ref()?;
        Some(api.plane.start_times())
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    fn ready(&self) -> BackendResult<&Ready> {
        self.ready.as_ref().ok_or_else(not_set_up)
    }

    fn ready_mut(&mut self) -> BackendResult<&mut Ready> {
        self.ready.as_mut().ok_or_else(not_set_up)
    }

    /// The world's layout, once set up (benchmarks address pods and nodes by it).
    pub fn topology(&self) -> Option<&Topology> {
        self.ready.as_ref().map(|r| &r.topology)
    }

    /// The `ip netns exec <pod> netpol-probe <args…>` command line for a pod,
    /// as program and arguments, for measurements beyond the matrix.
    pub fn agent_command(
        &self,
        pod: usize,
        args: &[String],
    ) -> BackendResult<(String, Vec<String>)> {
        let ready = self.ready()?;
        let netns = &ready
            .topology
            .pods
            .get(pod)
            .ok_or_else(|| error(format!("no pod {pod}")))?
            .netns;
        let probe_bin = self.dir.bin(crate::multicall::PROBE).display().to_string();
        Ok(netns_exec(
            &ready.tools,
            netns,
            std::iter::once(probe_bin).chain(args.iter().cloned()),
        ))
    }

    /// `ip netns exec <node> <argv…>` for a node, as program and arguments,
    /// for measurements that read a node's rules.
    pub fn node_command(
        &self,
        node: usize,
        argv: &[String],
    ) -> BackendResult<(String, Vec<String>)> {
        let ready = self.ready()?;
        let netns = &ready
            .topology
            .nodes
            .get(node)
            .ok_or_else(|| error(format!("no node {node}")))?
            .netns;
        Ok(netns_exec(&ready.tools, netns, argv.iter().cloned()))
    }

    /// Probes the matrix the way exec-per-cell suites do: one agent process
    /// per cell, `workers` at a time. Only for comparison with `probe`.
    pub async fn probe_per_cell(
        &mut self,
        probes: &[Probe],
        workers: usize,
    ) -> BackendResult<Matrix> {
        let timeout = self.capabilities().timeouts.probe;
        let ready = self.ready()?;
        let probe_bin = self.dir.bin(crate::multicall::PROBE);
        Ok(probing::probe_per_cell(
            &ready.tools,
            &ready.topology,
            &probe_bin,
            probes,
            crate::probe::Round {
                timeout,
                source_port: ready.source_ports.next_port(),
            },
            workers,
        )
        .await)
    }

    /// Builds the planned world: namespaces, veths, routes, then the agents.
    async fn build(&mut self, probe_bin: &Path) -> BackendResult<()> {
        let ready = self.ready_mut()?;
        let ip = ready.tools.ip.to_string_lossy().into_owned();
        for command in plan::build(&ready.topology)
            .iter()
            .chain(plan::forwarding(&ready.topology).iter())
        {
            let args: Vec<&str> = command.iter().map(String::as_str).collect();
            command::run(&ip, &args, None, Timeouts::NETNS_COMMAND)
                .await
                .map_err(|e| BackendError {
                    backend: "netns",
                    message: "building the world failed".into(),
                    source: Some(Box::new(e)),
                })?;
        }
        self.start_agents(probe_bin)
    }

    fn start_agents(&mut self, probe_bin: &Path) -> BackendResult<()> {
        let root = self.dir.root.clone();
        let ready = self.ready_mut()?;
        let ports: Vec<String> = crate::model::SERVED_PORTS
            .iter()
            .map(u16::to_string)
            .collect();
        // `::` serves both families on one socket: a new namespace has
        // `net.ipv6.bindv6only` 0, so IPv4 clients reach it too.
        let args = vec![
            "serve".to_owned(),
            "--ports".to_owned(),
            ports.join(","),
            "--bind".to_owned(),
            "::".to_owned(),
        ];
        let log_of =
            |id: &crate::model::PodId| root.join(format!("agent-{}-{}.log", id.namespace, id.name));
        for pod in &ready.topology.pods {
            let name = format!("probe agent of {}", pod.id);
            let process = Process::spawn(
                &ready.tools,
                &pod.netns,
                probe_bin,
                &args,
                &log_of(&pod.id),
                &name,
            )
            .map_err(error)?;
            ready.agents.push(process);
        }
        for (agent, pod) in ready.agents.iter_mut().zip(&ready.topology.pods) {
            agent
                .first_line(Timeouts::NETNS_START, &log_of(&pod.id))
                .map_err(error)?;
        }
        Ok(())
    }

    /// The control plane on this world's fabric, and the world in it.
    async fn start_api(
        &mut self,
        model: &Model,
        binaries: crate::controlplane::Binaries,
    ) -> BackendResult<()> {
        let protocols = self.capabilities().protocols;
        let topology = self.ready()?.topology.clone();
        let spec = api::spec(&self.dir.root, &topology, binaries);
        let world = api::ApiWorld::start(&spec, &topology, model, &protocols)
            .await
            .map_err(|e| BackendError {
                backend: "netns",
                message: crate::error::chain(&e),
                source: None,
            })?;
        let times = world.plane.start_times();
        eprintln!(
            "netpol: control plane ready in {:.1?} (prepare {:.1?}, etcd {:.1?}, kube-apiserver {:.1?}); \
             the world as API objects in {:.1?}: {} namespaces, {} Nodes, {} pods bound to them, \
             {} Services (no kube-proxy runs: probes go to pod IPs)",
            times.total,
            times.prepare,
            times.etcd,
            times.apiserver,
            world.objects_took,
            model.namespaces.len(),
            topology.nodes.len(),
            topology.pods.len(),
            topology.pods.len(),
        );
        self.ready_mut()?.api = Some(world);
        Ok(())
    }

    /// Removes everything this run created; every step runs even when one fails.
    fn remove_all(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(mut ready) = self.ready.take() {
            for process in ready.agents.iter_mut().chain(ready.enforcers.iter_mut()) {
                process.stop();
            }
            // The API server's objects go with it: no namespace deletion to
            // wait for (no controller manager would ever finish it).
            if let Some(mut api) = ready.api.take() {
                problems.extend(api.plane.stop());
            }
            problems.extend(cleanup::delete_namespaces(&ready.topology.namespaces()));
        }
        if self.dir.root.exists()
            && let Err(e) = std::fs::remove_dir_all(&self.dir.root)
        {
            problems.push(format!("cannot remove {}: {e}", self.dir.root.display()));
        }
        problems
    }
}

impl Backend for NetnsBackend {
    fn name(&self) -> &'static str {
        "netns"
    }

    fn cni(&self) -> CniInfo {
        let version = match self.cni {
            Cni::Reference => Some(env!("CARGO_PKG_VERSION").to_owned()),
            Cni::Engine(engine) => Some(engine.version().to_owned()),
            Cni::None => None,
        };
        CniInfo {
            name: self.cni.name().into(),
            version,
        }
    }

    fn capabilities(&self) -> Capabilities {
        let mut protocols = vec![Protocol::Tcp, Protocol::Udp];
        if self.sctp {
            protocols.push(Protocol::Sctp);
        }
        // With nothing enforcing, the first observation is final: waiting cannot change it.
        let timeouts = match self.cni {
            Cni::Reference if self.controllers() => Timeouts::NETNS_CONTROLLER,
            Cni::Reference => Timeouts::NETNS,
            Cni::Engine(_) => Timeouts::NETNS_ENGINE,
            Cni::None => Timeouts {
                enforce: std::time::Duration::ZERO,
                ..Timeouts::NETNS
            },
        };
        // Every pod of the world is dual-stack (topology.rs); an engine says
        // whether it enforces IPv6 there.
        let ipv6 = match self.cni {
            Cni::Engine(engine) => engine.ipv6(),
            Cni::Reference | Cni::None => true,
        };
        Capabilities {
            protocols,
            ipv6,
            timeouts,
        }
    }

    fn cluster(&self) -> ClusterInfo {
        ClusterInfo {
            kubernetes: self
                .control_plane
                .as_ref()
                .map(|_| crate::engines::KUBE_APISERVER.version.to_owned()),
            nodes: Some(topology::NODES as u32),
            kernel: preflight::kernel(),
        }
    }

    async fn setup(&mut self, model: &Model) -> BackendResult<Addresses> {
        if self.ready.is_some() {
            return Err(error("setup twice: the world already exists"));
        }
        // What the engine needs of the host is checked before anything exists.
        if let Cni::Engine(engine) = self.cni {
            engine.host_check().await.map_err(error)?;
            if let Some(missing) = engines::missing_tools(engine.tools()) {
                return Err(error(format!("--cni {}: {missing}", engine.name())));
            }
            Self::engine_binary(engine).await?;
            if self.control_plane.is_none() {
                return Err(error(format!(
                    "--cni {} watches an API server: start the backend with its control plane",
                    engine.name()
                )));
            }
        }
        let tools = preflight::check(self.cni == Cni::Reference).map_err(error)?;
        std::fs::create_dir_all(&self.dir.root)
            .map_err(|e| error(format!("cannot create {}: {e}", self.dir.root.display())))?;
        std::fs::write(self.dir.owner(), std::process::id().to_string())
            .map_err(|e| error(e.to_string()))?;
        let (probe_bin, enforcer_bin) =
            process::link_binaries(&self.netpol_exe, &self.dir.root.join("bin")).map_err(error)?;
        let shape = match self.cni {
            Cni::Engine(engine) => engine.world(),
            Cni::Reference | Cni::None => topology::WorldShape::default(),
        };
        let topology = Topology::plan_shaped(model, &self.run_id, shape);
        let mut addresses = Addresses::default();
        for pod in &topology.pods {
            addresses.ips.insert(
                pod.id.clone(),
                PodIps {
                    v4: pod.ip,
                    v6: Some(pod.ip6),
                },
            );
        }
        let world = World::new(model.clone(), addresses.clone());
        // Recorded before the first namespace exists, so a failure anywhere is undone.
        self.ready = Some(Ready {
            tools,
            topology,
            agents: Vec::new(),
            enforcers: Vec::new(),
            initial: world.clone(),
            world,
            generation: 0,
            enforcers_down: false,
            api: None,
            source_ports: crate::probe::SourcePorts::new(),
        });
        self.build(&probe_bin).await?;
        if let Some(binaries) = self.control_plane.clone() {
            self.start_api(model, binaries).await?;
        }
        if let Cni::Engine(engine) = self.cni {
            self.start_engine(engine).await?;
        } else if self.controllers() {
            self.start_controllers(&enforcer_bin)?;
            self.await_controllers().await?;
        } else if self.cni == Cni::Reference {
            // The first snapshot exists before the enforcers start, so they never find no file.
            self.write_snapshot()?;
            self.start_enforcers(&enforcer_bin)?;
            self.await_enforcers().await?;
        }
        Ok(addresses)
    }

    async fn reset(&mut self) -> BackendResult<()> {
        let ready = self.ready_mut()?;
        if ready.world == ready.initial {
            return Ok(());
        }
        ready.world = ready.initial.clone();
        if let Some(api) = ready.api.as_mut() {
            api.kube.reset().await.map_err(api_error)?;
            return self.await_reset().await;
        }
        self.publish().await
    }

    async fn change(&mut self, changes: &[Change]) -> BackendResult<()> {
        let ready = self.ready_mut()?;
        changes
            .iter()
            .try_for_each(|change| ready.world.apply(change))
            .map_err(error)?;
        if let Some(api) = ready.api.as_mut() {
            // The controllers watch the API: nobody acknowledges, the runner probes.
            return api.change(changes).await.map_err(api_error);
        }
        self.publish().await
    }

    fn written(&self) -> Option<std::time::Instant> {
        self.ready.as_ref()?.api.as_ref()?.written
    }

    async fn admit(
        &mut self,
        policies: &[k8s_openapi::api::networking::v1::NetworkPolicy],
    ) -> BackendResult<Vec<(usize, String)>> {
        let Some(api) = self.ready.as_ref().and_then(|r| r.api.as_ref()) else {
            return Ok(Vec::new());
        };
        let mut refused = Vec::new();
        for (index, policy) in policies.iter().enumerate() {
            match api.kube.driver.dry_run_policy(policy).await {
                Ok(()) => {}
                Err(e) => match e.rejection() {
                    Some(message) => refused.push((index, message.to_owned())),
                    None => return Err(api_error(e)),
                },
            }
        }
        Ok(refused)
    }

    async fn probe(&mut self, probes: &[Probe]) -> BackendResult<Matrix> {
        let timeout = self.capabilities().timeouts.probe;
        let probe_bin = self.dir.bin(crate::multicall::PROBE);
        let ready = self.ready_mut()?;
        let round = crate::probe::Round {
            timeout,
            source_port: ready.source_ports.next_port(),
        };
        let mut matrix =
            probing::probe_matrix(&ready.tools, &ready.topology, &probe_bin, probes, round).await;
        // Looked at after the round: an agent killed before or during it may
        // have refused connections while it died, and a dead server must
        // never read as a block. Its whole column becomes an error.
        for (to, agent) in ready.agents.iter_mut().enumerate() {
            if let Some(reason) = agent.exited() {
                probing::mark_destination_failed(&mut matrix, to, &reason);
            }
        }
        Ok(matrix)
    }

    async fn teardown(&mut self) -> BackendResult<()> {
        let problems = self.remove_all();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(error(problems.join("; ")))
        }
    }
}

impl Drop for NetnsBackend {
    /// A run that ends without teardown (a panic, an early return) still
    /// removes its namespaces and processes.
    fn drop(&mut self) {
        let problems = self.remove_all();
        if !problems.is_empty() {
            eprintln!(
                "netpol: cleanup of run {} incomplete: {}",
                self.run_id,
                problems.join("; ")
            );
        }
    }
}
