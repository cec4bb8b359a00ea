//! The fuzz targets' checks, in a library so that the targets stay one line
//! and saved inputs can be replayed by ordinary tests.

// The comparison with the oracle, shared with the workspace's tests.
#[path = "../../harness/tests/common/agreement.rs"]
pub mod agreement;
pub mod checks;
pub mod snapshot_input;
pub mod world;

pub use checks::*;
