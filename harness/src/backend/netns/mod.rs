//! The `netns` backend: nodes and pods as Linux network namespaces, real
//! packets, and the reference enforcer on every node (`--cni reference`) or no
//! enforcement at all (`--cni none`).

pub mod cleanup;
mod enforcers;
pub mod plan;
mod preflight;

pub use preflight::is_root;
pub use world::snapshot as snapshot_json;
mod probing;
mod process;
pub mod topology;
mod world;

use std::path::PathBuf;

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
}

impl Cni {
    pub fn name(self) -> &'static str {
        match self {
            Cni::Reference => "reference",
            Cni::None => "none",
        }
    }
}

pub struct NetnsBackend {
    cni: Cni,
    /// The `netpol` binary, which is also the agent and the enforcer.
    netpol_exe: PathBuf,
    run_id: String,
    dir: RunDir,
    tools: Option<Tools>,
    topology: Option<Topology>,
    agents: Vec<Process>,
    enforcers: Vec<Process>,
    initial: Option<World>,
    world: Option<World>,
    generation: u64,
    sctp: bool,
    /// Set while the enforcers are killed on purpose (fault tests): snapshots
    /// are still written, but nobody acknowledges them.
    enforcers_down: bool,
}

fn error(message: impl Into<String>) -> BackendError {
    BackendError {
        backend: "netns",
        message: message.into(),
        source: None,
    }
}

/// A run id: short, hex, unique enough per machine (pid and clock).
fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{:06x}",
        (std::process::id() ^ nanos.rotate_left(7)) & 0xff_ffff
    )
}

impl NetnsBackend {
    pub fn new(cni: Cni, netpol_exe: PathBuf) -> NetnsBackend {
        let run_id = new_run_id();
        NetnsBackend {
            cni,
            netpol_exe,
            dir: RunDir::new(&run_id),
            run_id,
            tools: None,
            topology: None,
            agents: Vec::new(),
            enforcers: Vec::new(),
            initial: None,
            world: None,
            generation: 0,
            sctp: netpol_probe::sctp_supported(),
            enforcers_down: false,
        }
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The world's layout, once set up (benchmarks address pods and nodes by it).
    pub fn topology(&self) -> Option<&Topology> {
        self.topology.as_ref()
    }

    /// The `ip netns exec <pod> netpol-probe <args…>` command line for a pod,
    /// as program and arguments, for measurements beyond the matrix.
    pub fn agent_command(
        &self,
        pod: usize,
        args: &[String],
    ) -> BackendResult<(String, Vec<String>)> {
        let topology = self
            .topology
            .as_ref()
            .ok_or_else(|| error("used before setup"))?;
        let tools = self
            .tools
            .as_ref()
            .ok_or_else(|| error("used before setup"))?;
        let netns = &topology
            .pods
            .get(pod)
            .ok_or_else(|| error(format!("no pod {pod}")))?
            .netns;
        let probe_bin = self.dir.bin(crate::multicall::PROBE).display().to_string();
        let mut full = vec![
            "netns".to_owned(),
            "exec".to_owned(),
            netns.clone(),
            probe_bin,
        ];
        full.extend(args.iter().cloned());
        Ok((tools.ip.display().to_string(), full))
    }

    /// Probes the matrix the way exec-per-cell suites do: one agent process
    /// per cell, `workers` at a time. Only for comparison with `probe`.
    pub async fn probe_per_cell(
        &mut self,
        probes: &[Probe],
        workers: usize,
    ) -> BackendResult<Matrix> {
        let topology = self
            .topology
            .clone()
            .ok_or_else(|| error("probe before setup"))?;
        let tools = self
            .tools
            .clone()
            .ok_or_else(|| error("probe before setup"))?;
        let probe_bin = self.dir.bin(crate::multicall::PROBE);
        Ok(probing::probe_per_cell(&tools, &topology, &probe_bin, probes, workers).await)
    }

    async fn ip(&self, args: &[String]) -> BackendResult<()> {
        let tools = self
            .tools
            .as_ref()
            .ok_or_else(|| error("used before setup"))?;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ip = tools.ip.to_string_lossy();
        command::run(&ip, &args, None, Timeouts::NETNS_COMMAND)
            .await
            .map_err(|e| BackendError {
                backend: "netns",
                message: "building the world failed".into(),
                source: Some(Box::new(e)),
            })?;
        Ok(())
    }

    fn start_agents(
        &mut self,
        topology: &Topology,
        probe_bin: &std::path::Path,
    ) -> BackendResult<()> {
        let tools = self
            .tools
            .clone()
            .ok_or_else(|| error("used before setup"))?;
        let ports: Vec<String> = crate::model::SERVED_PORTS
            .iter()
            .map(u16::to_string)
            .collect();
        let args = vec!["serve".to_owned(), "--ports".to_owned(), ports.join(",")];
        for pod in &topology.pods {
            let log = self
                .dir
                .root
                .join(format!("agent-{}-{}.log", pod.id.namespace, pod.id.name));
            let name = format!("probe agent of {}", pod.id);
            let process =
                Process::spawn(&tools, &pod.netns, probe_bin, &args, &log, &name).map_err(error)?;
            self.agents.push(process);
        }
        for (agent, pod) in self.agents.iter_mut().zip(&topology.pods) {
            let log = self
                .dir
                .root
                .join(format!("agent-{}-{}.log", pod.id.namespace, pod.id.name));
            agent
                .first_line(Timeouts::NETNS_START, &log)
                .map_err(error)?;
        }
        Ok(())
    }

    /// Removes everything this run created; every step runs even when one fails.
    fn remove_all(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        for process in self.agents.iter_mut().chain(self.enforcers.iter_mut()) {
            process.stop();
        }
        self.agents.clear();
        self.enforcers.clear();
        if let Some(topology) = self.topology.take() {
            problems.extend(cleanup::delete_namespaces(&topology.namespaces()));
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
        let version = (self.cni == Cni::Reference).then(|| env!("CARGO_PKG_VERSION").to_owned());
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
            Cni::Reference => Timeouts::NETNS,
            Cni::None => Timeouts {
                enforce: std::time::Duration::ZERO,
                ..Timeouts::NETNS
            },
        };
        Capabilities {
            protocols,
            ipv6: false,
            timeouts,
        }
    }

    fn cluster(&self) -> ClusterInfo {
        ClusterInfo {
            kubernetes: None,
            nodes: Some(topology::NODES as u32),
            kernel: preflight::kernel(),
        }
    }

    async fn setup(&mut self, model: &Model) -> BackendResult<Addresses> {
        self.tools = Some(preflight::check(self.cni == Cni::Reference).map_err(error)?);
        std::fs::create_dir_all(&self.dir.root)
            .map_err(|e| error(format!("cannot create {}: {e}", self.dir.root.display())))?;
        std::fs::write(self.dir.owner(), std::process::id().to_string())
            .map_err(|e| error(e.to_string()))?;
        let (probe_bin, enforcer_bin) =
            process::link_binaries(&self.netpol_exe, &self.dir.root.join("bin")).map_err(error)?;
        let topology = Topology::plan(model, &self.run_id);
        // Recorded before the first namespace exists, so a failure anywhere is undone.
        self.topology = Some(topology.clone());
        for command in plan::build(&topology)
            .iter()
            .chain(plan::forwarding(&topology).iter())
        {
            self.ip(command).await?;
        }
        self.start_agents(&topology, &probe_bin)?;
        let mut addresses = Addresses::default();
        for pod in &topology.pods {
            addresses.ips.insert(
                pod.id.clone(),
                PodIps {
                    v4: pod.ip,
                    v6: None,
                },
            );
        }
        let world = World::new(model.clone(), addresses.clone());
        self.initial = Some(world.clone());
        self.world = Some(world);
        if self.cni == Cni::Reference {
            // The first snapshot exists before the enforcers start, so they never find no file.
            self.write_snapshot()?;
            self.start_enforcers(&topology, &enforcer_bin)?;
            self.await_enforcers().await?;
        }
        Ok(addresses)
    }

    async fn reset(&mut self) -> BackendResult<()> {
        let initial = self
            .initial
            .clone()
            .ok_or_else(|| error("reset before setup"))?;
        if self.world.as_ref() != Some(&initial) {
            self.world = Some(initial);
            self.publish().await?;
        }
        Ok(())
    }

    async fn change(&mut self, changes: &[Change]) -> BackendResult<()> {
        let world = self
            .world
            .as_mut()
            .ok_or_else(|| error("change before setup"))?;
        changes
            .iter()
            .try_for_each(|change| world.apply(change))
            .map_err(error)?;
        self.publish().await
    }

    async fn probe(&mut self, probes: &[Probe]) -> BackendResult<Matrix> {
        let topology = self
            .topology
            .clone()
            .ok_or_else(|| error("probe before setup"))?;
        let tools = self
            .tools
            .clone()
            .ok_or_else(|| error("probe before setup"))?;
        let dead: Vec<(usize, String)> = self
            .agents
            .iter_mut()
            .enumerate()
            .filter_map(|(i, a)| a.exited().map(|r| (i, r)))
            .collect();
        let probe_bin = self.dir.bin(crate::multicall::PROBE);
        Ok(probing::probe_matrix(&tools, &topology, &probe_bin, probes, &dead).await)
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
