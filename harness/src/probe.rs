//! What a backend observed: one raw result per cell, per probed port.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::model::{Family, PodId, Probe};
use crate::truth::{Reach, render_grid};

/// A cell whose probe failed, in observed tables and comparison grids.
pub const ERROR_SYMBOL: char = '!';
/// A cell nobody judged: the diagonal, or a protocol the backend cannot carry.
pub const NOT_JUDGED_SYMBOL: char = '?';

/// The raw result of one probe. Every consumer reads it as one of three
/// values (see [`Observed::reach`]): reached (`Connected`), blocked
/// (`Refused`, `Timeout`), or unknown: a probe that failed (`Error`) observed
/// nothing, and is never read as a block; `Unsupported` was never probed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Observed {
    Connected,
    Refused,
    Timeout,
    /// The probe itself failed (the OS error, or why no answer came).
    Error(String),
    /// The backend cannot carry this protocol: never judged.
    Unsupported,
}

impl Observed {
    /// What the cell says about reachability: `None` when nothing was
    /// observed (the probe failed, or the protocol was never probed).
    pub fn reach(&self) -> Option<Reach> {
        match self {
            Observed::Connected => Some(Reach::Allowed),
            Observed::Refused | Observed::Timeout => Some(Reach::Denied),
            Observed::Error(_) | Observed::Unsupported => None,
        }
    }

    /// Why the probe failed, for an `Error`.
    pub fn failure(&self) -> Option<&str> {
        match self {
            Observed::Error(reason) => Some(reason),
            _ => None,
        }
    }

    /// The cell in an observed table: `.` reached, `X` blocked, `!` the probe
    /// failed, `?` not probed. Only `.` and `X` are case-file syntax, so a
    /// table with a failed probe cannot be pasted into a case as a block.
    pub fn symbol(&self) -> char {
        match (self.reach(), self) {
            (Some(reach), _) => reach.symbol(),
            (None, Observed::Error(_)) => ERROR_SYMBOL,
            (None, _) => NOT_JUDGED_SYMBOL,
        }
    }

    pub fn word(&self) -> &str {
        match self {
            Observed::Connected => "connected",
            Observed::Refused => "refused",
            Observed::Timeout => "timeout",
            Observed::Error(_) => "error",
            Observed::Unsupported => "unsupported",
        }
    }

    /// The word with the error's text, for raw result grids.
    pub fn detail(&self) -> String {
        match self {
            Observed::Error(reason) => format!("error: {reason}"),
            other => other.word().to_owned(),
        }
    }
}

/// One probed port's observations: rows are sources, columns destinations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedTable {
    pods: Vec<PodId>,
    cells: Vec<Observed>,
}

impl ObservedTable {
    pub fn filled(pods: Vec<PodId>, value: Observed) -> ObservedTable {
        let cells = vec![value; pods.len() * pods.len()];
        ObservedTable { pods, cells }
    }

    pub fn pods(&self) -> &[PodId] {
        &self.pods
    }

    pub fn get(&self, from: usize, to: usize) -> &Observed {
        &self.cells[from * self.pods.len() + to]
    }

    pub fn set(&mut self, from: usize, to: usize, value: Observed) {
        let width = self.pods.len();
        self.cells[from * width + to] = value;
    }

    /// The table in case-file syntax (`.` connected, `X` refused or timed
    /// out), with `!` where the probe failed and `?` where nothing was probed.
    pub fn render_lines(&self) -> Vec<String> {
        render_grid(&self.pods, |from, to| {
            self.get(from, to).symbol().to_string()
        })
    }

    /// Raw results, row by row, as words.
    pub fn raw_rows(&self) -> Vec<Vec<String>> {
        (0..self.pods.len())
            .map(|from| {
                (0..self.pods.len())
                    .map(|to| self.get(from, to).detail())
                    .collect()
            })
            .collect()
    }

    pub fn is_unsupported(&self) -> bool {
        self.cells.iter().all(|c| *c == Observed::Unsupported)
    }
}

/// Everything one probing round saw.
pub type Matrix = BTreeMap<Probe, ObservedTable>;

/// One cell where the pod-IP and Service paths disagreed.
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

/// What one probing round saw, path by path: the pod-IP matrix and the
/// Service matrix, whichever were probed. Kept apart so the verdict can
/// judge each path against the expectation. A backend that dials one
/// address per pod (the oracle, netns) has only `pod`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    pub pod: Option<Matrix>,
    pub service: Option<Matrix>,
}

impl Paths {
    /// Every cell (but a pod to itself) where both paths were probed and
    /// reached a different verdict.
    pub fn divergences(&self) -> Vec<Divergence> {
        let (Some(by_pod), Some(by_service)) = (&self.pod, &self.service) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (probe, table) in by_pod {
            let Some(service) = by_service.get(probe) else {
                continue;
            };
            let pods = table.pods();
            for from in 0..pods.len() {
                for to in (0..pods.len()).filter(|&to| to != from) {
                    let (p, s) = (table.get(from, to), service.get(from, to));
                    if p.reach() != s.reach() {
                        out.push(Divergence {
                            from: pods[from].clone(),
                            to: pods[to].clone(),
                            probe: *probe,
                            pod: p.clone(),
                            service: s.clone(),
                        });
                    }
                }
            }
        }
        out
    }

    /// One matrix, for a runner that judges one: where both paths were
    /// probed and disagree, the cell is an error naming both results, so it
    /// fails whichever the expectation (one of the two paths contradicts
    /// it) and is shown as what it is, never as the Service result alone.
    pub fn merged(self) -> Matrix {
        let divergences = self.divergences();
        let Some(mut matrix) = self.pod.or(self.service) else {
            return Matrix::new();
        };
        for d in divergences {
            if let Some(table) = matrix.get_mut(&d.probe) {
                let pods = table.pods().to_vec();
                let (Some(from), Some(to)) = (
                    pods.iter().position(|p| *p == d.from),
                    pods.iter().position(|p| *p == d.to),
                ) else {
                    continue;
                };
                table.set(
                    from,
                    to,
                    Observed::Error(format!(
                        "paths differ: pod IP {}, Service {}",
                        d.pod.detail(),
                        d.service.detail()
                    )),
                );
            }
        }
        matrix
    }
}

/// The first and last UDP source port of probing rounds: Linux's default
/// ephemeral range. No pod serves a port there (the model serves
/// [`crate::model::SERVED_PORTS`]), and TCP probes take the kernel's ephemeral TCP ports, a
/// port space of their own.
pub const SOURCE_PORTS: std::ops::RangeInclusive<u16> = 32768..=60999;

/// Gives each probing round the UDP source port its agents send from, a new
/// one each round, in turn through [`SOURCE_PORTS`].
///
/// Why: conntrack takes a datagram whose 5-tuple matches a flow it still holds
/// for that flow's packet (`established`), and engines that accept
/// established traffic (kube-router, Calico) then let it through a policy that
/// now denies it. With kernel-picked ports a round every second reused the
/// tuple of a recent allowed round now and then, and one blocked cell read
/// `connected` (seen on kube-router in CI). Here a tuple comes back only after
/// `SOURCE_PORTS.len()` rounds (28,232; ≥ 280 s at ≤ 100 rounds a second),
/// longer than conntrack keeps any UDP flow (120 s,
/// `nf_conntrack_udp_timeout_stream`). One port serves a whole round: each
/// probe of it goes to its own destination, so each is its own 5-tuple.
#[derive(Debug)]
pub struct SourcePorts {
    next: std::sync::atomic::AtomicU32,
}

impl SourcePorts {
    /// Starts at a random place in the range, so two worlds (or two runs
    /// against one cluster) do not walk the same ports in step.
    pub fn new() -> SourcePorts {
        use std::hash::{BuildHasher, Hasher};
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        SourcePorts::starting_at(random)
    }

    fn starting_at(offset: u64) -> SourcePorts {
        let span = u64::from(Self::span());
        SourcePorts {
            next: std::sync::atomic::AtomicU32::new(u32::try_from(offset % span).unwrap_or(0)),
        }
    }

    fn span() -> u32 {
        u32::from(SOURCE_PORTS.end() - SOURCE_PORTS.start()) + 1
    }

    /// The port of the next round.
    pub fn next_port(&self) -> u16 {
        use std::sync::atomic::Ordering;
        let span = Self::span();
        let step = self
            .next
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some((n + 1) % span)
            })
            .unwrap_or_else(|n| n);
        // `step` < `span`, so the sum is a port of the range.
        SOURCE_PORTS.start() + u16::try_from(step).expect("a step within the range")
    }
}

impl Default for SourcePorts {
    fn default() -> SourcePorts {
        SourcePorts::new()
    }
}

/// What every agent of one probing round is told, by every backend that runs
/// the agent: how long a probe may take, and the UDP port every probe leaves
/// from (one per round: [`SourcePorts`]).
#[derive(Clone, Copy, Debug)]
pub struct Round {
    pub timeout: std::time::Duration,
    pub source_port: u16,
}

impl Round {
    /// The agent's arguments after `probe`.
    pub fn args(self) -> [String; 4] {
        [
            "--timeout-ms".to_owned(),
            self.timeout.as_millis().to_string(),
            "--source-port".to_owned(),
            self.source_port.to_string(),
        ]
    }
}

/// The agent's result for one target, as the harness reads it: one
/// conversion from the agent's own type, shared by every backend.
impl From<netpol_probe::Observation> for Observed {
    fn from(line: netpol_probe::Observation) -> Observed {
        use netpol_probe::Outcome;
        match line.result {
            Outcome::Connected => Observed::Connected,
            Outcome::Refused => Observed::Refused,
            Outcome::Timeout => Observed::Timeout,
            Outcome::Unsupported => Observed::Unsupported,
            Outcome::Error => Observed::Error(
                line.error
                    .unwrap_or_else(|| "the agent gave no reason".into()),
            ),
        }
    }
}

/// One result line of the probe agent (`netpol-probe probe`), as every
/// backend that runs the agent reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentLine {
    /// The target's name as the backend gave it (`x/b`, or with a suffix).
    pub to: String,
    pub probe: Probe,
    pub observed: Observed,
}

/// Reads one line of agent output, decoded strictly as the agent's
/// [`netpol_probe::Observation`]; `None` for anything else (a cell without
/// a line stays an error: it was not observed).
pub fn parse_agent_line(line: &str) -> Option<AgentLine> {
    let observation: netpol_probe::Observation = serde_json::from_str(line).ok()?;
    let probe = Probe::new(observation.protocol.into(), observation.port);
    let (to, probe) = match observation.to.strip_suffix(V6_SUFFIX) {
        Some(to) => (to.to_owned(), probe.in_family(Family::V6)),
        None => (observation.to.clone(), probe),
    };
    Some(AgentLine {
        to,
        probe,
        observed: observation.into(),
    })
}

/// What marks an IPv6 target's `to` (`x/b (v6)`): the agent's answer names
/// no address, so the name carries the family back.
const V6_SUFFIX: &str = " (v6)";

/// What the agent is asked to probe: `to` names the destination in its
/// answer (with the family of an IPv6 probe, read back by [`parse_agent_line`]).
pub fn agent_target(to: String, host: IpAddr, probe: Probe) -> netpol_probe::Target {
    let to = match probe.family {
        Family::V4 => to,
        Family::V6 => format!("{to}{V6_SUFFIX}"),
    };
    netpol_probe::Target {
        to,
        host,
        protocol: probe.protocol.into(),
        port: probe.port,
    }
}

/// The agent's stdin: the targets as one JSON array.
pub fn agent_input(targets: &[netpol_probe::Target]) -> Vec<u8> {
    serde_json::to_vec(targets).expect("targets always encode as JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Protocol;

    #[test]
    fn source_ports_come_back_only_after_the_whole_range_and_stay_in_it() {
        let ports = SourcePorts::starting_at(5);
        let span = usize::from(SOURCE_PORTS.end() - SOURCE_PORTS.start()) + 1;
        let walked: Vec<u16> = (0..span + 1).map(|_| ports.next_port()).collect();
        assert_eq!(walked[0], SOURCE_PORTS.start() + 5);
        assert!(walked.iter().all(|p| SOURCE_PORTS.contains(p)));
        let distinct: std::collections::BTreeSet<u16> = walked[..span].iter().copied().collect();
        assert_eq!(distinct.len(), span, "a port came back within the range");
        assert_eq!(walked[span], walked[0]);
        // The last port of the range is followed by the first.
        let end = SourcePorts::starting_at(u64::try_from(span - 1).unwrap());
        assert_eq!(end.next_port(), *SOURCE_PORTS.end());
        assert_eq!(end.next_port(), *SOURCE_PORTS.start());
    }

    #[test]
    fn no_served_port_is_a_source_port() {
        for port in crate::model::SERVED_PORTS {
            assert!(!SOURCE_PORTS.contains(&port), "{port}");
        }
    }

    #[test]
    fn agent_lines_become_observations_and_anything_else_is_skipped() {
        let line = parse_agent_line(
            r#"{"to":"x/b","protocol":"udp","port":81,"result":"timeout","micros":5}"#,
        )
        .unwrap();
        assert_eq!(line.to, "x/b");
        assert_eq!(line.probe, Probe::new(Protocol::Udp, 81));
        assert_eq!(line.observed, Observed::Timeout);
        let failed = parse_agent_line(
            r#"{"to":"x/b","protocol":"tcp","port":80,"result":"error","micros":2,"error":"oops"}"#,
        )
        .unwrap();
        assert_eq!(failed.observed, Observed::Error("oops".into()));
        assert_eq!(parse_agent_line("netpol-probe: warming up"), None);
        // Strict: a line the agent's type does not describe is not a result.
        assert_eq!(
            parse_agent_line(
                r#"{"to":"x/b","protocol":"tcp","port":80,"result":"connected","micros":1,"extra":0}"#
            ),
            None
        );
    }

    #[test]
    fn targets_are_the_agents_own_type_and_encode_as_it_reads_them() {
        let target = agent_target(
            "y/c".into(),
            "10.244.2.4".parse().unwrap(),
            Probe::new(Protocol::Sctp, 81),
        );
        let text = String::from_utf8(agent_input(&[target])).unwrap();
        assert_eq!(
            text,
            r#"[{"to":"y/c","host":"10.244.2.4","protocol":"sctp","port":81}]"#
        );
    }

    #[test]
    fn an_ipv6_target_carries_its_family_through_the_agents_answer() {
        let probe = Probe::new(Protocol::Tcp, 80).in_family(Family::V6);
        let target = agent_target("x/b".into(), "fd00:10:244:1::b".parse().unwrap(), probe);
        assert_eq!(target.to, "x/b (v6)");
        let line = parse_agent_line(
            r#"{"to":"x/b (v6)","protocol":"tcp","port":80,"result":"connected","micros":5}"#,
        )
        .unwrap();
        assert_eq!((line.to.as_str(), line.probe), ("x/b", probe));
    }
}
