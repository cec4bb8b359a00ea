//! The enforcers of a netns world: one per node, fed snapshots of the world
//! through a file, each acknowledging every generation it applied; or, with a
//! control plane, `netpol-enforcer controller` on every node, watching the
//! API server with the run's kubeconfig (what a DaemonSet pod would get from
//! kind, its node name, comes from flags; the netns topology routes pods
//! already, so it is not the CNI).

use std::time::Instant;

use super::process::Process;
use super::{Cni, NetnsBackend, error, world};
use crate::backend::BackendResult;
use crate::timeouts::Timeouts;

impl NetnsBackend {
    pub(super) fn start_enforcers(&mut self, enforcer_bin: &std::path::Path) -> BackendResult<()> {
        let dir = self.dir.clone();
        let ready = self.ready_mut()?;
        for node in &ready.topology.nodes {
            let args = vec![
                "local".to_owned(),
                "--state".to_owned(),
                dir.state().display().to_string(),
                "--node".to_owned(),
                node.name.clone(),
                "--status".to_owned(),
                dir.status(&node.name).display().to_string(),
            ];
            let log = dir.root.join(format!("enforcer-{}.log", node.name));
            let name = format!("enforcer of {}", node.name);
            let process =
                Process::spawn(&ready.tools, &node.netns, enforcer_bin, &args, &log, &name)
                    .map_err(error)?;
            ready.enforcers.push(process);
        }
        Ok(())
    }

    /// The readiness file of a node's controller (`--ready-file`).
    fn ready_file(&self, node: &str) -> std::path::PathBuf {
        self.dir.root.join(format!("controller-ready-{node}"))
    }

    pub(super) fn start_controllers(
        &mut self,
        enforcer_bin: &std::path::Path,
    ) -> BackendResult<()> {
        let root = self.dir.root.clone();
        let ready = self.ready()?;
        let kubeconfig = ready
            .api
            .as_ref()
            .ok_or_else(|| error("controller mode without a control plane"))?
            .plane
            .kubeconfig();
        let mut started = Vec::new();
        for node in &ready.topology.nodes {
            let ready_file = self.ready_file(&node.name);
            // A restarted controller must say again that it is in force.
            let _ = std::fs::remove_file(&ready_file);
            let args = vec![
                "controller".to_owned(),
                "--node".to_owned(),
                node.name.clone(),
                "--kubeconfig".to_owned(),
                kubeconfig.display().to_string(),
                "--ready-file".to_owned(),
                ready_file.display().to_string(),
            ];
            let log = root.join(format!("enforcer-{}.log", node.name));
            let name = format!("enforcer (controller) of {}", node.name);
            started.push(
                Process::spawn(&ready.tools, &node.netns, enforcer_bin, &args, &log, &name)
                    .map_err(error)?,
            );
        }
        self.ready_mut()?.enforcers.extend(started);
        Ok(())
    }

    /// Waits until every controller listed everything and applied its first
    /// ruleset (it writes its readiness file then).
    pub(super) async fn await_controllers(&mut self) -> BackendResult<()> {
        let deadline = Instant::now() + Timeouts::NETNS_START;
        let nodes: Vec<String> = self
            .ready()?
            .topology
            .nodes
            .iter()
            .map(|n| n.name.clone())
            .collect();
        for (index, node) in nodes.iter().enumerate() {
            let file = self.ready_file(node);
            let log = self.dir.root.join(format!("enforcer-{node}.log"));
            while !file.exists() {
                let ready = self.ready_mut()?;
                if let Some(reason) = ready.enforcers.get_mut(index).and_then(|p| p.exited()) {
                    return Err(error(format!(
                        "{reason}; its log ends: {}",
                        super::process::tail(&log)
                    )));
                }
                if Instant::now() > deadline {
                    return Err(error(format!(
                        "the controller of {node} did not apply its first ruleset within {:?}; its log ends: {}",
                        Timeouts::NETNS_START,
                        super::process::tail(&log)
                    )));
                }
                tokio::time::sleep(Timeouts::NETNS_STATUS_POLL * 5).await;
            }
        }
        Ok(())
    }

    /// After a reset through the API nobody acknowledges: probe until every
    /// pod reaches every pod again (the world has no policy), so no case
    /// starts on rules a previous one left.
    pub(super) async fn await_reset(&mut self) -> BackendResult<()> {
        if self.cni == Cni::None {
            return Ok(());
        }
        let probe = crate::model::Probe::new(crate::model::Protocol::Tcp, 80);
        let timeouts = Timeouts::NETNS;
        let probe_bin = self.dir.bin(crate::multicall::PROBE);
        let started = Instant::now();
        loop {
            let ready = self.ready()?;
            let matrix = super::probing::probe_matrix(
                &ready.tools,
                &ready.topology,
                &probe_bin,
                &[probe],
                crate::probe::Round {
                    timeout: timeouts.probe,
                    source_port: ready.source_ports.next_port(),
                },
            )
            .await;
            let closed = matrix.get(&probe).map_or(usize::MAX, |table| {
                let n = table.pods().len();
                (0..n)
                    .flat_map(|from| (0..n).map(move |to| (from, to)))
                    .filter(|(from, to)| {
                        *table.get(*from, *to) != crate::probe::Observed::Connected
                    })
                    .count()
            });
            if closed == 0 {
                return Ok(());
            }
            if started.elapsed() >= timeouts.enforce {
                return Err(error(format!(
                    "after the reset through the API, {closed} cells of {probe} still do not connect after {:?}",
                    timeouts.enforce
                )));
            }
            tokio::time::sleep(timeouts.poll).await;
        }
    }

    /// Writes the world for the enforcers and waits until every one applied it.
    pub(super) async fn publish(&mut self) -> BackendResult<()> {
        if self.cni == Cni::None {
            return Ok(());
        }
        self.write_snapshot()?;
        if self.ready()?.enforcers_down {
            return Ok(());
        }
        self.await_enforcers().await
    }

    /// SIGKILLs every enforcer, as a crash would; their rules stay in force.
    pub fn kill_enforcers(&mut self) {
        if let Some(ready) = self.ready.as_mut() {
            for enforcer in &mut ready.enforcers {
                enforcer.stop();
            }
            ready.enforcers.clear();
            ready.enforcers_down = true;
        }
    }

    /// Starts the enforcers again; they reconcile from the current snapshot.
    pub async fn restart_enforcers(&mut self) -> BackendResult<()> {
        let enforcer_bin = self.dir.bin(crate::multicall::ENFORCER);
        if let Cni::Engine(engine) = self.cni {
            let engines = crate::engines::engines_dir().map_err(error)?;
            self.spawn_engines(engine, &engines)?;
            self.ready_mut()?.enforcers_down = false;
            return self.await_engines(engine).await;
        }
        if self.controllers() {
            self.start_controllers(&enforcer_bin)?;
            self.ready_mut()?.enforcers_down = false;
            return self.await_controllers().await;
        }
        self.start_enforcers(&enforcer_bin)?;
        self.ready_mut()?.enforcers_down = false;
        self.await_enforcers().await
    }

    /// The next generation of the world, replaced atomically for the enforcers.
    pub(super) fn write_snapshot(&mut self) -> BackendResult<()> {
        let state = self.dir.state();
        let ready = self.ready_mut()?;
        ready.generation += 1;
        let snapshot = world::snapshot(&ready.world, &ready.topology, ready.generation);
        let bytes = serde_json::to_vec(&snapshot).expect("a snapshot always encodes as JSON");
        world::write_atomically(&state, &bytes)
            .map_err(|e| error(format!("cannot write {}: {e}", state.display())))
    }

    pub(super) async fn await_enforcers(&self) -> BackendResult<()> {
        let ready = self.ready()?;
        let generation = ready.generation;
        let deadline = Instant::now() + Timeouts::NETNS_START;
        for node in &ready.topology.nodes {
            let path = self.dir.status(&node.name);
            loop {
                match world::read_status(&path) {
                    Some(status) if status.generation.is_none() => {
                        let reason = status.error.unwrap_or_default();
                        return Err(error(format!(
                            "the enforcer of {} cannot read the snapshot: {reason}",
                            node.name
                        )));
                    }
                    Some(status) if status.generation >= Some(generation) && status.applied => {
                        break;
                    }
                    Some(status) if status.generation >= Some(generation) => {
                        let reason = status.error.unwrap_or_default();
                        return Err(error(format!(
                            "the enforcer of {} could not apply generation {generation}: {reason}",
                            node.name
                        )));
                    }
                    _ if Instant::now() > deadline => {
                        return Err(error(format!(
                            "the enforcer of {} did not apply generation {generation} within {:?} (log: {})",
                            node.name,
                            Timeouts::NETNS_START,
                            self.dir
                                .root
                                .join(format!("enforcer-{}.log", node.name))
                                .display()
                        )));
                    }
                    _ => tokio::time::sleep(Timeouts::NETNS_STATUS_POLL).await,
                }
            }
        }
        Ok(())
    }
}
