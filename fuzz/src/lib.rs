//! The fuzz targets' checks, in a library so that the targets stay one line
//! and saved inputs can be replayed by ordinary tests.

// The comparison with the oracle and the valid part of a snapshot, shared
// with the workspace's tests.
#[path = "../../harness/tests/common/agreement.rs"]
pub mod agreement;
pub mod checks;
#[path = "../../harness/tests/common/projection.rs"]
pub mod projection;
pub mod snapshot_input;

pub use checks::*;
