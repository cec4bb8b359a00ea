//! One probing round: one agent exec per source pod, all sources at once, each
//! agent probing every destination on every probe concurrently.

use std::path::Path;

use std::net::IpAddr;

use futures::future::join_all;

use super::preflight::Tools;
use super::topology::{PodPlan, Topology};
use crate::command;
use crate::model::{Family, Probe};
use crate::probe::{
    Matrix, Observed, ObservedTable, Round, agent_input, agent_target, parse_agent_line,
};
use crate::timeouts::Timeouts;

/// The address `probe` dials `pod` at: the pod's address of the probe's family.
fn address(pod: &PodPlan, probe: Probe) -> IpAddr {
    match probe.family {
        Family::V4 => IpAddr::V4(pod.ip),
        Family::V6 => IpAddr::V6(pod.ip6),
    }
}

/// Probes every pod to every pod.
pub async fn probe_matrix(
    tools: &Tools,
    topology: &Topology,
    probe_bin: &Path,
    probes: &[Probe],
    round: Round,
) -> Matrix {
    let pods: Vec<_> = topology.pods.iter().map(|p| p.id.clone()).collect();
    let mut matrix: Matrix = probes
        .iter()
        .map(|p| {
            (
                *p,
                ObservedTable::filled(pods.clone(), Observed::Error("not probed".into())),
            )
        })
        .collect();
    let targets: Vec<netpol_probe::Target> = topology
        .pods
        .iter()
        .flat_map(|pod| {
            probes
                .iter()
                .map(move |probe| agent_target(pod.id.to_string(), address(pod, *probe), *probe))
        })
        .collect();
    let input = agent_input(&targets);
    let ip = tools.ip.to_string_lossy().into_owned();
    // One future per source, joined in this task (not spawned): when a
    // signal stops the run, dropping this future kills every agent process
    // of the round at once (see `command::run`).
    let rounds = topology.pods.iter().enumerate().map(|(from, pod)| {
        let args: Vec<String> = [
            "netns".to_owned(),
            "exec".to_owned(),
            pod.netns.clone(),
            probe_bin.display().to_string(),
            "probe".to_owned(),
        ]
        .into_iter()
        .chain(round.args())
        .collect();
        let (ip, input) = (&ip, &input);
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            (
                from,
                command::run(ip, &args, Some(input), Timeouts::NETNS_COMMAND).await,
            )
        }
    });
    for (from, result) in join_all(rounds).await {
        match result {
            Ok(output) => {
                for line in output.stdout.lines().filter_map(parse_agent_line) {
                    let Some(to) = pods.iter().position(|p| p.to_string() == line.to) else {
                        continue;
                    };
                    if let Some(table) = matrix.get_mut(&line.probe) {
                        table.set(from, to, line.observed);
                    }
                }
            }
            Err(error) => {
                for table in matrix.values_mut() {
                    for to in 0..pods.len() {
                        table.set(
                            from,
                            to,
                            Observed::Error(format!("probe agent failed: {error}")),
                        );
                    }
                }
            }
        }
    }
    matrix
}

/// Every cell into pod `to` becomes an error: its server is gone.
pub fn mark_destination_failed(matrix: &mut Matrix, to: usize, reason: &str) {
    for table in matrix.values_mut() {
        for from in 0..table.pods().len() {
            table.set(from, to, Observed::Error(reason.to_owned()));
        }
    }
}

/// One agent process per cell, at most `workers` at a time.
pub async fn probe_per_cell(
    tools: &Tools,
    topology: &Topology,
    probe_bin: &Path,
    probes: &[Probe],
    round: Round,
    workers: usize,
) -> Matrix {
    let pods: Vec<_> = topology.pods.iter().map(|p| p.id.clone()).collect();
    let mut matrix: Matrix = probes
        .iter()
        .map(|p| {
            (
                *p,
                ObservedTable::filled(pods.clone(), Observed::Error("not probed".into())),
            )
        })
        .collect();
    let limit = tokio::sync::Semaphore::new(workers.max(1));
    let ip = tools.ip.to_string_lossy().into_owned();
    let mut cells = Vec::new();
    for (from, source) in topology.pods.iter().enumerate() {
        for (to, destination) in topology.pods.iter().enumerate() {
            for probe in probes {
                // The agent reads `host:proto/port`; an IPv6 host is bracketed.
                let host = match address(destination, *probe) {
                    IpAddr::V4(ip) => ip.to_string(),
                    IpAddr::V6(ip) => format!("[{ip}]"),
                };
                let target = format!(
                    "{}={host}:{}/{}",
                    destination.id,
                    probe.protocol.name(),
                    probe.port
                );
                // Every cell of a source shares the round's port: each is
                // its own 5-tuple, and the agent binds it shared.
                let args: Vec<String> = [
                    "netns".to_owned(),
                    "exec".to_owned(),
                    source.netns.clone(),
                    probe_bin.display().to_string(),
                    "probe".to_owned(),
                ]
                .into_iter()
                .chain(round.args())
                .chain(["--target".to_owned(), target])
                .collect();
                let (ip, limit, probe) = (&ip, &limit, *probe);
                cells.push(async move {
                    let _permit = limit.acquire().await;
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    (
                        from,
                        to,
                        probe,
                        command::run(ip, &args, None, Timeouts::NETNS_COMMAND).await,
                    )
                });
            }
        }
    }
    for (from, to, probe, result) in join_all(cells).await {
        let seen = match result {
            Ok(output) => output
                .stdout
                .lines()
                .find_map(parse_agent_line)
                .map(|l| l.observed),
            Err(error) => Some(Observed::Error(error.to_string())),
        };
        if let (Some(table), Some(seen)) = (matrix.get_mut(&probe), seen) {
            table.set(from, to, seen);
        }
    }
    matrix
}
