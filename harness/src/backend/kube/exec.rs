//! Probing a matrix on a cluster: execs of the agent in each source pod,
//! its targets as `--target TO=HOST:PROTO/PORT` arguments, one JSON line per
//! target back (probe-image/README.md).
//!
//! Arguments, not stdin: with `v4.channel.k8s.io` (servers before 1.30 with
//! the translation off, some proxies) there is no stdin close signal, so
//! kube-rs closes the whole WebSocket when stdin ends (kube-client 5.0.0,
//! src/api/remote_command.rs:381-395) and every result would be lost. An
//! exec without stdin works the same on v4 and v5.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::AttachParams;
use netpol_probe::Target;
use tokio::io::AsyncReadExt;

use super::objects::{AGENT, CONTAINER};
use crate::model::{PodId, Probe};
pub use crate::probe::{Divergence, Paths};
use crate::probe::{Matrix, Observed, ObservedTable, agent_target, parse_agent_line};

/// Which address a probe dials (`--probe-via`, cli/cluster.rs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProbeVia {
    /// The destination pod's IP.
    #[default]
    Pod,
    /// The destination pod's Service ClusterIP.
    Service,
    /// Both, each kept as its own matrix (`Paths`).
    Both,
}

impl ProbeVia {
    pub fn pod(self) -> bool {
        self != ProbeVia::Service
    }

    pub fn service(self) -> bool {
        self != ProbeVia::Pod
    }
}

/// Where each pod can be reached.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub pod_ips: BTreeMap<PodId, IpAddr>,
    pub service_ips: BTreeMap<PodId, IpAddr>,
}

/// The suffix that tells a Service target from a pod target in `to`.
const VIA_SERVICE: &str = " via service";

/// The most argument bytes one exec carries. The command travels in the
/// exec URL's query (`command=` per argument), and proxies in front of API
/// servers commonly refuse request lines over 8 KiB (nginx's default
/// `large_client_header_buffers 4 8k`); more targets take more execs, all
/// at once, so a matrix still takes about one probe timeout.
pub const EXEC_ARGUMENT_BYTES: usize = 4096;

/// The targets one agent probes: every pod, on every probe, by each path.
pub fn targets(
    pods: &[PodId],
    endpoints: &Endpoints,
    probes: &[Probe],
    via: ProbeVia,
) -> Vec<Target> {
    let mut out = Vec::new();
    for pod in pods {
        for probe in probes {
            let mut add = |host: Option<&IpAddr>, to: String| {
                if let Some(host) = host {
                    out.push(agent_target(to, *host, *probe));
                }
            };
            if via.pod() {
                add(endpoints.pod_ips.get(pod), pod.to_string());
            }
            if via.service() {
                add(
                    endpoints.service_ips.get(pod),
                    format!("{pod}{VIA_SERVICE}"),
                );
            }
        }
    }
    out
}

/// A target in the agent's `--target` syntax, which `Target::from_str`
/// reads back (tested): `x/b=10.244.1.3:tcp/80`, `x/b=[fd00::3]:udp/81`.
pub fn target_arg(target: &Target) -> String {
    let host = match target.host {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    format!("{}={host}:{}/{}", target.to, target.protocol, target.port)
}

/// The agent's arguments, split so that no exec carries more than `limit`
/// bytes of targets: `probe --timeout-ms MS --source-port P --target … --target …`.
pub fn argument_batches(
    targets: &[Target],
    round: crate::probe::Round,
    limit: usize,
) -> Vec<Vec<String>> {
    let head = || {
        let mut head = vec!["probe".to_owned()];
        head.extend(round.args());
        head
    };
    let mut batches = Vec::new();
    let mut batch = head();
    let mut bytes = 0;
    for target in targets {
        let arg = target_arg(target);
        if bytes > 0 && bytes + arg.len() > limit {
            batches.push(std::mem::replace(&mut batch, head()));
            bytes = 0;
        }
        bytes += arg.len() + "--target".len();
        batch.push("--target".to_owned());
        batch.push(arg);
    }
    if bytes > 0 {
        batches.push(batch);
    }
    batches
}

/// Builds each path's matrix from each source's outputs (or why it has none).
pub fn paths(
    pods: &[PodId],
    probes: &[Probe],
    via: ProbeVia,
    outputs: &[(usize, Result<String, String>)],
) -> Paths {
    let blank = || ObservedTable::filled(pods.to_vec(), Observed::Error("not probed".into()));
    let mut by_pod: Matrix = probes.iter().map(|p| (*p, blank())).collect();
    let mut by_service: Matrix = probes.iter().map(|p| (*p, blank())).collect();
    // Results first, then failures: a source's failed batch leaves its
    // cells `not probed`, and only those are marked with why.
    for (from, output) in outputs {
        let Ok(stdout) = output else { continue };
        for line in stdout.lines().filter_map(parse_agent_line) {
            let (name, table) = match line.to.strip_suffix(VIA_SERVICE) {
                Some(name) => (name, &mut by_service),
                None => (line.to.as_str(), &mut by_pod),
            };
            let Some(to) = pods.iter().position(|p| p.to_string() == name) else {
                continue;
            };
            if let Some(table) = table.get_mut(&line.probe) {
                table.set(*from, to, line.observed);
            }
        }
    }
    for (from, output) in outputs {
        let Err(reason) = output else { continue };
        for table in by_pod.values_mut().chain(by_service.values_mut()) {
            for to in 0..pods.len() {
                if matches!(table.get(*from, to), Observed::Error(e) if e == "not probed") {
                    table.set(
                        *from,
                        to,
                        Observed::Error(format!("probe agent failed: {reason}")),
                    );
                }
            }
        }
    }
    Paths {
        pod: via.pod().then_some(by_pod),
        service: via.service().then_some(by_service),
    }
}

/// Runs the agent in `pod` with `args`, returning its stdout, or why not
/// (the exec failed, or the agent exited non-zero). No stdin is attached.
pub async fn exec_agent(
    pods: &Api<Pod>,
    pod: &str,
    args: &[String],
    limit: Duration,
) -> Result<String, String> {
    let command: Vec<String> = std::iter::once(AGENT.to_owned())
        .chain(args.iter().cloned())
        .collect();
    let params = AttachParams::default()
        .container(CONTAINER)
        .stdin(false)
        .stdout(true)
        .stderr(true);
    let run = async {
        let mut process = pods
            .exec(pod, command, &params)
            .await
            .map_err(|e| format!("exec failed: {}", crate::error::chain(&e)))?;
        let mut output = process.stdout().ok_or("exec has no stdout")?;
        let mut errors = process.stderr().ok_or("exec has no stderr")?;
        let status = process.take_status().ok_or("exec has no status")?;
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
