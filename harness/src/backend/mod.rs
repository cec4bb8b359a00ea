//! Backends build the model world, change it and observe it. Everything else
//! (steps, convergence, verdicts, reports) is shared and knows no backend.

pub mod kind;
pub mod kube;
pub mod kubeconfig;
pub mod netns;
pub mod oracle;

use std::future::Future;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde::{Deserialize, Serialize};

use crate::model::{Addresses, Change, Model, Probe, Protocol};
use crate::probe::{Matrix, Paths};
use crate::timeouts::Timeouts;

/// What a backend can do; the runner marks the rest `unsupported` before probing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capabilities {
    pub protocols: Vec<Protocol>,
    pub ipv6: bool,
    pub timeouts: Timeouts,
}

/// The CNI a run judged, as results name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniInfo {
    pub name: String,
    pub version: Option<String>,
}

/// What is known of the world a run used.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInfo {
    pub kubernetes: Option<String>,
    pub nodes: Option<u32>,
    pub kernel: Option<String>,
}

/// A failure of the backend itself (not a verdict on a case).
#[derive(Debug, thiserror::Error)]
#[error("{backend} backend: {message}")]
pub struct BackendError {
    pub backend: &'static str,
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

pub type BackendResult<T> = Result<T, BackendError>;

/// A run id: six hex digits, different for every backend made in this
/// process (a counter over a per-process base), and most likely across
/// processes (the base mixes the pid and the clock).
pub fn new_run_id() -> String {
    static BASE: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let base = *BASE.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        std::process::id() ^ nanos.rotate_left(7)
    });
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{:06x}", base.wrapping_add(n) & 0xff_ffff)
}

pub trait Backend: Send {
    fn name(&self) -> &'static str;
    fn cni(&self) -> CniInfo;
    fn capabilities(&self) -> Capabilities;
    fn cluster(&self) -> ClusterInfo;
    /// Builds the model world, with no policy, and returns the pods' addresses.
    fn setup(&mut self, model: &Model) -> impl Future<Output = BackendResult<Addresses>> + Send;
    /// Returns to the world `setup` built: model labels, no policy.
    fn reset(&mut self) -> impl Future<Output = BackendResult<()>> + Send;
    /// Makes one step's changes, in order, and returns once they are in force
    /// as far as the backend can tell (enforcement is still probed for).
    fn change(&mut self, changes: &[Change]) -> impl Future<Output = BackendResult<()>> + Send;
    /// When the API server answered the last write of the latest `change`,
    /// for a backend whose changes are API writes that others enforce on
    /// their own time: time to enforce counts from that answer. `None`: it
    /// counts from the start of `change` (the backend's own enforcement is
    /// part of it).
    fn written(&self) -> Option<std::time::Instant> {
        None
    }
    /// The backend's API server judges these policies (a dry run, nothing
    /// stored): the index and the server's message of each it refuses. A
    /// backend without an API server of its own refuses nothing.
    fn admit(
        &mut self,
        policies: &[NetworkPolicy],
    ) -> impl Future<Output = BackendResult<Vec<(usize, String)>>> + Send {
        let _ = policies;
        async { Ok(Vec::new()) }
    }
    /// Probes every pod to every pod on each probe, all supported by the backend.
    fn probe(&mut self, probes: &[Probe]) -> impl Future<Output = BackendResult<Matrix>> + Send;
    /// Probes as `probe` does, each path a pod is dialled by kept as its
    /// own matrix, for the runner to judge each against the expectation. A
    /// backend that dials only the pods' own addresses has one path, `pod`
    /// (this default); the cluster backends with `--probe-via both` have two.
    fn probe_paths(
        &mut self,
        probes: &[Probe],
    ) -> impl Future<Output = BackendResult<Paths>> + Send {
        async move {
            Ok(Paths {
                pod: Some(self.probe(probes).await?),
                service: None,
            })
        }
    }
    /// Removes everything the backend created.
    fn teardown(&mut self) -> impl Future<Output = BackendResult<()>> + Send;
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_ids_made_in_one_process_all_differ() {
        let ids: std::collections::BTreeSet<String> =
            (0..1000).map(|_| super::new_run_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(
            ids.iter()
                .all(|id| id.len() == 6 && id.chars().all(|c| c.is_ascii_hexdigit()))
        );
    }
}
