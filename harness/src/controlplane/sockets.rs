//! TCP sockets of another network namespace, for a process that stays in its
//! own. This is the only code of the harness that enters a namespace.
//!
//! `setns(CLONE_NEWNET)` moves the calling thread only, and on a tokio runtime
//! a task that called it may resume on a worker outside the namespace. But a
//! socket belongs for its whole life to the namespace it was created in, from
//! whichever thread it is then used. So one dedicated OS thread enters the
//! namespace once, creates sockets on request and hands them back; connecting,
//! reading and writing happen on the runtime as with any socket. The thread
//! never runs anything else and ends when the last handle is dropped.
//!
//! No `unsafe` is needed (the crate forbids it): rustix's
//! `move_into_link_name_space` is the safe `setns` wrapper (the fd is a
//! borrowed, open `/run/netns/NAME`).

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;

/// Where `ip netns add NAME` keeps the namespace.
pub fn netns_path(name: &str) -> PathBuf {
    Path::new("/run/netns").join(name)
}

type Request = (bool, oneshot::Sender<io::Result<TcpSocket>>);

/// A handle to the socket thread of one namespace; clones share the thread.
#[derive(Clone, Debug)]
pub struct NetnsSockets {
    netns: String,
    requests: mpsc::Sender<Request>,
}

impl NetnsSockets {
    /// Starts the thread that lives in the network namespace `name`
    /// (`/run/netns/NAME`); fails if it cannot enter it.
    pub fn enter(name: &str) -> io::Result<NetnsSockets> {
        let path = netns_path(name);
        let file = std::fs::File::open(&path).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display()))
        })?;
        let (requests, receiver) = mpsc::channel::<Request>();
        let (entered, entered_receiver) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("netns {name}"))
            .spawn(move || {
                let result =
                    move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network));
                drop(file);
                let ok = result.is_ok();
                let _ = entered.send(result);
                if !ok {
                    return;
                }
                // Each request is one socket() call: microseconds, in this namespace.
                while let Ok((v6, reply)) = receiver.recv() {
                    let socket = if v6 {
                        TcpSocket::new_v6()
                    } else {
                        TcpSocket::new_v4()
                    };
                    let _ = reply.send(socket);
                }
            })?;
        match entered_receiver.recv() {
            Ok(Ok(())) => Ok(NetnsSockets {
                netns: name.to_owned(),
                requests,
            }),
            Ok(Err(e)) => Err(io::Error::new(
                io::Error::from(e).kind(),
                format!("cannot enter network namespace {name}: {e}"),
            )),
            Err(_) => Err(io::Error::other(format!(
                "the thread for network namespace {name} ended before it entered it"
            ))),
        }
    }

    /// The namespace's name.
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// A fresh unconnected TCP socket of the namespace.
    pub async fn socket(&self, v6: bool) -> io::Result<TcpSocket> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send((v6, reply))
            .map_err(|_| io::Error::other(format!("the socket thread of {} ended", self.netns)))?;
        answer
            .await
            .map_err(|_| io::Error::other(format!("the socket thread of {} ended", self.netns)))?
    }

    /// Connects to `address` from inside the namespace.
    pub async fn connect(&self, address: SocketAddr) -> io::Result<TcpStream> {
        let socket = self.socket(address.is_ipv6()).await?;
        let stream = socket.connect(address).await.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("connect to {address} in {}: {e}", self.netns),
            )
        })?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}
