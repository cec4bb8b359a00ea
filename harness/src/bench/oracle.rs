//! `netpol bench oracle`: the oracle's speed on a generated world.

use std::time::{Duration, Instant};

use super::world;
use crate::model::{Probe, Protocol};
use crate::oracle::Oracle;

/// What one oracle benchmark measured.
#[derive(Clone, Debug)]
pub struct OracleFigures {
    pub pods: usize,
    pub policies: usize,
    pub cells: usize,
    pub compile: Duration,
    pub table: Duration,
    pub allowed: usize,
}

/// Builds the world, then times compiling the policies and one full table.
pub fn measure(pods: usize, policies: usize, seed: u64) -> OracleFigures {
    let world = world::world(pods, policies, seed);
    let started = Instant::now();
    let oracle = Oracle::new(&world).expect("generated policies compile");
    let compile = started.elapsed();
    let started = Instant::now();
    let table = oracle.table(Probe::new(Protocol::Tcp, 80));
    let table_time = started.elapsed();
    let n = world.model.pods.len();
    let allowed = (0..n)
        .flat_map(|f| (0..n).map(move |t| (f, t)))
        .filter(|&(f, t)| table.get(f, t) == crate::truth::Reach::Allowed)
        .count();
    OracleFigures {
        pods: n,
        policies,
        cells: n * n,
        compile,
        table: table_time,
        allowed,
    }
}

/// The report: method, figures, then the summary line.
pub fn report(figures: &OracleFigures) -> String {
    let total = figures.compile + figures.table;
    let rate = figures.cells as f64 / total.as_secs_f64().max(1e-9);
    format!(
        "method: a generated world of {} pods in namespaces of 20 and {} policies (pod, namespace, \
         namespace+pod and ipBlock peers; numeric, named and endPort ports); compile the policies, \
         then compute the full tcp/80 matrix\n\
         compile: {:.1} ms, matrix: {:.1} ms, {} of {} cells allowed, {:.0} cells/s\n\
         oracle: {} cells in {} ms",
        figures.pods,
        figures.policies,
        ms(figures.compile),
        ms(figures.table),
        figures.allowed,
        figures.cells,
        rate,
        figures.cells,
        total.as_millis()
    )
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
