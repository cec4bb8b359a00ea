//! The enforcers of a netns world: one per node, fed snapshots of the world
//! through a file, each acknowledging every generation it applied.

use std::time::{Duration, Instant};

use super::process::Process;
use super::topology::Topology;
use super::{Cni, NetnsBackend, error, world};
use crate::backend::BackendResult;
use crate::timeouts::Timeouts;

impl NetnsBackend {
    pub(super) fn start_enforcers(
        &mut self,
        topology: &Topology,
        enforcer_bin: &std::path::Path,
    ) -> BackendResult<()> {
        let tools = self
            .tools
            .clone()
            .ok_or_else(|| error("used before setup"))?;
        for node in &topology.nodes {
            let args = vec![
                "local".to_owned(),
                "--state".to_owned(),
                self.dir.state().display().to_string(),
                "--node".to_owned(),
                node.name.clone(),
                "--status".to_owned(),
                self.dir.status(&node.name).display().to_string(),
            ];
            let log = self.dir.root.join(format!("enforcer-{}.log", node.name));
            let name = format!("enforcer of {}", node.name);
            self.enforcers.push(
                Process::spawn(&tools, &node.netns, enforcer_bin, &args, &log, &name)
                    .map_err(error)?,
            );
        }
        Ok(())
    }

    /// Writes the world for the enforcers and waits until every one applied it.
    pub(super) async fn publish(&mut self) -> BackendResult<()> {
        if self.cni == Cni::None {
            return Ok(());
        }
        self.write_snapshot()?;
        if self.enforcers_down {
            return Ok(());
        }
        self.await_enforcers().await
    }

    /// SIGKILLs every enforcer, as a crash would; their rules stay in force.
    pub fn kill_enforcers(&mut self) {
        for enforcer in &mut self.enforcers {
            enforcer.stop();
        }
        self.enforcers.clear();
        self.enforcers_down = true;
    }

    /// Starts the enforcers again; they reconcile from the current snapshot.
    pub async fn restart_enforcers(&mut self) -> BackendResult<()> {
        let topology = self
            .topology
            .clone()
            .ok_or_else(|| error("restart before setup"))?;
        self.start_enforcers(&topology, &self.dir.bin(crate::multicall::ENFORCER))?;
        self.enforcers_down = false;
        self.await_enforcers().await
    }

    /// The next generation of the world, replaced atomically for the enforcers.
    pub(super) fn write_snapshot(&mut self) -> BackendResult<()> {
        let (Some(world), Some(topology)) = (&self.world, &self.topology) else {
            return Err(error("used before setup"));
        };
        self.generation += 1;
        let snapshot = world::snapshot(world, topology, self.generation);
        let bytes = serde_json::to_vec(&snapshot)
            .map_err(|e| error(format!("cannot encode the snapshot: {e}")))?;
        world::write_atomically(&self.dir.state(), &bytes)
            .map_err(|e| error(format!("cannot write {}: {e}", self.dir.state().display())))
    }

    pub(super) async fn await_enforcers(&self) -> BackendResult<()> {
        let topology = self
            .topology
            .as_ref()
            .ok_or_else(|| error("used before setup"))?;
        let deadline = Instant::now() + Timeouts::NETNS_START;
        for node in &topology.nodes {
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
                    Some(status)
                        if status.generation >= Some(self.generation) && status.applied =>
                    {
                        break;
                    }
                    Some(status) if status.generation >= Some(self.generation) => {
                        let reason = status.error.unwrap_or_default();
                        return Err(error(format!(
                            "the enforcer of {} could not apply generation {}: {reason}",
                            node.name, self.generation
                        )));
                    }
                    _ if Instant::now() > deadline => {
                        return Err(error(format!(
                            "the enforcer of {} did not apply generation {} within {:?} (log: {})",
                            node.name,
                            self.generation,
                            Timeouts::NETNS_START,
                            self.dir
                                .root
                                .join(format!("enforcer-{}.log", node.name))
                                .display()
                        )));
                    }
                    _ => tokio::time::sleep(Duration::from_millis(2)).await,
                }
            }
        }
        Ok(())
    }
}
