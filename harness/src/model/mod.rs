//! The cluster model every case runs against, and the live state of that world.
//!
//! The model is upstream's e2e world: namespaces `x`, `y`, `z`, pods `a`, `b`, `c`
//! in each, every pod serving ports 80 and 81 on TCP, UDP and SCTP.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

pub const NAMESPACES: [&str; 3] = ["x", "y", "z"];
pub const POD_NAMES: [&str; 3] = ["a", "b", "c"];
pub const SERVED_PORTS: [u16; 2] = [80, 81];
/// The label the API server puts on every namespace; it cannot be changed.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

    /// The spelling of the Kubernetes API (`TCP`).
    pub fn api_name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }

    /// The spelling of probes and case files (`tcp`).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }

    pub fn from_api_name(name: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.api_name() == name)
    }
}

/// The agent's protocols are the model's: one conversion each way, so a
/// protocol added on one side fails to compile on the other.
impl From<netpol_probe::Protocol> for Protocol {
    fn from(protocol: netpol_probe::Protocol) -> Protocol {
        match protocol {
            netpol_probe::Protocol::Tcp => Protocol::Tcp,
            netpol_probe::Protocol::Udp => Protocol::Udp,
            netpol_probe::Protocol::Sctp => Protocol::Sctp,
        }
    }
}

impl From<Protocol> for netpol_probe::Protocol {
    fn from(protocol: Protocol) -> netpol_probe::Protocol {
        match protocol {
            Protocol::Tcp => netpol_probe::Protocol::Tcp,
            Protocol::Udp => netpol_probe::Protocol::Udp,
            Protocol::Sctp => netpol_probe::Protocol::Sctp,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An IP address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    /// `ipv4`, `ipv6`: the spelling of `--ip-family`, case files and results.
    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }

    /// `v4`, `v6`: the suffix of a cell's probe label (`tcp/80 (v6)`).
    pub fn short(self) -> &'static str {
        match self {
            Family::V4 => "v4",
            Family::V6 => "v6",
        }
    }

    pub fn of(ip: std::net::IpAddr) -> Family {
        match ip {
            std::net::IpAddr::V4(_) => Family::V4,
            std::net::IpAddr::V6(_) => Family::V6,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One probed `protocol/port` over one address family, written `tcp/80`
/// (IPv4) or `tcp/80 (v6)`. Case files name probes without a family (they
/// are held as IPv4 probes); a run probes each in every family it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Probe {
    pub protocol: Protocol,
    pub port: u16,
    pub family: Family,
}

impl Probe {
    /// An IPv4 probe: the form case files write.
    pub const fn new(protocol: Protocol, port: u16) -> Probe {
        Probe {
            protocol,
            port,
            family: Family::V4,
        }
    }

    /// The same `protocol/port` over `family`.
    pub const fn in_family(self, family: Family) -> Probe {
        Probe { family, ..self }
    }

    /// `tcp/80` whatever the family, as case files write it.
    pub fn base(self) -> String {
        format!("{}/{}", self.protocol, self.port)
    }

    /// What a case probes when it does not say.
    pub const DEFAULTS: [Probe; 4] = [
        Probe::new(Protocol::Tcp, 80),
        Probe::new(Protocol::Tcp, 81),
        Probe::new(Protocol::Udp, 80),
        Probe::new(Protocol::Udp, 81),
    ];
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.protocol, self.port)?;
        match self.family {
            Family::V4 => Ok(()),
            Family::V6 => write!(f, " ({})", self.family.short()),
        }
    }
}

impl Serialize for Probe {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl FromStr for Probe {
    type Err = String;

    fn from_str(text: &str) -> Result<Probe, String> {
        let problem = || format!("`{text}` is not a probe (write `tcp/80`, `udp/81` or `sctp/80`)");
        let (protocol, port) = text.split_once('/').ok_or_else(problem)?;
        let protocol = Protocol::ALL
            .into_iter()
            .find(|p| p.name() == protocol)
            .ok_or_else(|| {
                format!("unknown protocol `{protocol}` in probe `{text}` (allowed: tcp, udp, sctp)")
            })?;
        let port: u16 = port.parse().map_err(|_| problem())?;
        if port == 0 {
            return Err(format!(
                "port 0 in probe `{text}` is out of range (1-65535)"
            ));
        }
        Ok(Probe::new(protocol, port))
    }
}

impl Probe {
    /// Reads a cell's probe label as [`Display`](fmt::Display) writes it:
    /// `tcp/80` (IPv4) or `tcp/80 (v6)`.
    pub fn from_label(text: &str) -> Result<Probe, String> {
        match text.strip_suffix(" (v6)") {
            Some(base) => Ok(base.parse::<Probe>()?.in_family(Family::V6)),
            None => text.parse(),
        }
    }
}

/// A pod, written `namespace/name`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodId {
    pub namespace: String,
    pub name: String,
}

impl PodId {
    pub fn new(namespace: &str, name: &str) -> PodId {
        PodId {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for PodId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl Serialize for PodId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

pub type Labels = BTreeMap<String, String>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerPort {
    pub name: String,
    pub port: u16,
    pub protocol: Protocol,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    pub name: String,
    pub labels: Labels,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pod {
    pub id: PodId,
    pub labels: Labels,
    pub ports: Vec<ContainerPort>,
}

/// The world a case starts from: namespaces and pods with their labels and ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Model {
    pub namespaces: Vec<Namespace>,
    pub pods: Vec<Pod>,
}

impl Default for Model {
    fn default() -> Model {
        let namespaces = NAMESPACES
            .iter()
            .map(|ns| Namespace {
                name: (*ns).to_owned(),
                labels: Labels::from([
                    ("ns".to_owned(), (*ns).to_owned()),
                    (NAMESPACE_NAME_LABEL.to_owned(), (*ns).to_owned()),
                ]),
            })
            .collect();
        let ports: Vec<ContainerPort> = Protocol::ALL
            .into_iter()
            .flat_map(|protocol| {
                SERVED_PORTS.into_iter().map(move |port| ContainerPort {
                    name: format!("serve-{port}-{protocol}"),
                    port,
                    protocol,
                })
            })
            .collect();
        let pods = NAMESPACES
            .iter()
            .flat_map(|ns| POD_NAMES.iter().map(move |pod| PodId::new(ns, pod)))
            .map(|id| Pod {
                labels: Labels::from([("pod".to_owned(), id.name.clone())]),
                id,
                ports: ports.clone(),
            })
            .collect();
        Model { namespaces, pods }
    }
}

impl Model {
    pub fn pod_ids(&self) -> Vec<PodId> {
        self.pods.iter().map(|p| p.id.clone()).collect()
    }

    pub fn pod(&self, id: &PodId) -> Option<&Pod> {
        self.pods.iter().find(|p| &p.id == id)
    }

    pub fn has_namespace(&self, name: &str) -> bool {
        self.namespaces.iter().any(|n| n.name == name)
    }

    pub fn serves(&self, probe: Probe) -> bool {
        self.pods.iter().all(|pod| {
            pod.ports
                .iter()
                .any(|p| p.port == probe.port && p.protocol == probe.protocol)
        })
    }

    /// `x/a … z/c`, for messages that list what exists.
    pub fn pod_range(&self) -> String {
        match (self.pods.first(), self.pods.last()) {
            (Some(first), Some(last)) => format!("{} … {}", first.id, last.id),
            _ => "none".to_owned(),
        }
    }

    pub fn namespace_list(&self) -> String {
        self.namespaces
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

mod world;

pub use world::{Addresses, Change, LabelChange, LabelTarget, PodIps, World, policy_key};

/// Which address families a run probes (`--ip-family`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    #[default]
    Ipv4,
    Ipv6,
    Dual,
}

impl IpFamily {
    pub fn families(self) -> &'static [Family] {
        match self {
            IpFamily::Ipv4 => &[Family::V4],
            IpFamily::Ipv6 => &[Family::V6],
            IpFamily::Dual => &Family::ALL,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            IpFamily::Ipv4 => "ipv4",
            IpFamily::Ipv6 => "ipv6",
            IpFamily::Dual => "dual",
        }
    }

    /// Whether IPv6 cells are probed.
    pub fn needs_ipv6(self) -> bool {
        self != IpFamily::Ipv4
    }
}

impl fmt::Display for IpFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_model_has_nine_pods_with_six_named_ports_each() {
        let model = Model::default();
        assert_eq!(model.pods.len(), 9);
        assert_eq!(model.pod_range(), "x/a … z/c");
        let names: Vec<_> = model.pods[0]
            .ports
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "serve-80-tcp",
                "serve-81-tcp",
                "serve-80-udp",
                "serve-81-udp",
                "serve-80-sctp",
                "serve-81-sctp"
            ]
        );
        assert_eq!(model.namespaces[1].labels["ns"], "y");
        assert_eq!(model.namespaces[1].labels[NAMESPACE_NAME_LABEL], "y");
    }

    #[test]
    fn probes_parse_and_print_as_case_files_write_them() {
        let probe: Probe = "udp/81".parse().unwrap();
        assert_eq!(probe, Probe::new(Protocol::Udp, 81));
        assert_eq!(probe.to_string(), "udp/81");
        assert!(
            "icmp/80"
                .parse::<Probe>()
                .unwrap_err()
                .contains("allowed: tcp, udp, sctp")
        );
        assert!("tcp/0".parse::<Probe>().is_err());
        assert!("tcp/65536".parse::<Probe>().is_err());
        assert!("tcp".parse::<Probe>().is_err());
    }

    #[test]
    fn a_probe_in_ipv6_is_labelled_with_its_family_and_reads_back() {
        let v6 = Probe::new(Protocol::Tcp, 80).in_family(Family::V6);
        assert_eq!(v6.to_string(), "tcp/80 (v6)");
        assert_eq!(v6.base(), "tcp/80");
        assert_eq!(Probe::from_label("tcp/80 (v6)"), Ok(v6));
        assert_eq!(
            Probe::from_label("tcp/80"),
            Ok(Probe::new(Protocol::Tcp, 80))
        );
        assert!(
            "tcp/80 (v6)".parse::<Probe>().is_err(),
            "case files name no family"
        );
        assert_eq!(IpFamily::Dual.families(), [Family::V4, Family::V6]);
    }
}
