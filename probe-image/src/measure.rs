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
/// `duration`; prints the totals.
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
                    Ok(Ok(_stream)) => connected += 1,
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
