//! `netpol bench enforce-latency` (and the time-to-enforce half of `bench
//! engines`): from a policy write to the first probe that sees it enforced,
//! over many changes.
//!
//! A watcher in x/a probes y/a on tcp/80 every couple of milliseconds; the
//! harness alternately isolates y/a and lifts the isolation. For each change,
//! the latency is the launch time of the first probe after the write from
//! which on every probe shows the new state, minus the time of the write.
//! The next change is written once the new state has been seen for
//! [`CONFIRM`] (or after `Timeouts::BENCH_CHANGE`, the change missed), so a
//! slow engine is paced by what it does, not by a fixed guess.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::networking::v1::NetworkPolicy;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::oracle::ms;
use crate::backend::Backend;
use crate::backend::netns::NetnsBackend;
use crate::model::{Change, Model};
use crate::timeouts::Timeouts;
use netpol_probe::{Outcome, Watched};

/// Probe cadence and timeout of the watcher: the timeout bounds how long a
/// blocked probe takes to report, the cadence the resolution.
pub const WATCH_EVERY: Duration = Duration::from_millis(2);
pub const WATCH_TIMEOUT: Duration = Duration::from_millis(50);
/// How long the new state must have been seen, with no probe launched since
/// showing the old one, before the next change is written: three probe
/// timeouts, so that a blocked probe still in flight has reported.
pub const CONFIRM: Duration = Duration::from_millis(150);

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

/// One change written: when (wall clock, comparable with the watcher's),
/// whether it blocks, and how long the write took to be answered (through
/// an API server: the server's answer; locally: the enforcers' acknowledgement).
#[derive(Clone, Copy, Debug)]
pub struct Write {
    pub at_unix_micros: u64,
    pub blocks: bool,
    pub answered: Duration,
}

/// What one latency run measured.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    pub writes: Vec<Write>,
    /// Per write, in write order (None: the new state was never seen).
    pub latencies: Vec<Option<Duration>>,
}

impl Measured {
    /// The latencies seen, sorted.
    pub fn seen(&self) -> Vec<Duration> {
        let mut seen: Vec<Duration> = self.latencies.iter().flatten().copied().collect();
        seen.sort();
        seen
    }

    pub fn missed(&self) -> usize {
        self.latencies.len() - self.seen().len()
    }

    /// The writes' answer times, sorted.
    pub fn answers(&self) -> Vec<Duration> {
        let mut answers: Vec<Duration> = self.writes.iter().map(|w| w.answered).collect();
        answers.sort();
        answers
    }
}

/// The watcher process of pod 0 (x/a) probing pod 3 (y/a), and its lines so far.
struct Watcher {
    child: tokio::process::Child,
    lines: Arc<Mutex<Vec<Watched>>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Watcher {
    fn start(backend: &NetnsBackend, duration: Duration) -> Result<Watcher, String> {
        let topology = backend.topology().ok_or("no topology")?;
        let target = &topology.pods[3];
        let args = [
            "watch".to_owned(),
            "--target".to_owned(),
            format!("{}={}:tcp/80", target.id, target.ip),
            "--interval-ms".to_owned(),
            WATCH_EVERY.as_millis().to_string(),
            "--timeout-ms".to_owned(),
            WATCH_TIMEOUT.as_millis().to_string(),
            "--duration-ms".to_owned(),
            duration.as_millis().to_string(),
        ];
        let (program, args) = backend.agent_command(0, &args).map_err(|e| e.to_string())?;
        let mut child = tokio::process::Command::new(program)
            .args(&args)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start the watcher: {e}"))?;
        let stdout = child.stdout.take().ok_or("the watcher has no stdout")?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let reader = tokio::spawn(async move {
            let mut input = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = input.next_line().await {
                if let Ok(watched) = serde_json::from_str::<Watched>(&line) {
                    sink.lock().expect("the watcher's lines").push(watched);
                }
            }
        });
        Ok(Watcher {
            child,
            lines,
            reader,
        })
    }

    /// Waits until the probes launched since `since` show `blocks` (blocked
    /// when true) for [`CONFIRM`] with none of the old state after; false
    /// when `deadline` passes first.
    async fn confirm(&self, since: u64, blocks: bool, deadline: Duration) -> bool {
        let started = Instant::now();
        loop {
            if confirmed(
                &self.lines.lock().expect("the watcher's lines"),
                since,
                blocks,
            ) {
                return true;
            }
            if started.elapsed() > deadline {
                return false;
            }
            tokio::time::sleep(Timeouts::BENCH_POLL).await;
        }
    }

    /// Stops the watcher; every line it printed, by launch time.
    async fn stop(mut self) -> Result<Vec<Watched>, String> {
        let _ = self.child.kill().await;
        self.reader.await.map_err(|e| e.to_string())?;
        let mut seen = std::mem::take(&mut *self.lines.lock().expect("the watcher's lines"));
        seen.sort_by_key(|w| w.launched_unix_micros);
        Ok(seen)
    }
}

/// Whether, among the probes launched at or after `since`, the newest
/// [`CONFIRM`] of launches all show the new state and none of the old one
/// was launched after the first of them.
fn confirmed(lines: &[Watched], since: u64, blocks: bool) -> bool {
    let new_state = |w: &Watched| (w.result == Outcome::Connected) != blocks;
    let window = lines.iter().filter(|w| w.launched_unix_micros >= since);
    let (mut last_old, mut newest) = (None::<u64>, None::<u64>);
    for w in window.clone() {
        newest = newest.max(Some(w.launched_unix_micros));
        if !new_state(w) {
            last_old = last_old.max(Some(w.launched_unix_micros));
        }
    }
    let first_new = window
        .filter(|w| new_state(w) && Some(w.launched_unix_micros) > last_old)
        .map(|w| w.launched_unix_micros)
        .min();
    match (first_new, newest) {
        (Some(first), Some(newest)) => newest - first >= CONFIRM.as_micros() as u64,
        _ => false,
    }
}

/// `changes` changes on a world already set up (left without the bench's
/// policy when `changes` is even), each awaited as the module says.
pub async fn measure_on(backend: &mut NetnsBackend, changes: usize) -> Result<Measured, String> {
    // Long enough for every change to be missed; stopped after the last one.
    let most = Timeouts::BENCH_CHANGE * (changes as u32 + 2);
    let watcher = Watcher::start(backend, most)?;
    // The world starts open: the first change is timed from a confirmed baseline.
    if !watcher.confirm(0, false, Timeouts::BENCH_CHANGE).await {
        let _ = watcher.stop().await;
        return Err(
            "the watcher never saw x/a → y/a tcp/80 connect before the first change".into(),
        );
    }
    let mut writes = Vec::new();
    for i in 0..changes {
        let blocks = i % 2 == 0;
        let change = if blocks {
            isolate_y_a()
        } else {
            Change::Delete {
                namespace: "y".into(),
                name: "bench-isolate".into(),
            }
        };
        let at_unix_micros = unix_micros(SystemTime::now());
        let started = Instant::now();
        if let Err(e) = backend.change(&[change]).await {
            let _ = watcher.stop().await;
            return Err(crate::error::chain(&e));
        }
        writes.push(Write {
            at_unix_micros,
            blocks,
            answered: started.elapsed(),
        });
        watcher
            .confirm(at_unix_micros, blocks, Timeouts::BENCH_CHANGE)
            .await;
    }
    let seen = watcher.stop().await?;
    let pairs: Vec<(u64, bool)> = writes
        .iter()
        .map(|w| (w.at_unix_micros, w.blocks))
        .collect();
    Ok(Measured {
        latencies: latencies(&pairs, &seen),
        writes,
    })
}

/// [`measure_on`] on a world of its own, set up and removed here.
pub async fn measure(
    backend: &mut NetnsBackend,
    model: &Model,
    changes: usize,
) -> Result<Measured, String> {
    backend
        .setup(model)
        .await
        .map_err(|e| crate::error::chain(&e))?;
    let measured = measure_on(backend, changes).await;
    let removed = backend
        .teardown()
        .await
        .map_err(|e| crate::error::chain(&e));
    let measured = measured?;
    removed?;
    Ok(measured)
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

pub fn report(measured: &Measured) -> String {
    let seen = measured.seen();
    let changes = measured.latencies.len();
    format!(
        "method: a watcher in x/a launches a tcp/80 probe of y/a every {} ms ({} ms timeout); {changes} changes \
         alternately isolate y/a and lift it through the netns backend and the reference enforcer, each written once \
         the previous one's new state was seen for {} ms; latency = launch of the first probe from which on every \
         probe shows the new state, minus the time of the write\n\
         changes {changes}, seen {}, missed {}, p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms\n\
         time-to-enforce: p50 {:.0} ms, p99 {:.0} ms",
        WATCH_EVERY.as_millis(),
        WATCH_TIMEOUT.as_millis(),
        CONFIRM.as_millis(),
        seen.len(),
        measured.missed(),
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
    fn a_change_is_confirmed_once_the_new_state_has_lasted_and_no_old_state_came_after() {
        let confirm = CONFIRM.as_micros() as u64;
        // Blocked from 2_000 on, but an old-state probe launched at 2_100.
        let mut lines = vec![w(1_000, true), w(2_000, false), w(2_100, true)];
        lines.push(w(2_200 + confirm - 1, false));
        assert!(
            !confirmed(&lines, 1_500, true),
            "not yet CONFIRM since 2_200"
        );
        lines.push(w(2_200, false));
        lines.push(w(2_200 + confirm, false));
        assert!(confirmed(&lines, 1_500, true));
        assert!(
            !confirmed(&lines, 1_500, false),
            "the other state never lasted"
        );
        assert!(!confirmed(&[], 0, true), "nothing seen confirms nothing");
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&sorted, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&sorted[..1], 99.0), Duration::from_millis(1));
    }
}
