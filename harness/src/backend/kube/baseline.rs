//! The world without policy, seen before anything is judged: after setup
//! and after every reset the cluster backends probe until every cell
//! connects on every probed path. Otherwise a first case that expects
//! everything blocked passes on a datapath that is not up yet, and a case
//! sees the previous case's rules while the CNI is still removing them;
//! time to enforce then starts from a known world.

use std::future::Future;
use std::time::{Duration, Instant};

use super::driver::DriverError;
use crate::model::Probe;
use crate::probe::{Matrix, Observed, Paths};

/// How many cells that did not connect the error names (it counts them all).
const CELLS_NAMED: usize = 5;

/// What probes the world, round after round (a `KubeWorld`, or a test's script).
pub trait Rounds {
    fn round(
        &mut self,
        probes: &[Probe],
    ) -> impl Future<Output = Result<Paths, DriverError>> + Send;
}

/// The baseline, once seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Baseline {
    /// Probing rounds until every cell connected (1 when the first did).
    pub rounds: u32,
    pub took: Duration,
}

/// Every cell (but a pod to itself) of `paths` that did not connect, as
/// sentences naming the path and the raw result.
pub fn not_connected(paths: &Paths) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |name: &str, matrix: &Matrix| {
        for (probe, table) in matrix {
            let pods = table.pods();
            for from in 0..pods.len() {
                for to in (0..pods.len()).filter(|&to| to != from) {
                    let seen = table.get(from, to);
                    if *seen != Observed::Connected {
                        out.push(format!(
                            "{} → {} {probe} by {name}: {}",
                            pods[from],
                            pods[to],
                            seen.detail()
                        ));
                    }
                }
            }
        }
    };
    if let Some(pod) = &paths.pod {
        add("pod IP", pod);
    }
    if let Some(service) = &paths.service {
        add("Service", service);
    }
    out
}

/// Probes `probes` every `poll` until one round sees every cell connected
/// on every path, or fails once `within` has passed, naming what did not
/// connect in the last round.
pub async fn await_all_connected<R: Rounds>(
    world: &mut R,
    probes: &[Probe],
    within: Duration,
    poll: Duration,
) -> Result<Baseline, DriverError> {
    let started = Instant::now();
    let mut rounds = 0;
    loop {
        rounds += 1;
        let paths = world.round(probes).await?;
        let missing = not_connected(&paths);
        if missing.is_empty() {
            return Ok(Baseline {
                rounds,
                took: started.elapsed(),
            });
        }
        if started.elapsed() >= within {
            let named: Vec<&str> = missing
                .iter()
                .take(CELLS_NAMED)
                .map(String::as_str)
                .collect();
            let more = missing.len().saturating_sub(CELLS_NAMED);
            return Err(DriverError::NoBaseline {
                within,
                rounds,
                detail: format!(
                    "{} cells did not connect in the last round: {}{}",
                    missing.len(),
                    named.join("; "),
                    if more > 0 {
                        format!("; and {more} more")
                    } else {
                        String::new()
                    }
                ),
            });
        }
        tokio::time::sleep(poll).await;
    }
}
