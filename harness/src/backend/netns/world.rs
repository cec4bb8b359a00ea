//! The files shared with the enforcers: the cluster snapshot the harness
//! writes, and the status each enforcer writes back.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::json;

use super::topology::Topology;
use crate::model::World;

/// The snapshot of `world` as the enforcer reads it, with pods placed on nodes.
pub fn snapshot(world: &World, topology: &Topology, generation: u64) -> serde_json::Value {
    let namespaces: Vec<_> = world
        .model
        .namespaces
        .iter()
        .map(|n| json!({"name": n.name, "labels": n.labels}))
        .collect();
    let pods: Vec<_> = world
        .model
        .pods
        .iter()
        .filter_map(|pod| {
            let plan = topology.pods.iter().find(|p| p.id == pod.id)?;
            let ports: Vec<_> = pod
                .ports
                .iter()
                .map(|p| json!({"name": p.name, "port": p.port, "protocol": p.protocol.api_name()}))
                .collect();
            Some(json!({
                "namespace": pod.id.namespace,
                "name": pod.id.name,
                "node": topology.nodes[plan.node].name,
                "ip": plan.ip,
                "labels": pod.labels,
                "ports": ports,
            }))
        })
        .collect();
    let policies: Vec<_> = world.policies.values().collect();
    json!({"generation": generation, "namespaces": namespaces, "pods": pods, "policies": policies})
}

/// Replaces `path` atomically: the enforcer never reads half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}

/// What an enforcer reports after each attempt to apply a snapshot.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Status {
    /// `None` when the enforcer could not read the snapshot at all.
    pub generation: Option<u64>,
    pub applied: bool,
    pub error: Option<String>,
    #[serde(default)]
    pub warnings: Vec<String>,
}

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
