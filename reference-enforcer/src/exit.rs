//! The exit codes of `netpol-enforcer`, in one place.

/// Done.
pub const OK: u8 = 0;
/// Bad input: a flag, an unreadable or undecodable file.
pub const BAD_INPUT: u8 = 2;
