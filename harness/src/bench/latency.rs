//! `netpol bench enforce-latency`: from a policy write to the first probe
//! that sees it enforced, over many changes.
//!
//! A watcher in x/a probes y/a on tcp/80 every couple of milliseconds; the
//! harness alternately isolates y/a and lifts the isolation. For each change,
//! the latency is the launch time of the first probe after the write from
//! which on every probe shows the new state, minus the time of the write.

use std::process::Stdio;
use std::time::{Duration, SystemTime};

use k8s_openapi::api::networking::v1::NetworkPolicy;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::oracle::ms;
use crate::backend::Backend;
use crate::backend::netns::NetnsBackend;
use crate::model::{Change, Model};
use netpol_probe::{Outcome, Watched};

/// Probe cadence and timeout of the watcher: the timeout bounds how long a
/// blocked probe takes to report, the cadence the resolution.
pub const WATCH_EVERY: Duration = Duration::from_millis(2);
pub const WATCH_TIMEOUT: Duration = Duration::from_millis(50);
/// Time between changes: enough for the new state to show and be confirmed.
pub const SETTLE: Duration = Duration::from_millis(150);

fn unix_micros(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn isolate_y_a() -> Change {
    let json = serde_json::json!({
        "metadata": {"name": "bench-isolate", "namespace": "y"},
        "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Ingress"]}
    });
    Change::Apply(Box::new(
        serde_json::from_value::<NetworkPolicy>(json).expect("a valid policy"),
    ))
}

/// Latencies of `changes` changes, in write order (None: never seen).
pub async fn measure(
    backend: &mut NetnsBackend,
    model: &Model,
    changes: usize,
) -> Result<Vec<Option<Duration>>, String> {
    backend
        .setup(model)
        .await
        .map_err(|e| crate::error::chain(&e))?;
    let topology = backend.topology().cloned().ok_or("no topology")?;
    let target = &topology.pods[3];
    // Generous: each change also waits for the enforcers' acknowledgement. The
    // watcher is stopped once the last change has settled.
    let total = (SETTLE * 2) * (changes as u32 + 2);
    let args = [
        "watch".to_owned(),
        "--target".to_owned(),
        format!("{}={}:tcp/80", target.id, target.ip),
        "--interval-ms".to_owned(),
        WATCH_EVERY.as_millis().to_string(),
        "--timeout-ms".to_owned(),
        WATCH_TIMEOUT.as_millis().to_string(),
        "--duration-ms".to_owned(),
        total.as_millis().to_string(),
    ];
    let (program, args) = backend.agent_command(0, &args).map_err(|e| e.to_string())?;
    let mut watcher = tokio::process::Command::new(program)
        .args(&args)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start the watcher: {e}"))?;
    let stdout = watcher.stdout.take().ok_or("the watcher has no stdout")?;
    let reader = tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(watched) = serde_json::from_str::<Watched>(&line) {
                seen.push(watched);
            }
        }
        seen
    });
    tokio::time::sleep(SETTLE).await;
    let mut writes = Vec::new();
    for i in 0..changes {
        let change = if i % 2 == 0 {
            isolate_y_a()
        } else {
            Change::Delete {
                namespace: "y".into(),
                name: "bench-isolate".into(),
            }
        };
        writes.push((unix_micros(SystemTime::now()), i % 2 == 0));
        backend
            .change(&[change])
            .await
            .map_err(|e| crate::error::chain(&e))?;
        tokio::time::sleep(SETTLE).await;
    }
    let _ = watcher.kill().await;
    let mut seen = reader.await.map_err(|e| e.to_string())?;
    backend
        .teardown()
        .await
        .map_err(|e| crate::error::chain(&e))?;
    seen.sort_by_key(|w| w.launched_unix_micros);
    Ok(latencies(&writes, &seen))
}

/// For each write `(time, blocks)`: the first launch after it from which on,
/// until the next write, every probe shows the new state.
pub fn latencies(writes: &[(u64, bool)], seen: &[Watched]) -> Vec<Option<Duration>> {
    writes
        .iter()
        .enumerate()
        .map(|(i, &(written, blocks))| {
            let until = writes.get(i + 1).map_or(u64::MAX, |w| w.0);
            let window: Vec<&Watched> = seen
                .iter()
                .filter(|w| w.launched_unix_micros >= written && w.launched_unix_micros < until)
                .collect();
            let new_state = |w: &&Watched| (w.result == Outcome::Connected) != blocks;
            let last_old = window.iter().rposition(|w| !new_state(w));
            let first_new = match last_old {
                Some(i) => window.get(i + 1),
                None => window.first(),
            };
            first_new.map(|w| Duration::from_micros(w.launched_unix_micros - written))
        })
        .collect()
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn report(latencies: &[Option<Duration>]) -> String {
    let mut seen: Vec<Duration> = latencies.iter().flatten().copied().collect();
    seen.sort();
    let missed = latencies.len() - seen.len();
    format!(
        "method: a watcher in x/a launches a tcp/80 probe of y/a every {} ms ({} ms timeout); {} changes alternately \
         isolate y/a and lift it, {} ms apart, through the netns backend and the reference enforcer; latency = launch \
         of the first probe from which on every probe shows the new state, minus the time of the write\n\
         changes {}, seen {}, missed {missed}, p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms\n\
         time-to-enforce: p50 {:.0} ms, p99 {:.0} ms",
        WATCH_EVERY.as_millis(),
        WATCH_TIMEOUT.as_millis(),
        latencies.len(),
        SETTLE.as_millis(),
        latencies.len(),
        seen.len(),
        ms(percentile(&seen, 50.0)),
        ms(percentile(&seen, 90.0)),
        ms(percentile(&seen, 99.0)),
        ms(seen.last().copied().unwrap_or_default()),
        ms(percentile(&seen, 50.0)),
        ms(percentile(&seen, 99.0)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(at: u64, connected: bool) -> Watched {
        let result = if connected {
            Outcome::Connected
        } else {
            Outcome::Timeout
        };
        Watched {
            launched_unix_micros: at,
            result,
            micros: 1,
        }
    }

    #[test]
    fn latency_is_the_first_launch_after_which_every_probe_shows_the_new_state() {
        let writes = [(1_000, true), (5_000, false)];
        let seen = [
            w(900, true),
            w(1_100, true),
            w(1_300, false),
            w(1_500, true),
            w(1_700, false),
            w(1_900, false),
            w(5_200, false),
            w(5_400, true),
        ];
        let found = latencies(&writes, &seen);
        assert_eq!(
            found,
            [
                Some(Duration::from_micros(700)),
                Some(Duration::from_micros(400))
            ]
        );
    }

    #[test]
    fn a_change_never_seen_has_no_latency() {
        let found = latencies(&[(1_000, true)], &[w(1_100, true), w(1_200, true)]);
        assert_eq!(found, [None]);
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&sorted, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&sorted[..1], 99.0), Duration::from_millis(1));
    }
}
