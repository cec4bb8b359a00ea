//! `probe`: every target at once, one task each, results printed in input order.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, SystemTime};

use tokio::io::AsyncWrite;
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, MissedTickBehavior, interval, timeout_at};

use crate::classify::outcome_of;
use crate::constants::{
    MIN_RESEND_PERIOD, NONCE_HEX_DIGITS, PAYLOAD_LEN, PAYLOAD_MAGIC, RESEND_FRACTION,
};
use crate::lines::write_line;
use crate::sctp;
use crate::wire::{Observation, Outcome, Protocol, Target};

/// A probe's result before it is stamped with the target and the time taken.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) outcome: Outcome,
    pub(crate) error: Option<String>,
}

impl Finding {
    pub(crate) fn connected() -> Finding {
        Finding::bare(Outcome::Connected)
    }

    pub(crate) fn timeout() -> Finding {
        Finding::bare(Outcome::Timeout)
    }

    pub(crate) fn unsupported() -> Finding {
        Finding::bare(Outcome::Unsupported)
    }

    /// The result `error` means, keeping its text where the line carries one.
    pub(crate) fn failed(error: &io::Error) -> Finding {
        let outcome = outcome_of(error);
        let text = matches!(outcome, Outcome::Refused | Outcome::Error).then(|| error.to_string());
        Finding {
            outcome,
            error: text,
        }
    }

    fn bare(outcome: Outcome) -> Finding {
        Finding {
            outcome,
            error: None,
        }
    }
}

/// Probes every target concurrently and writes one line per target, in input
/// order, each as soon as it and all before it are done. The batch takes about
/// one `timeout`, however many targets there are.
pub(crate) async fn probe_all<W>(
    targets: Vec<Target>,
    timeout: Duration,
    source_port: u16,
    output: &mut W,
) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let tasks: Vec<_> = targets
        .into_iter()
        .map(|target| {
            let echo = (target.to.clone(), target.protocol, target.port);
            (echo, tokio::spawn(probe(target, timeout, source_port)))
        })
        .collect();
    for ((to, protocol, port), task) in tasks {
        // A panicking probe must not lose the line: the harness expects one per target.
        let observation = task.await.unwrap_or_else(|panic| Observation {
            to,
            protocol,
            port,
            result: Outcome::Error,
            micros: 0,
            error: Some(format!("probe task failed: {panic}")),
        });
        write_line(output, &observation).await?;
    }
    Ok(())
}

/// Probes one target; never takes (much) longer than `timeout`. UDP probes
/// leave from `source_port` when it is not 0: the harness gives every round a
/// port of its own, so that no probe's 5-tuple is one conntrack still holds
/// from an earlier, allowed round (see `--source-port`).
pub(crate) async fn probe(target: Target, timeout: Duration, source_port: u16) -> Observation {
    let start = Instant::now();
    let deadline = start + timeout;
    let address = target.address();
    let finding = match target.protocol {
        Protocol::Tcp => tcp(address, deadline).await,
        Protocol::Udp => udp(address, source_port, deadline, resend_period(timeout)).await,
        Protocol::Sctp => sctp::connect(address, deadline).await,
    };
    Observation {
        to: target.to,
        protocol: target.protocol,
        port: target.port,
        result: finding.outcome,
        micros: u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX),
        error: finding.error,
    }
}

async fn tcp(address: SocketAddr, deadline: Instant) -> Finding {
    match timeout_at(deadline, TcpStream::connect(address)).await {
        // Dropping the stream closes it at once: the handshake was the question.
        Ok(Ok(_stream)) => Finding::connected(),
        Ok(Err(error)) => Finding::failed(&error),
        Err(_elapsed) => Finding::timeout(),
    }
}

async fn udp(
    address: SocketAddr,
    source_port: u16,
    deadline: Instant,
    resend: Duration,
) -> Finding {
    match timeout_at(deadline, udp_exchange(address, source_port, resend)).await {
        Ok(Ok(())) => Finding::connected(),
        Ok(Err(error)) => Finding::failed(&error),
        Err(_elapsed) => Finding::timeout(),
    }
}

/// Sends a nonce every `resend`, `RESEND_FRACTION` times in all, until it comes
/// back unchanged. A connected socket only accepts datagrams from `address`, and
/// the kernel reports an ICMP port unreachable for it as `ECONNREFUSED` on the
/// next send or receive.
async fn udp_exchange(address: SocketAddr, source_port: u16, resend: Duration) -> io::Result<()> {
    let socket = udp_socket(SocketAddr::new(unspecified_like(address.ip()), source_port))?;
    socket.connect(address).await?;
    let payload = payload(nonce());
    // One byte more than we send, so a longer answer cannot pass for ours.
    let mut answer = [0; PAYLOAD_LEN + 1];
    let mut ticks = interval(resend);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // Counted, since a last tick at the deadline could only waste a datagram.
    let mut sends_left = RESEND_FRACTION;
    loop {
        tokio::select! {
            _ = ticks.tick(), if sends_left > 0 => {
                sends_left -= 1;
                socket.send(&payload).await?;
            }
            received = socket.recv(&mut answer) => {
                if answer[..received?] == payload {
                    return Ok(());
                }
            }
        }
    }
}

/// A UDP socket bound to `local`. A given port is bound with `SO_REUSEADDR`, so
/// every UDP probe of a batch can leave from it: each socket is then connected
/// to its own destination, and the kernel hands each one the answers (and the
/// ICMP errors) of its own 5-tuple only, since a connected socket's exact match
/// wins the lookup.
fn udp_socket(local: SocketAddr) -> io::Result<UdpSocket> {
    let domain = socket2::Domain::for_address(local);
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    if local.port() != 0 {
        socket.set_reuse_address(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&local.into())?;
    UdpSocket::from_std(socket.into())
}

fn resend_period(timeout: Duration) -> Duration {
    (timeout / RESEND_FRACTION).max(MIN_RESEND_PERIOD)
}

fn unspecified_like(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    }
}

/// 64 random bits without a dependency: std's `RandomState` is seeded from the
/// OS, and mixing in the time and pid separates processes started together.
fn nonce() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    let since_epoch = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
    hasher.write_u128(since_epoch.map_or(0, |d| d.as_nanos()));
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// `netpol-probe <16 hex digits>\n`: readable in a packet capture.
fn payload(nonce: u64) -> [u8; PAYLOAD_LEN] {
    let mut payload = [b'\n'; PAYLOAD_LEN];
    let digits = format!("{nonce:0width$x}", width = NONCE_HEX_DIGITS);
    payload[..PAYLOAD_MAGIC.len()].copy_from_slice(PAYLOAD_MAGIC);
    payload[PAYLOAD_MAGIC.len()..PAYLOAD_LEN - 1].copy_from_slice(digits.as_bytes());
    payload
}

#[cfg(test)]
#[path = "probe_tests.rs"]
mod tests;
