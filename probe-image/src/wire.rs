//! The JSON the agent reads and writes, shared with the harness so both sides
//! parse the same shapes. Decoding is strict: unknown fields are errors.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A transport protocol, written `tcp`, `udp` or `sctp` everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Protocol {
    type Err = String;

    fn from_str(text: &str) -> Result<Protocol, String> {
        Protocol::ALL
            .into_iter()
            .find(|p| p.name() == text)
            .ok_or_else(|| format!("unknown protocol `{text}` (allowed: tcp, udp, sctp)"))
    }
}

/// One served or probed `protocol/port`, written `tcp/80`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub protocol: Protocol,
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.protocol, self.port)
    }
}

impl FromStr for Endpoint {
    type Err = String;

    /// `tcp/80`; port 0 is accepted, since `serve --ports 0` asks for any port.
    fn from_str(text: &str) -> Result<Endpoint, String> {
        let (protocol, port) = text
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not `PROTO/PORT` (like `tcp/80`)"))?;
        let protocol = protocol.parse()?;
        let port = port
            .parse()
            .map_err(|_| format!("`{port}` in `{text}` is not a port (0-65535)"))?;
        Ok(Endpoint { protocol, port })
    }
}

impl Serialize for Endpoint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Endpoint, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One thing to probe: `{"to":"x/b","host":"10.244.1.3","protocol":"tcp","port":80}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The caller's name for the destination (a pod, `x/b`), echoed in the result.
    pub to: String,
    /// An IP literal: the agent never resolves names, so a probe is one packet
    /// exchange and nothing else (no resolver, no helper threads).
    pub host: IpAddr,
    pub protocol: Protocol,
    /// 1-65535; 0 is rejected as bad input.
    pub port: u16,
}

impl Target {
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            protocol: self.protocol,
            port: self.port,
        }
    }

    pub fn address(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }
}

impl FromStr for Target {
    type Err = String;

    /// The `--target` syntax `TO=HOST:PROTO/PORT`, like `x/b=10.244.1.3:tcp/80` or
    /// `x/b=[fd00::3]:udp/81` (the brackets are optional).
    fn from_str(text: &str) -> Result<Target, String> {
        let problem =
            || format!("`{text}` is not `TO=HOST:PROTO/PORT` (like `x/b=10.0.0.3:tcp/80`)");
        let (to, rest) = text.split_once('=').ok_or_else(problem)?;
        let (host, endpoint) = rest.rsplit_once(':').ok_or_else(problem)?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let host = host
            .parse()
            .map_err(|_| format!("`{host}` in `{text}` is not an IP address"))?;
        let Endpoint { protocol, port } = endpoint.parse()?;
        if port == 0 {
            return Err(format!("port 0 in `{text}` is out of range (1-65535)"));
        }
        Ok(Target {
            to: to.to_owned(),
            host,
            protocol,
            port,
        })
    }
}

/// What one probe observed. Only `Connected` means reachable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// TCP or SCTP handshake completed; for UDP, our datagram came back unchanged.
    Connected,
    /// Actively rejected: a RST, an ICMP unreachable or admin-prohibited, or a
    /// local firewall reject (`EACCES`/`EPERM`).
    Refused,
    /// No answer within the timeout.
    Timeout,
    /// The probe itself failed for another reason (see `error`).
    Error,
    /// This kernel cannot make a socket of the protocol (SCTP where it is absent).
    Unsupported,
}

impl Outcome {
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Connected => "connected",
            Outcome::Refused => "refused",
            Outcome::Timeout => "timeout",
            Outcome::Error => "error",
            Outcome::Unsupported => "unsupported",
        }
    }
}

/// One result line of `probe`:
/// `{"to":"x/b","protocol":"tcp","port":80,"result":"connected","micros":1834}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observation {
    pub to: String,
    pub protocol: Protocol,
    pub port: u16,
    pub result: Outcome,
    /// From the start of this target's probe to its result.
    pub micros: u64,
    /// The OS error text; present on `refused` and `error` lines only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The one line `serve` prints once every socket is bound:
/// `{"ready":true,"serving":["tcp/80","udp/80"],"unsupported":["sctp/80"]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ready {
    pub ready: bool,
    /// Every bound endpoint with its real port (port 0 asks the kernel for one).
    pub serving: Vec<Endpoint>,
    /// Endpoints this kernel cannot serve, with the port as asked.
    pub unsupported: Vec<Endpoint>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_from_the_flag_syntax_with_either_address_family() {
        let v4: Target = "x/b=10.244.1.3:tcp/80".parse().unwrap();
        assert_eq!(
            v4,
            Target {
                to: "x/b".into(),
                host: "10.244.1.3".parse().unwrap(),
                protocol: Protocol::Tcp,
                port: 80,
            }
        );
        let v6: Target = "y/c=[fd00::3]:udp/81".parse().unwrap();
        assert_eq!(v6.address(), "[fd00::3]:81".parse().unwrap());
        let bare_v6: Target = "y/c=fd00::3:sctp/81".parse().unwrap();
        assert_eq!(bare_v6.endpoint().to_string(), "sctp/81");
    }

    #[test]
    fn malformed_flag_targets_are_rejected_naming_the_problem() {
        let cases = [
            ("10.0.0.1:tcp/80", "is not `TO=HOST:PROTO/PORT`"),
            ("x/a=10.0.0.1:icmp/80", "unknown protocol `icmp`"),
            ("x/a=10.0.0.1:tcp/0", "port 0"),
            ("x/a=10.0.0.1:tcp/65536", "is not a port"),
            (
                "x/a=pod-a:tcp/80",
                "`pod-a` in `x/a=pod-a:tcp/80` is not an IP address",
            ),
        ];
        for (text, expected) in cases {
            let problem = text.parse::<Target>().unwrap_err();
            assert!(problem.contains(expected), "{text}: {problem}");
        }
    }

    #[test]
    fn observations_print_the_documented_line_and_error_only_when_present() {
        let mut line = Observation {
            to: "x/b".into(),
            protocol: Protocol::Tcp,
            port: 80,
            result: Outcome::Connected,
            micros: 1834,
            error: None,
        };
        assert_eq!(
            serde_json::to_string(&line).unwrap(),
            r#"{"to":"x/b","protocol":"tcp","port":80,"result":"connected","micros":1834}"#
        );
        line.result = Outcome::Refused;
        line.error = Some("Connection refused (os error 111)".into());
        let text = serde_json::to_string(&line).unwrap();
        assert!(text.ends_with(
            r#""result":"refused","micros":1834,"error":"Connection refused (os error 111)"}"#
        ));
        assert_eq!(serde_json::from_str::<Observation>(&text).unwrap(), line);
    }

    #[test]
    fn the_ready_line_round_trips_with_endpoints_as_strings() {
        let text = r#"{"ready":true,"serving":["tcp/80","udp/81"],"unsupported":["sctp/80"]}"#;
        let ready: Ready = serde_json::from_str(text).unwrap();
        assert_eq!(
            ready.serving[1],
            Endpoint {
                protocol: Protocol::Udp,
                port: 81
            }
        );
        assert_eq!(serde_json::to_string(&ready).unwrap(), text);
    }
}
