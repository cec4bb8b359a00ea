//! The files shared with the enforcers: the cluster snapshot the harness
//! writes, and the status each enforcer writes back.

use std::path::{Path, PathBuf};

use netpol_enforcer::local::Status;
use netpol_enforcer::{ContainerPort, Namespace, Pod, Snapshot};

use super::topology::Topology;
use crate::model::World;

/// The snapshot of `world` as the enforcer reads it, with pods placed on
/// nodes: the enforcer's own type, so a renamed field fails to compile here.
pub fn snapshot(world: &World, topology: &Topology, generation: u64) -> Snapshot {
    let namespaces = world
        .model
        .namespaces
        .iter()
        .map(|n| Namespace {
            name: n.name.clone(),
            labels: n.labels.clone(),
        })
        .collect();
    let pods = world
        .model
        .pods
        .iter()
        .filter_map(|pod| {
            let plan = topology.pods.iter().find(|p| p.id == pod.id)?;
            let ports = pod
                .ports
                .iter()
                .map(|p| ContainerPort {
                    name: p.name.clone(),
                    port: p.port,
                    protocol: p.protocol.api_name().to_owned(),
                })
                .collect();
            Some(Pod {
                namespace: pod.id.namespace.clone(),
                name: pod.id.name.clone(),
                node: topology.nodes[plan.node].name.clone(),
                ip: plan.ip.into(),
                // Every pod is dual-stack (podIPs: IPv4 first, as podIP).
                ips: vec![plan.ip.into(), plan.ip6.into()],
                labels: pod.labels.clone(),
                ports,
            })
        })
        .collect();
    Snapshot {
        generation,
        namespaces,
        pods,
        policies: world.policies.values().cloned().collect(),
    }
}

/// Replaces `path` atomically: the enforcer never reads half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}

/// The enforcer's status file (`local::Status`), if it holds one.
pub fn read_status(path: &Path) -> Option<Status> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Where the run keeps its files.
#[derive(Clone, Debug)]
pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    pub fn new(run_id: &str) -> RunDir {
        RunDir {
            root: std::env::temp_dir().join(format!("netpol-{run_id}")),
        }
    }

    pub fn state(&self) -> PathBuf {
        self.root.join("state.json")
    }

    pub fn status(&self, node: &str) -> PathBuf {
        self.root.join(format!("status-{node}.json"))
    }

    pub fn bin(&self, name: &str) -> PathBuf {
        self.root.join("bin").join(name)
    }

    pub fn owner(&self) -> PathBuf {
        self.root.join("owner.pid")
    }
}
