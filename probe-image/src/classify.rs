//! Which result an OS error means. Kept apart from the sockets so every errno the
//! kernel can hand back is tested without provoking it.

use std::io::{self, ErrorKind};

use crate::constants::{EAFNOSUPPORT, EPROTONOSUPPORT, ESOCKTNOSUPPORT};
use crate::wire::Outcome;

/// The result of a probe that failed with `error` after its socket existed.
pub(crate) fn outcome_of(error: &io::Error) -> Outcome {
    match error.kind() {
        // A RST or ICMP port unreachable; ICMP host/net unreachable and
        // admin-prohibited, which is how a firewall `reject` answers; and a local
        // netfilter drop or reject, which the kernel reports as EPERM/EACCES
        // (both are `PermissionDenied`). Each is an active "no", not a loss.
        ErrorKind::ConnectionRefused
        | ErrorKind::HostUnreachable
        | ErrorKind::NetworkUnreachable
        | ErrorKind::PermissionDenied => Outcome::Refused,
        // The kernel gave up waiting (SYN retries exhausted): the same observation
        // as our own deadline.
        ErrorKind::TimedOut => Outcome::Timeout,
        _ => Outcome::Error,
    }
}

/// Whether `socket(2)` failed because this kernel lacks the protocol (or the
/// address family), which makes the probe `unsupported` rather than failed.
pub(crate) fn is_unsupported(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(EPROTONOSUPPORT | ESOCKTNOSUPPORT | EAFNOSUPPORT)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errno(code: i32) -> io::Error {
        io::Error::from_raw_os_error(code)
    }

    #[test]
    fn active_rejections_of_every_kind_are_refused() {
        // ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EACCES, EPERM.
        for code in [111, 113, 101, 13, 1] {
            assert_eq!(outcome_of(&errno(code)), Outcome::Refused, "errno {code}");
        }
    }

    #[test]
    fn a_kernel_connect_timeout_is_a_timeout() {
        assert_eq!(outcome_of(&errno(110)), Outcome::Timeout);
        assert_eq!(outcome_of(&ErrorKind::TimedOut.into()), Outcome::Timeout);
    }

    #[test]
    fn other_failures_are_errors() {
        // ECONNRESET, EMFILE, EADDRNOTAVAIL, ENETDOWN.
        for code in [104, 24, 99, 100] {
            assert_eq!(outcome_of(&errno(code)), Outcome::Error, "errno {code}");
        }
        assert_eq!(outcome_of(&io::Error::other("no")), Outcome::Error);
    }

    #[test]
    fn only_the_missing_protocol_errnos_are_unsupported() {
        for code in [93, 94, 97] {
            assert!(is_unsupported(&errno(code)), "errno {code}");
        }
        for code in [1, 13, 24, 111] {
            assert!(!is_unsupported(&errno(code)), "errno {code}");
        }
        assert!(!is_unsupported(&ErrorKind::Unsupported.into()));
    }
}
