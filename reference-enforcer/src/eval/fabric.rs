//! Pods routed through their nodes, and connections between them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use super::{Nftables, Packet, Trace, Verdict};

/// The client's source port of every simulated connection; replies go there.
pub const CLIENT_PORT: u16 = 40_000;

/// Nodes that route their pods' traffic (a pod's `eth0` is a /32 with the
/// node as gateway, as with kind's ptp CNI and the netns backend): a packet
/// between two pods crosses the source pod's node, then, on another node,
/// the destination pod's node.
#[derive(Clone, Debug, Default)]
pub struct Fabric {
    pub nodes: BTreeMap<String, Nftables>,
}

/// A pod as the fabric sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub node: String,
}

/// A simulated connection: the first packet on its way, then the reply.
#[derive(Clone, Debug)]
pub struct Connection {
    /// `(node, trace)` per node crossed by the first packet.
    pub request: Vec<(String, Trace)>,
    /// The same for the reply; empty when the first packet was dropped.
    pub reply: Vec<(String, Trace)>,
}

impl Connection {
    /// Both the first packet and its reply arrive.
    pub fn connected(&self) -> bool {
        let passed = |hops: &[(String, Trace)]| {
            !hops.is_empty() && hops.iter().all(|(_, t)| t.verdict == Verdict::Accept)
        };
        passed(&self.request) && passed(&self.reply)
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (what, hops) in [("request", &self.request), ("reply", &self.reply)] {
            for (node, trace) in hops {
                writeln!(f, "{what} at {node}: {trace}")?;
            }
        }
        Ok(())
    }
}

impl Fabric {
    /// The nodes a packet from `client` to `server` crosses, in order.
    fn path<'a>(
        &'a self,
        client: &'a Endpoint,
        server: &'a Endpoint,
    ) -> Result<Vec<(&'a str, &'a Nftables)>, String> {
        let mut names = vec![client.node.as_str()];
        if server.node != client.node {
            names.push(&server.node);
        }
        names
            .into_iter()
            .map(|name| match self.nodes.get(name) {
                Some(nftables) => Ok((name, nftables)),
                None => Err(format!("no ruleset for node `{name}`")),
            })
            .collect()
    }

    /// A new connection from `client` to `server` on `protocol`/`port`,
    /// with the rules every packet met. Fails when an endpoint's node has
    /// no ruleset here.
    pub fn connect(
        &self,
        client: &Endpoint,
        server: &Endpoint,
        protocol: u8,
        port: u16,
    ) -> Result<Connection, String> {
        let path = self.path(client, server)?;
        let first = Packet::new_connection(client.ip, server.ip, protocol, port);
        let mut request = Vec::new();
        for (name, nftables) in &path {
            let trace = nftables.routed(&first);
            let dropped = trace.verdict == Verdict::Drop;
            request.push(((*name).to_owned(), trace));
            if dropped {
                return Ok(Connection {
                    request,
                    reply: Vec::new(),
                });
            }
        }
        let answer = first.reply(CLIENT_PORT);
        let mut reply = Vec::new();
        for (name, nftables) in path.iter().rev() {
            let trace = nftables.routed(&answer);
            let dropped = trace.verdict == Verdict::Drop;
            reply.push(((*name).to_owned(), trace));
            if dropped {
                break;
            }
        }
        Ok(Connection { request, reply })
    }

    /// Whether `connect` would connect, without the traces: the fast path.
    pub fn connects(
        &self,
        client: &Endpoint,
        server: &Endpoint,
        protocol: u8,
        port: u16,
    ) -> Result<bool, String> {
        let path = self.path(client, server)?;
        let first = Packet::new_connection(client.ip, server.ip, protocol, port);
        let answer = first.reply(CLIENT_PORT);
        Ok(path
            .iter()
            .all(|(_, n)| n.routed_verdict(&first) == Verdict::Accept)
            && path
                .iter()
                .rev()
                .all(|(_, n)| n.routed_verdict(&answer) == Verdict::Accept))
    }
}
