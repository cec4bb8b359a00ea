//! The reference enforcer judged without the kernel: a snapshot compiled
//! for every node, rendered, loaded into the in-memory nftables of
//! `netpol_enforcer::eval`, and each pod pair connected through the nodes;
//! the matrix that gives must be the oracle's, cell by cell (the diagonal
//! aside, as verdicts judge). Shared by `tests/enforcer_eval.rs` and, by
//! path, by the fuzz crate (`fuzz/src/lib.rs`) and the replay of its corpus.

use netpol_enforcer::eval::{Endpoint, Fabric, Nftables};
use netpol_enforcer::{Snapshot, compile, render};
use netpol_harness::model::{Probe, Protocol, World};
use netpol_harness::oracle::Oracle;
use netpol_harness::truth::Reach;

/// The IP protocol number of a probe's protocol.
pub fn protocol_number(protocol: Protocol) -> u8 {
    match protocol {
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
        Protocol::Sctp => 132,
    }
}

/// Every node's ruleset for `snapshot`, as its enforcer would load it.
pub fn fabric<'a>(
    snapshot: &Snapshot,
    nodes: impl IntoIterator<Item = &'a str>,
) -> Result<Fabric, String> {
    let mut fabric = Fabric::default();
    for node in nodes {
        let text = render(&compile(snapshot, node));
        let loaded = Nftables::load(&text)
            .map_err(|e| format!("nft would refuse node {node}'s ruleset: {e}\n{text}"))?;
        fabric.nodes.insert(node.to_owned(), loaded);
    }
    Ok(fabric)
}

/// What one comparison covered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub cells: u64,
    pub allowed: u64,
    pub denied: u64,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.cells += other.cells;
        self.allowed += other.allowed;
        self.denied += other.denied;
    }
}

/// Compares, for each probe, the matrix `fabric` lets through between the
/// pods of `world` (placed at `endpoints`, in model order) with the
/// oracle's table. `Err` holds one message per probe that disagrees: both
/// tables as case files write them, and the traces of the first differing
/// cell.
pub fn compare(
    world: &World,
    endpoints: &[Endpoint],
    fabric: &Fabric,
    probes: &[Probe],
) -> Result<Tally, Vec<String>> {
    let oracle =
        Oracle::new(world).map_err(|e| vec![format!("the oracle refuses the world: {e}")])?;
    let pods = world.model.pod_ids();
    assert_eq!(pods.len(), endpoints.len(), "one endpoint per pod");
    let mut tally = Tally::default();
    let mut problems = Vec::new();
    for &probe in probes {
        let expected = oracle.table(probe);
        let mut evaluated = expected.clone();
        let mut first = None;
        for (from, client) in endpoints.iter().enumerate() {
            for (to, server) in endpoints.iter().enumerate().filter(|(to, _)| *to != from) {
                let protocol = protocol_number(probe.protocol);
                let connected = fabric
                    .connects(client, server, protocol, probe.port)
                    .map_err(|e| vec![e])?;
                let reach = Reach::from_allowed(connected);
                evaluated.set(from, to, reach);
                tally.cells += 1;
                match reach {
                    Reach::Allowed => tally.allowed += 1,
                    Reach::Denied => tally.denied += 1,
                }
                if reach != expected.get(from, to) && first.is_none() {
                    let connection = fabric
                        .connect(client, server, protocol, probe.port)
                        .map_err(|e| vec![e])?;
                    first = Some(format!(
                        "{} → {} ({} → {}): the oracle says {}, the ruleset {}:\n{connection}",
                        pods[from],
                        pods[to],
                        client.ip,
                        server.ip,
                        expected.get(from, to).word(),
                        reach.word()
                    ));
                }
            }
        }
        if let Some(first) = first {
            problems.push(format!(
                "{probe}: expected (oracle):\n{}evaluated (enforcer's ruleset):\n{}first difference: {first}",
                expected.render(),
                evaluated.render()
            ));
        }
    }
    if problems.is_empty() {
        Ok(tally)
    } else {
        Err(problems)
    }
}
