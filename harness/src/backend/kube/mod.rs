//! The Kubernetes driver the `kind` and `kubeconfig` backends share: the
//! model world as namespaces, probe pods and one Service per pod; policies
//! applied server-side; labels patched; the agent exec'd once per source pod
//! per matrix (kube-rs `ws`); cleanup by label.

pub mod apply;
pub mod baseline;
pub mod driver;
pub mod exec;
mod namespaces;
pub mod objects;
pub mod world;

pub use driver::{Driver, DriverError};
pub use exec::{Divergence, Paths, ProbeVia};
pub use objects::Names;
pub use world::{KubeWorld, ServiceAccounts, WorldOptions};

use super::BackendError;

/// A driver failure as a backend error of `backend`.
pub fn backend_error(backend: &'static str, error: DriverError) -> BackendError {
    BackendError {
        backend,
        message: crate::error::chain(&error),
        source: None,
    }
}

/// Run ids come from one counter for every backend (unique within a process).
pub use super::new_run_id;
