//! The exit codes of `netpol`, in one place.

/// Every case passed (skips included).
pub const PASSED: u8 = 0;
/// At least one case failed.
pub const FAILED: u8 = 1;
/// Bad input (a case, a flag) or a missing prerequisite; nothing was judged.
pub const BAD_INPUT: u8 = 2;
/// Stopped by SIGINT or SIGTERM (after removing what the run created), as shells count it.
pub const INTERRUPTED: u8 = 130;
