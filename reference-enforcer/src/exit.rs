//! The exit codes of `netpol-enforcer`, in one place.

/// Done, or (for `golden`) every golden file is up to date.
pub const OK: u8 = 0;
/// `golden`: some golden file differs from what the compiler renders.
pub const DIFFERS: u8 = 1;
/// Bad input: a flag, an unreadable or undecodable file.
pub const BAD_INPUT: u8 = 2;
