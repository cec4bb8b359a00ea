//! The `oracle` backend: the world in memory, the matrix from the semantics.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{Backend, BackendError, BackendResult, Capabilities, ClusterInfo, CniInfo};
use crate::model::{Addresses, Change, Model, PodIps, Probe, Protocol, World};
use crate::oracle::Oracle;
use crate::probe::{Matrix, Observed, ObservedTable};
use crate::timeouts::Timeouts;
use crate::truth::Reach;

#[derive(Default)]
pub struct OracleBackend {
    initial: Option<World>,
    world: Option<World>,
}

impl OracleBackend {
    pub fn new() -> OracleBackend {
        OracleBackend::default()
    }

    fn world(&mut self) -> BackendResult<&mut World> {
        self.world
            .as_mut()
            .ok_or_else(|| error("used before setup".into()))
    }
}

fn error(message: String) -> BackendError {
    BackendError {
        backend: "oracle",
        message,
        source: None,
    }
}

/// Made-up addresses, one /24 per namespace, so ipBlock cases have IPs to match.
pub fn addresses(model: &Model) -> Addresses {
    let mut addresses = Addresses::default();
    for (i, ns) in model.namespaces.iter().enumerate() {
        let pods = model.pods.iter().filter(|p| p.id.namespace == ns.name);
        for (j, pod) in pods.enumerate() {
            let (i, j) = (i as u8 + 1, j as u8 + 10);
            let v4 = Ipv4Addr::new(10, 244, i, j);
            let v6 = Ipv6Addr::new(0xfd00, 0x10, 0x244, u16::from(i), 0, 0, 0, u16::from(j));
            addresses
                .ips
                .insert(pod.id.clone(), PodIps { v4, v6: Some(v6) });
        }
    }
    addresses
}

impl Backend for OracleBackend {
    fn name(&self) -> &'static str {
        "oracle"
    }

    fn cni(&self) -> CniInfo {
        CniInfo {
            name: "oracle".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            protocols: Protocol::ALL.to_vec(),
            ipv6: true,
            timeouts: Timeouts::ORACLE,
        }
    }

    fn cluster(&self) -> ClusterInfo {
        ClusterInfo::default()
    }

    async fn setup(&mut self, model: &Model) -> BackendResult<Addresses> {
        let addresses = addresses(model);
        let world = World::new(model.clone(), addresses.clone());
        self.initial = Some(world.clone());
        self.world = Some(world);
        Ok(addresses)
    }

    async fn reset(&mut self) -> BackendResult<()> {
        self.world = Some(
            self.initial
                .clone()
                .ok_or_else(|| error("reset before setup".into()))?,
        );
        Ok(())
    }

    async fn change(&mut self, changes: &[Change]) -> BackendResult<()> {
        let world = self.world()?;
        changes
            .iter()
            .try_for_each(|change| world.apply(change))
            .map_err(error)
    }

    async fn probe(&mut self, probes: &[Probe]) -> BackendResult<Matrix> {
        let world = self.world()?;
        let oracle = Oracle::new(world).map_err(|e| error(e.to_string()))?;
        let mut matrix = Matrix::new();
        for &probe in probes {
            let table = oracle.table(probe);
            let mut observed = ObservedTable::filled(table.pods().to_vec(), Observed::Connected);
            let n = table.pods().len();
            for from in 0..n {
                for to in 0..n {
                    // A policy drop looks like a timeout to a real probe.
                    if table.get(from, to) == Reach::Denied {
                        observed.set(from, to, Observed::Timeout);
                    }
                }
            }
            matrix.insert(probe, observed);
        }
        Ok(matrix)
    }

    async fn teardown(&mut self) -> BackendResult<()> {
        self.world = None;
        Ok(())
    }
}
