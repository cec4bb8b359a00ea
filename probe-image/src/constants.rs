//! The agent's timings, sizes and the errno values std has no name for, in one place.

use std::time::Duration;

/// How long one probe may take when `--timeout-ms` is not given. Every target of a
/// batch shares this bound, since they all run at once.
pub(crate) const DEFAULT_TIMEOUT_MS: u64 = 1000;

/// A UDP probe resends its datagram every `timeout / RESEND_FRACTION`: datagrams can
/// be lost while rules change, and a single send would turn one loss into a `timeout`.
pub(crate) const RESEND_FRACTION: u32 = 4;

/// The shortest resend period, so a tiny timeout cannot make a busy loop of sends.
pub(crate) const MIN_RESEND_PERIOD: Duration = Duration::from_millis(1);

/// What every UDP probe payload starts with, so a capture shows who sent it.
pub(crate) const PAYLOAD_MAGIC: &[u8] = b"netpol-probe ";

/// Hex digits of the random nonce that follows the magic: 64 random bits, enough
/// that an echo meant for another probe is never taken for ours.
pub(crate) const NONCE_HEX_DIGITS: usize = 16;

/// The full UDP probe payload: magic, nonce, newline.
pub(crate) const PAYLOAD_LEN: usize = PAYLOAD_MAGIC.len() + NONCE_HEX_DIGITS + 1;

/// The UDP echo server's buffer: the largest datagram UDP can carry, so every
/// datagram is sent back unchanged rather than truncated.
pub(crate) const MAX_DATAGRAM: usize = 65_535;

/// The buffer a server reads (and discards) a stream connection's data into.
pub(crate) const DRAIN_BUFFER_LEN: usize = 4096;

/// Pending connections per TCP or SCTP listener (what `listen(2)` queues).
pub(crate) const LISTEN_BACKLOG: i32 = 1024;

/// The pause after a failed `accept` or UDP receive (for example out of file
/// descriptors), so a persistent failure does not spin the only thread.
pub(crate) const SERVE_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// SCTP's IP protocol number (`IPPROTO_SCTP`); socket2 has no name for it.
pub(crate) const IPPROTO_SCTP: i32 = 132;

/// Linux errno values (asm-generic: x86_64 and aarch64 alike) that stable
/// `std::io::ErrorKind` does not name. First the three ways `socket(2)` says a
/// protocol is not available.
pub(crate) const EPROTONOSUPPORT: i32 = 93;
pub(crate) const ESOCKTNOSUPPORT: i32 = 94;
pub(crate) const EAFNOSUPPORT: i32 = 97;
/// A non-blocking `connect(2)` that has started and will finish later.
pub(crate) const EINPROGRESS: i32 = 115;
