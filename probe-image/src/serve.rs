//! `serve`: every protocol × port bound before the ready line, then served until
//! SIGTERM or SIGINT.

use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::io::AsyncWrite;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::signal::unix::{SignalKind, signal};

use crate::constants::{MAX_DATAGRAM, SERVE_ERROR_PAUSE};
use crate::error::Error;
use crate::lines::write_line;
use crate::sctp;
use crate::wire::{Endpoint, Protocol, Ready};

/// What to serve: every protocol on every port, on one address.
pub(crate) struct Plan {
    pub(crate) bind: IpAddr,
    pub(crate) protocols: Vec<Protocol>,
    pub(crate) ports: Vec<u16>,
}

enum Server {
    Tcp(TcpListener),
    Udp(UdpSocket),
    Sctp(sctp::Listener),
}

/// Every socket of a plan, bound, and the ready line describing them.
pub(crate) struct Bound {
    servers: Vec<Server>,
    pub(crate) ready: Ready,
    /// Why SCTP is missing, when it is.
    pub(crate) sctp_missing: Option<io::Error>,
}

/// Binds every endpoint of `plan` in order (protocol-major), or fails on the
/// first that cannot be bound. SCTP on a kernel without it is not a failure.
pub(crate) async fn bind_all(plan: &Plan) -> Result<Bound, Error> {
    let mut bound = Bound {
        servers: Vec::new(),
        ready: Ready {
            ready: true,
            serving: Vec::new(),
            unsupported: Vec::new(),
        },
        sctp_missing: None,
    };
    for &protocol in &plan.protocols {
        for &port in &plan.ports {
            let asked = Endpoint { protocol, port };
            let address = SocketAddr::new(plan.bind, port);
            let failed = |source| Error::Bind {
                endpoint: asked,
                address: plan.bind,
                source,
            };
            let (server, port) = match protocol {
                Protocol::Tcp => {
                    let listener = TcpListener::bind(address).await.map_err(failed)?;
                    let port = listener.local_addr().map_err(failed)?.port();
                    (Server::Tcp(listener), port)
                }
                Protocol::Udp => {
                    let socket = UdpSocket::bind(address).await.map_err(failed)?;
                    let port = socket.local_addr().map_err(failed)?.port();
                    (Server::Udp(socket), port)
                }
                Protocol::Sctp => match sctp::bind(address).map_err(failed)? {
                    sctp::Bound::Listening(listener) => {
                        let port = listener.local_port().map_err(failed)?;
                        (Server::Sctp(listener), port)
                    }
                    sctp::Bound::Unsupported(why) => {
                        bound.ready.unsupported.push(asked);
                        bound.sctp_missing = Some(why);
                        continue;
                    }
                },
            };
            bound.servers.push(server);
            bound.ready.serving.push(Endpoint { protocol, port });
        }
    }
    Ok(bound)
}

impl Bound {
    /// Starts serving every socket on the current runtime; they run until it stops.
    pub(crate) fn spawn(self) {
        for server in self.servers {
            match server {
                Server::Tcp(listener) => tokio::spawn(serve_tcp(listener)),
                Server::Udp(socket) => tokio::spawn(serve_udp(socket)),
                Server::Sctp(listener) => tokio::spawn(listener.serve()),
            };
        }
    }
}

/// The whole `serve` command: signal handlers, bind, ready line, serve.
pub(crate) async fn serve<W: AsyncWrite + Unpin>(plan: &Plan, output: &mut W) -> Result<(), Error> {
    // Installed before the ready line: once the harness has seen it, a SIGTERM must
    // mean a clean exit 0, not the default death by signal.
    let mut terminate = signal(SignalKind::terminate()).map_err(Error::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(Error::Signals)?;
    let bound = bind_all(plan).await?;
    if let Some(why) = &bound.sctp_missing {
        eprintln!("netpol-probe: this kernel has no sctp ({why}); serving the rest");
    }
    write_line(output, &bound.ready)
        .await
        .map_err(Error::Write)?;
    bound.spawn();
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    Ok(())
}

async fn serve_tcp(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(drain_tcp(stream));
            }
            Err(error) => {
                eprintln!("netpol-probe: tcp accept failed: {error}");
                tokio::time::sleep(SERVE_ERROR_PAUSE).await;
            }
        }
    }
}

/// Reads and discards until EOF, then closes: closing with unread data would
/// send a RST, which a client could take for a refusal.
async fn drain_tcp(mut stream: TcpStream) {
    let _ = tokio::io::copy(&mut stream, &mut tokio::io::sink()).await;
}

/// Sends every datagram back unchanged to whoever sent it.
async fn serve_udp(socket: UdpSocket) {
    let mut buffer = vec![0; MAX_DATAGRAM];
    loop {
        match socket.recv_from(&mut buffer).await {
            Ok((length, peer)) => {
                // A failed echo (a firewall said no) concerns that peer only: no
                // pause, or every other prober would wait for it.
                if let Err(error) = socket.send_to(&buffer[..length], peer).await {
                    eprintln!("netpol-probe: udp echo to {peer} failed: {error}");
                }
            }
            Err(error) => {
                eprintln!("netpol-probe: udp receive failed: {error}");
                tokio::time::sleep(SERVE_ERROR_PAUSE).await;
            }
        }
    }
}
