//! The fuzz targets' checks, in a library so that the targets stay one line
//! and saved inputs can be replayed by ordinary tests.

pub mod checks;
pub mod snapshot_input;

pub use checks::*;
