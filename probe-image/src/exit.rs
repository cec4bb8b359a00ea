//! The exit codes of `netpol-probe`, in one place.

/// Served until a signal, or probed every target (whatever the results).
pub const OK: u8 = 0;
/// Something failed at run time (stdout closed, no runtime, no signal handlers).
pub const FAILURE: u8 = 1;
/// Bad input (a flag, the targets on stdin) or a port that cannot be bound;
/// nothing was probed or served. Also clap's code for usage errors.
pub const BAD_INPUT: u8 = 2;
