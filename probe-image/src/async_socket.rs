//! The crate's only unsafe code: handing an owned socket2 socket to tokio's
//! reactor, which tokio (since 1.54) marks unsafe because it cannot check that
//! the descriptor stays the same while registered.

#![allow(unsafe_code)]

use std::io;

use socket2::Socket;
use tokio::io::Interest;
use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};

/// A socket2 socket registered with the runtime. Only shared access is exposed,
/// so the socket can be neither replaced nor closed while registered.
pub(crate) struct AsyncSocket(AsyncFd<Socket>);

impl AsyncSocket {
    /// Registers `socket`, which must be non-blocking, for `interest`.
    pub(crate) fn register(socket: Socket, interest: Interest) -> io::Result<AsyncSocket> {
        // SAFETY: `Socket` owns one open descriptor, returns it from every
        // `as_raw_fd()` and closes it only when dropped; the `AsyncFd` owns the
        // `Socket`, and this type gives out `&Socket` only, so the descriptor
        // stays open and the same until the `AsyncFd` (and its registration) is gone.
        let registered = unsafe { AsyncFd::register_with_interest(socket, interest) };
        Ok(AsyncSocket(registered?))
    }

    pub(crate) fn get_ref(&self) -> &Socket {
        self.0.get_ref()
    }

    pub(crate) async fn readable(&self) -> io::Result<AsyncFdReadyGuard<'_, Socket>> {
        self.0.readable().await
    }

    pub(crate) async fn writable(&self) -> io::Result<AsyncFdReadyGuard<'_, Socket>> {
        self.0.writable().await
    }
}
