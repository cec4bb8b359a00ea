//! Measuring modes for `netpol bench`: `watch` probes one target again and
//! again to see when a policy change takes effect; `flood` counts how many
//! new connections per second pass through the dataplane.

use std::io;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior, interval};

use crate::lines::write_line;
use crate::probe::probe;
use crate::wire::{Outcome, Target};

/// One probe of `watch`: when it was launched (wall clock, comparable with
/// the harness's clock on the same machine) and what it saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watched {
    pub launched_unix_micros: u64,
    pub result: Outcome,
    pub micros: u64,
}

/// The count of one `flood`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flooded {
    pub connections: u64,
    pub failures: u64,
    pub micros: u64,
}

fn unix_micros() -> u64 {
    let since = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
}

/// Launches a probe of `target` every `every` for `duration`, printing a
/// line per probe as it finishes.
pub(crate) async fn watch<W>(
    target: Target,
    every: Duration,
    timeout: Duration,
    duration: Duration,
    output: &mut W,
) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let end = Instant::now() + duration;
    let mut ticks = interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut running = JoinSet::new();
    while Instant::now() < end {
        tokio::select! {
            _ = ticks.tick() => {
                let target = target.clone();
                running.spawn(async move {
                    let launched = unix_micros();
                    let seen = probe(target, timeout, 0).await;
                    Watched { launched_unix_micros: launched, result: seen.result, micros: seen.micros }
                });
            }
            Some(Ok(watched)) = running.join_next() => write_line(output, &watched).await?,
        }
    }
    while let Some(done) = running.join_next().await {
        if let Ok(watched) = done {
            write_line(output, &watched).await?;
        }
    }
    Ok(())
}

/// `workers` loops opening and closing TCP connections to `target` for
/// `duration`; prints the totals. Each connection is closed with a reset
/// (`SO_LINGER` 0): a closing FIN would leave it in TIME_WAIT for a minute,
/// and the many floods of one benchmark (thousands of connections each, from
/// one pod to one port) would run out of source ports. What is measured is
/// the handshake through the dataplane, which a reset does not change.
pub(crate) async fn flood<W>(
    target: Target,
    workers: usize,
    duration: Duration,
    output: &mut W,
) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let started = Instant::now();
    let end = started + duration;
    let address = target.address();
    let mut running = JoinSet::new();
    for _ in 0..workers.max(1) {
        running.spawn(async move {
            let (mut connected, mut failed) = (0u64, 0u64);
            while Instant::now() < end {
                match tokio::time::timeout_at(end, TcpStream::connect(address)).await {
                    Ok(Ok(stream)) => {
                        connected += 1;
                        // Dropped right away: closed by RST, no TIME_WAIT.
                        let _ = stream.set_zero_linger();
                    }
                    Ok(Err(_)) => failed += 1,
                    Err(_) => {}
                }
            }
            (connected, failed)
        });
    }
    let mut totals = Flooded {
        connections: 0,
        failures: 0,
        micros: 0,
    };
    while let Some(done) = running.join_next().await {
        if let Ok((connected, failed)) = done {
            totals.connections += connected;
            totals.failures += failed;
        }
    }
    totals.micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    write_line(output, &totals).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Protocol;

    async fn listener() -> (tokio::net::TcpListener, Target) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = Target {
            to: "x/b".into(),
            host: [127, 0, 0, 1].into(),
            protocol: Protocol::Tcp,
            port,
        };
        (listener, target)
    }

    #[tokio::test]
    async fn watch_prints_one_line_per_launched_probe() {
        let (listener, target) = listener().await;
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                drop(stream);
            }
        });
        let mut output = Vec::new();
        watch(
            target,
            Duration::from_millis(10),
            Duration::from_millis(50),
            Duration::from_millis(105),
            &mut output,
        )
        .await
        .unwrap();
        let lines: Vec<Watched> = String::from_utf8(output)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!((8..=13).contains(&lines.len()), "{} probes", lines.len());
        assert!(lines.iter().all(|w| w.result == Outcome::Connected));
        assert!(
            lines
                .windows(2)
                .all(|w| w[0].launched_unix_micros <= w[1].launched_unix_micros + 20_000)
        );
    }

    #[tokio::test]
    async fn flood_counts_the_connections_it_made() {
        let (listener, target) = listener().await;
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                drop(stream);
            }
        });
        let mut output = Vec::new();
        flood(target, 4, Duration::from_millis(200), &mut output)
            .await
            .unwrap();
        let totals: Flooded = serde_json::from_slice(&output).unwrap();
        assert!(totals.connections > 50, "{totals:?}");
        assert_eq!(totals.failures, 0);
        assert!(totals.micros >= 200_000);
    }

    /// Sockets in TIME_WAIT (state 06 of /proc/net/tcp) whose remote end is `port`.
    fn time_waits_towards(port: u16) -> usize {
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
        table
            .lines()
            .skip(1)
            .filter(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.get(3) == Some(&"06")
                    && fields
                        .get(2)
                        .is_some_and(|remote| remote.ends_with(&format!(":{port:04X}")))
            })
            .count()
    }

    #[tokio::test]
    async fn flood_closes_by_reset_so_no_connection_is_left_in_time_wait() {
        let (listener, target) = listener().await;
        let port = target.port;
        // The server waits for the client to close first: a FIN from the
        // client would leave the client's side in TIME_WAIT.
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut sink = Vec::new();
                    let _ = tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut sink).await;
                });
            }
        });
        let mut output = Vec::new();
        flood(target, 2, Duration::from_millis(200), &mut output)
            .await
            .unwrap();
        let totals: Flooded = serde_json::from_slice(&output).unwrap();
        assert!(totals.connections > 20, "{totals:?}");
        assert_eq!(time_waits_towards(port), 0, "{totals:?}");
    }

    #[tokio::test]
    async fn flood_counts_refusals_as_failures() {
        let (listener, target) = listener().await;
        drop(listener);
        let mut output = Vec::new();
        flood(target, 1, Duration::from_millis(50), &mut output)
            .await
            .unwrap();
        let totals: Flooded = serde_json::from_slice(&output).unwrap();
        assert_eq!(totals.connections, 0);
        assert!(totals.failures > 0, "{totals:?}");
    }
}
