//! SCTP one-to-one (`SOCK_STREAM`) sockets through socket2, driven by tokio's
//! `AsyncFd` since tokio has no SCTP types. Where the kernel has no SCTP,
//! creating the socket fails and the protocol is reported `unsupported`.

use std::io::{self, ErrorKind, Read};
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::time::{Instant, timeout_at};

use crate::async_socket::AsyncSocket;
use crate::classify::is_unsupported;
use crate::constants::{
    DRAIN_BUFFER_LEN, EINPROGRESS, IPPROTO_SCTP, LISTEN_BACKLOG, SERVE_ERROR_PAUSE,
};
use crate::probe::Finding;

/// Whether this kernel can make an SCTP socket at all.
pub fn supported() -> bool {
    Socket::new(
        Domain::IPV4,
        Type::STREAM,
        Some(Protocol::from(IPPROTO_SCTP)),
    )
    .is_ok()
}

/// A non-blocking SCTP stream socket for `address`'s family.
fn socket(address: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::from(IPPROTO_SCTP)),
    )?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Probes `address`: `connected` once the association is up (INIT, INIT-ACK,
/// COOKIE-ECHO, COOKIE-ACK), `unsupported` if the socket cannot even be made.
pub(crate) async fn connect(address: SocketAddr, deadline: Instant) -> Finding {
    let socket = match socket(address) {
        Ok(socket) => socket,
        Err(error) if is_unsupported(&error) => return Finding::unsupported(),
        Err(error) => return Finding::failed(&error),
    };
    match timeout_at(deadline, finish_connect(socket, address)).await {
        Ok(Ok(())) => Finding::connected(),
        Ok(Err(error)) => Finding::failed(&error),
        Err(_elapsed) => Finding::timeout(),
    }
}

async fn finish_connect(socket: Socket, address: SocketAddr) -> io::Result<()> {
    match socket.connect(&address.into()) {
        Ok(()) => return Ok(()),
        Err(error) if error.raw_os_error() == Some(EINPROGRESS) => {}
        Err(error) => return Err(error),
    }
    let socket = AsyncSocket::register(socket, Interest::WRITABLE)?;
    loop {
        let mut ready = socket.writable().await?;
        // Writable means the connect finished; SO_ERROR says how.
        if let Some(error) = socket.get_ref().take_error()? {
            return Err(error);
        }
        match socket.get_ref().peer_addr() {
            Ok(_) => return Ok(()),
            // A spurious wake-up: the association is still being set up.
            Err(error) if error.kind() == ErrorKind::NotConnected => ready.clear_ready(),
            Err(error) => return Err(error),
        }
    }
}

/// What `bind` found: a listener, or a kernel without SCTP.
pub(crate) enum Bound {
    Listening(Listener),
    Unsupported(io::Error),
}

pub(crate) struct Listener {
    socket: AsyncSocket,
}

/// Binds and listens on `address` (port 0 picks one).
pub(crate) fn bind(address: SocketAddr) -> io::Result<Bound> {
    let socket = match socket(address) {
        Ok(socket) => socket,
        Err(error) if is_unsupported(&error) => return Ok(Bound::Unsupported(error)),
        Err(error) => return Err(error),
    };
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(Bound::Listening(Listener {
        socket: AsyncSocket::register(socket, Interest::READABLE)?,
    }))
}

impl Listener {
    pub(crate) fn local_port(&self) -> io::Result<u16> {
        let address = self.socket.get_ref().local_addr()?;
        address
            .as_socket()
            .map(|a| a.port())
            .ok_or_else(|| io::Error::other("an SCTP socket without an IP address"))
    }

    /// Accepts associations forever, each drained until the peer closes it.
    pub(crate) async fn serve(self) {
        loop {
            match self.accept().await {
                Ok(peer) => {
                    tokio::spawn(drain(peer));
                }
                Err(error) => {
                    eprintln!("netpol-probe: sctp accept failed: {error}");
                    tokio::time::sleep(SERVE_ERROR_PAUSE).await;
                }
            }
        }
    }

    async fn accept(&self) -> io::Result<Socket> {
        loop {
            let mut ready = self.socket.readable().await?;
            if let Ok(accepted) = ready.try_io(|listener| listener.get_ref().accept()) {
                let (peer, _) = accepted?;
                peer.set_nonblocking(true)?;
                return Ok(peer);
            }
        }
    }
}

/// Reads and discards until EOF, so the peer's data never makes the close an ABORT.
async fn drain(peer: Socket) {
    let Ok(peer) = AsyncSocket::register(peer, Interest::READABLE) else {
        return;
    };
    let mut buffer = [0; DRAIN_BUFFER_LEN];
    loop {
        let Ok(mut ready) = peer.readable().await else {
            return;
        };
        let read = ready.try_io(|socket| {
            let mut socket: &Socket = socket.get_ref();
            socket.read(&mut buffer)
        });
        // EOF or a failed read ends the association; `Err(_)` outside means "not
        // readable after all", and the loop waits again.
        if let Ok(Ok(0) | Err(_)) = read {
            return;
        }
    }
}
