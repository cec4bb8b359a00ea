//! `netpol bench matrix`: the default matrix probed two ways in the same run.

use std::time::{Duration, Instant};

use k8s_openapi::api::networking::v1::NetworkPolicy;

use super::oracle::ms;
use crate::backend::Backend;
use crate::backend::netns::NetnsBackend;
use crate::model::{Change, Model, Probe};
use crate::probe::{Matrix, Observed};
use crate::timeouts::Timeouts;

/// A policy isolating every pod of `namespace` in both directions.
pub fn deny_all(namespace: &str) -> Change {
    let json = serde_json::json!({
        "metadata": {"name": "bench-deny-all", "namespace": namespace},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    });
    Change::Apply(Box::new(
        serde_json::from_value::<NetworkPolicy>(json).expect("a valid policy"),
    ))
}

/// One world's timings.
#[derive(Clone, Debug)]
pub struct WorldFigures {
    pub world: &'static str,
    pub cells: usize,
    pub batched: Duration,
    pub per_probe: Duration,
    /// Off-diagonal cells whose two observations differ (should be none).
    pub disagreements: Vec<String>,
}

fn disagreements(a: &Matrix, b: &Matrix) -> Vec<String> {
    let mut out = Vec::new();
    for (probe, table) in a {
        let other = &b[probe];
        let n = table.pods().len();
        for (f, t) in (0..n).flat_map(|f| (0..n).map(move |t| (f, t))) {
            if f != t && table.get(f, t).reach() != other.get(f, t).reach() {
                let (from, to) = (&table.pods()[f], &table.pods()[t]);
                out.push(format!(
                    "{from} → {to} {probe}: batched {}, per-probe {}",
                    table.get(f, t).detail(),
                    other.get(f, t).detail()
                ));
            }
        }
    }
    out
}

/// Probes `probes` batched, then per cell with `workers`, in an open world and
/// in a world where every pod is isolated both ways.
pub async fn measure(
    backend: &mut NetnsBackend,
    probes: &[Probe],
    workers: usize,
) -> Result<Vec<WorldFigures>, String> {
    let mut figures = Vec::new();
    for world in ["all-allowed", "all-blocked"] {
        if world == "all-blocked" {
            let changes: Vec<Change> = Model::default()
                .namespaces
                .iter()
                .map(|n| deny_all(&n.name))
                .collect();
            backend.change(&changes).await.map_err(|e| e.to_string())?;
        }
        let started = Instant::now();
        let batched = backend.probe(probes).await.map_err(|e| e.to_string())?;
        let batched_time = started.elapsed();
        let started = Instant::now();
        let per_cell = backend
            .probe_per_cell(probes, workers)
            .await
            .map_err(|e| e.to_string())?;
        let per_probe = started.elapsed();
        let expected = if world == "all-allowed" {
            Observed::Connected
        } else {
            Observed::Timeout
        };
        for table in batched.values() {
            let n = table.pods().len();
            let wrong = (0..n)
                .flat_map(|f| (0..n).map(move |t| (f, t)))
                .find(|&(f, t)| f != t && *table.get(f, t) != expected);
            if let Some((f, t)) = wrong {
                let (from, to) = (&table.pods()[f], &table.pods()[t]);
                return Err(format!(
                    "the {world} world is not what it should be: {from} → {to} is not {}",
                    expected.word()
                ));
            }
        }
        let cells = batched
            .values()
            .map(|t| t.pods().len() * t.pods().len())
            .sum();
        figures.push(WorldFigures {
            world,
            cells,
            batched: batched_time,
            per_probe,
            disagreements: disagreements(&batched, &per_cell),
        });
    }
    Ok(figures)
}

pub fn report(figures: &[WorldFigures], workers: usize) -> String {
    let mut out = format!(
        "method: the default world (9 pods on 2 nodes, netns backend, reference enforcer), every pod to every pod; \
         batched = one agent exec per source pod, all sources at once, each probing all its targets concurrently; \
         per-probe = one agent process per cell, {workers} at a time (the exec-per-cell design of other suites); \
         probe timeout {} ms\n",
        Timeouts::NETNS.probe.as_millis()
    );
    for f in figures {
        out.push_str(&format!(
            "{}: {} cells, batched {:.0} ms, per-probe {:.0} ms, ratio {:.1}, cells that differ {}{}\n",
            f.world,
            f.cells,
            ms(f.batched),
            ms(f.per_probe),
            f.per_probe.as_secs_f64() / f.batched.as_secs_f64().max(1e-9),
            f.disagreements.len(),
            f.disagreements.iter().map(|d| format!("\n  {d}")).collect::<String>()
        ));
    }
    let batched: Duration = figures.iter().map(|f| f.batched).sum();
    let per_probe: Duration = figures.iter().map(|f| f.per_probe).sum();
    out.push_str(&format!(
        "matrix: batched {:.0} ms, per-probe {:.0} ms, ratio {:.1}",
        ms(batched),
        ms(per_probe),
        per_probe.as_secs_f64() / batched.as_secs_f64().max(1e-9)
    ));
    out
}
