//! Probing a matrix on a cluster: one exec of the agent per source pod, its
//! targets as JSON on stdin, one JSON line per target back (probe-image/README.md).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::AttachParams;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::objects::{AGENT, CONTAINER};
use crate::model::{PodId, Probe};
use crate::probe::{Matrix, Observed, ObservedTable, parse_agent_line};

/// Which address a probe dials (`--probe-via`, cli/cluster.rs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProbeVia {
    /// The destination pod's IP.
    #[default]
    Pod,
    /// The destination pod's Service ClusterIP.
    Service,
    /// Both; a cell where they differ takes the Service result and is listed.
    Both,
}

/// Where each pod can be reached.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub pod_ips: BTreeMap<PodId, IpAddr>,
    pub service_ips: BTreeMap<PodId, IpAddr>,
}

/// The suffix that tells a Service target from a pod target in `to`.
const VIA_SERVICE: &str = " via service";

/// The targets one agent probes: every pod, on every probe, by each path.
pub fn targets(
    pods: &[PodId],
    endpoints: &Endpoints,
    probes: &[Probe],
    via: ProbeVia,
) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for pod in pods {
        for probe in probes {
            let mut add = |host: Option<&IpAddr>, to: String| {
                if let Some(host) = host {
                    out.push(serde_json::json!({
                        "to": to,
                        "host": host.to_string(),
                        "protocol": probe.protocol.name(),
                        "port": probe.port,
                    }));
                }
            };
            if via != ProbeVia::Service {
                add(endpoints.pod_ips.get(pod), pod.to_string());
            }
            if via != ProbeVia::Pod {
                add(
                    endpoints.service_ips.get(pod),
                    format!("{pod}{VIA_SERVICE}"),
                );
            }
        }
    }
    out
}

/// One Service result that disagreed with the pod-IP result of the same cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    pub from: PodId,
    pub to: PodId,
    pub probe: Probe,
    pub pod: Observed,
    pub service: Observed,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} → {} {}: pod IP {}, Service {}",
            self.from,
            self.to,
            self.probe,
            self.pod.detail(),
            self.service.detail()
        )
    }
}

/// Builds the matrix from each source's output (or why it has none). With
/// both paths, a cell takes the Service result where the two differ: a
/// correct pod path then fails the cell whichever way the Service path is
/// wrong, and every difference is returned to be reported.
pub fn matrix(
    pods: &[PodId],
    probes: &[Probe],
    via: ProbeVia,
    outputs: &[(usize, Result<String, String>)],
) -> (Matrix, Vec<Divergence>) {
    let blank = || ObservedTable::filled(pods.to_vec(), Observed::Error("not probed".into()));
    let mut by_pod: Matrix = probes.iter().map(|p| (*p, blank())).collect();
    let mut by_service: Matrix = probes.iter().map(|p| (*p, blank())).collect();
    for (from, output) in outputs {
        match output {
            Ok(stdout) => {
                for line in stdout.lines().filter_map(parse_agent_line) {
                    let (name, table) = match line.to.strip_suffix(VIA_SERVICE) {
                        Some(name) => (name, &mut by_service),
                        None => (line.to.as_str(), &mut by_pod),
                    };
                    let Some(to) = pods.iter().position(|p| p.to_string() == name) else {
                        continue;
                    };
                    if let Some(table) = line.probe.and_then(|p| table.get_mut(&p)) {
                        table.set(*from, to, line.observed);
                    }
                }
            }
            Err(reason) => {
                for table in by_pod.values_mut().chain(by_service.values_mut()) {
                    for to in 0..pods.len() {
                        table.set(
                            *from,
                            to,
                            Observed::Error(format!("probe agent failed: {reason}")),
                        );
                    }
                }
            }
        }
    }
    match via {
        ProbeVia::Pod => (by_pod, Vec::new()),
        ProbeVia::Service => (by_service, Vec::new()),
        ProbeVia::Both => {
            let mut divergences = Vec::new();
            for (probe, table) in &mut by_pod {
                let service = &by_service[probe];
                for from in 0..pods.len() {
                    for to in (0..pods.len()).filter(|&to| to != from) {
                        let (p, s) = (table.get(from, to).clone(), service.get(from, to).clone());
                        if p.reach() != s.reach() {
                            divergences.push(Divergence {
                                from: pods[from].clone(),
                                to: pods[to].clone(),
                                probe: *probe,
                                pod: p,
                                service: s.clone(),
                            });
                            table.set(from, to, s);
                        }
                    }
                }
            }
            (by_pod, divergences)
        }
    }
}

/// Runs the agent in `namespace/pod` with `stdin`, returning its stdout, or
/// why not (the exec failed, or the agent exited non-zero).
pub async fn exec_agent(
    pods: &Api<Pod>,
    pod: &str,
    args: &[String],
    stdin: &[u8],
    limit: Duration,
) -> Result<String, String> {
    let command: Vec<String> = std::iter::once(AGENT.to_owned())
        .chain(args.iter().cloned())
        .collect();
    let params = AttachParams::default()
        .container(CONTAINER)
        .stdin(true)
        .stdout(true)
        .stderr(true);
    let run = async {
        let mut process = pods
            .exec(pod, command, &params)
            .await
            .map_err(|e| format!("exec failed: {}", crate::error::chain(&e)))?;
        let mut input = process.stdin().ok_or("exec has no stdin")?;
        let mut output = process.stdout().ok_or("exec has no stdout")?;
        let mut errors = process.stderr().ok_or("exec has no stderr")?;
        let status = process.take_status().ok_or("exec has no status")?;
        input
            .write_all(stdin)
            .await
            .map_err(|e| format!("cannot write the targets: {e}"))?;
        // Shutting the writer down (dropping one half is not enough) sends the
        // stdin close frame of v5.channel.k8s.io: the agent reads to EOF, then probes.
        input
            .shutdown()
            .await
            .map_err(|e| format!("cannot close stdin: {e}"))?;
        drop(input);
        let (mut stdout, mut stderr) = (String::new(), String::new());
        let (read_out, read_err) = tokio::join!(
            output.read_to_string(&mut stdout),
            errors.read_to_string(&mut stderr)
        );
        read_out.map_err(|e| format!("cannot read the agent's output: {e}"))?;
        let _ = read_err;
        let status = status.await;
        process
            .join()
            .await
            .map_err(|e| format!("exec stream failed: {e}"))?;
        match status {
            Some(s) if s.status.as_deref() == Some("Failure") => Err(format!(
                "agent failed: {}{}",
                s.message.unwrap_or_default(),
                if stderr.trim().is_empty() {
                    String::new()
                } else {
                    format!(" ({})", stderr.trim())
                }
            )),
            _ => Ok(stdout),
        }
    };
    tokio::time::timeout(limit, run)
        .await
        .unwrap_or_else(|_| Err(format!("exec did not finish within {limit:?}")))
}
