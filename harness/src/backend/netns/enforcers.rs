//! The enforcers of a netns world: one per node, fed snapshots of the world
//! through a file, each acknowledging every generation it applied.

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
