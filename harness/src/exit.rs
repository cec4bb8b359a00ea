//! The exit codes of `netpol`, in one place (the README's table lists them).

use crate::error::RunError;

/// Every case passed (skips included).
pub const PASSED: u8 = 0;
/// At least one case failed.
pub const FAILED: u8 = 1;
/// Bad input (a case, a flag), a missing prerequisite, or a world that could
/// not be built; nothing was judged.
pub const BAD_INPUT: u8 = 2;
/// The world or the backend failed after judging started; the results file
/// holds the cases judged until then.
pub const BACKEND_FAILED: u8 = 3;
/// Every case was judged and the results written, but the world could not be
/// removed completely (`netpol cleanup` removes what is left).
pub const CLEANUP_FAILED: u8 = 4;
/// Stopped by SIGINT or SIGTERM (after removing what the run created), as shells count it.
pub const INTERRUPTED: u8 = 130;

/// The exit code an error ends `netpol` with.
pub fn of_error(error: &RunError) -> u8 {
    match error {
        RunError::Input(_) | RunError::Prerequisite(_) => BAD_INPUT,
        RunError::Backend(_) => BACKEND_FAILED,
        RunError::Cleanup(_) => CLEANUP_FAILED,
    }
}
