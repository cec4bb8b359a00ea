//! A cluster snapshot built by `arbitrary` from fuzzer bytes, for the
//! enforcer's compiler. Most choices come from a small vocabulary (the
//! labels, operators, protocols and port names policies really use), so that
//! selectors match and rules reach the set-building code; every string can
//! also be raw bytes, so names and values the API server would refuse still
//! reach the compiler and the renderer.

use arbitrary::Arbitrary;
use serde_json::{Map, Value, json};

/// Words that make selectors match and policies valid often enough.
const VOCABULARY: [&str; 32] = [
    "x",
    "y",
    "z",
    "a",
    "b",
    "c",
    "pod",
    "ns",
    "team",
    "",
    "kubernetes.io/metadata.name",
    "TCP",
    "UDP",
    "SCTP",
    "tcp",
    "ICMP",
    "In",
    "NotIn",
    "Exists",
    "DoesNotExist",
    "Equals",
    "Ingress",
    "Egress",
    "serve-80-tcp",
    "serve-81-udp",
    "web",
    "node-1",
    "node-2",
    "10.244.1.0/24",
    "0.0.0.0/0",
    "::/0",
    "10.244.1.10/32",
];

/// The node the compiler is asked about, and the other one.
pub const NODES: [&str; 2] = ["node-1", "node-2"];

/// Caps that keep one input fast: the compiler is quadratic in places by design.
const MAX_ITEMS: usize = 12;

#[derive(Debug, Arbitrary)]
pub enum Word {
    Known(u8),
    Raw(String),
}

impl Word {
    fn text(&self) -> String {
        match self {
            Word::Known(i) => VOCABULARY[usize::from(*i) % VOCABULARY.len()].to_owned(),
            Word::Raw(text) => text.clone(),
        }
    }
}

#[derive(Debug, Arbitrary)]
pub struct Input {
    pub generation: u64,
    pub namespaces: Vec<NamespaceInput>,
    pub pods: Vec<PodInput>,
    pub policies: Vec<PolicyInput>,
}

#[derive(Debug, Arbitrary)]
pub struct NamespaceInput {
    name: Word,
    labels: Vec<(Word, Word)>,
}

#[derive(Debug, Arbitrary)]
pub struct PodInput {
    namespace: Word,
    name: Word,
    on_first_node: bool,
    ip: IpInput,
    labels: Vec<(Word, Word)>,
    ports: Vec<ContainerPortInput>,
}

#[derive(Debug, Arbitrary)]
pub enum IpInput {
    /// 10.244.N.M: inside the blocks of the vocabulary.
    PodNet(u8, u8),
    V4(u32),
    V6([u8; 16]),
}

#[derive(Debug, Arbitrary)]
pub struct ContainerPortInput {
    name: Option<Word>,
    port: u16,
    protocol: Option<Word>,
}

#[derive(Debug, Arbitrary)]
pub struct PolicyInput {
    namespace: Option<Word>,
    name: Word,
    pod_selector: Option<SelectorInput>,
    policy_types: Option<Vec<Word>>,
    ingress: Option<Vec<RuleInput>>,
    egress: Option<Vec<RuleInput>>,
}

#[derive(Debug, Arbitrary)]
pub struct RuleInput {
    peers: Option<Vec<PeerInput>>,
    ports: Option<Vec<PortInput>>,
}

#[derive(Debug, Arbitrary)]
pub struct PeerInput {
    pod_selector: Option<SelectorInput>,
    namespace_selector: Option<SelectorInput>,
    ip_block: Option<BlockInput>,
}

#[derive(Debug, Arbitrary)]
pub struct BlockInput {
    cidr: CidrInput,
    except: Option<Vec<CidrInput>>,
}

#[derive(Debug, Arbitrary)]
pub enum CidrInput {
    V4 { address: u32, prefix: u8 },
    V6 { address: [u8; 16], prefix: u8 },
    PodNet { third: u8, fourth: u8, prefix: u8 },
    Text(Word),
}

#[derive(Debug, Arbitrary)]
pub struct PortInput {
    protocol: Option<Word>,
    port: Option<PortValue>,
    end_port: Option<i32>,
}

#[derive(Debug, Arbitrary)]
pub enum PortValue {
    /// 75–90: around the model's served ports 80 and 81.
    Near(u8),
    Number(i32),
    Name(Word),
}

#[derive(Debug, Arbitrary)]
pub struct SelectorInput {
    match_labels: Option<Vec<(Word, Word)>>,
    match_expressions: Option<Vec<ExpressionInput>>,
}

#[derive(Debug, Arbitrary)]
pub struct ExpressionInput {
    key: Word,
    operator: Word,
    values: Option<Vec<Word>>,
}

fn capped<T>(items: &[T]) -> &[T] {
    &items[..items.len().min(MAX_ITEMS)]
}

fn labels(pairs: &[(Word, Word)]) -> Value {
    let map: Map<String, Value> = capped(pairs)
        .iter()
        .map(|(k, v)| (k.text(), Value::String(v.text())))
        .collect();
    Value::Object(map)
}

fn words(items: &[Word]) -> Value {
    capped(items)
        .iter()
        .map(|w| Value::String(w.text()))
        .collect()
}

impl IpInput {
    fn text(&self) -> String {
        match self {
            IpInput::PodNet(third, fourth) => format!("10.244.{third}.{fourth}"),
            IpInput::V4(raw) => std::net::Ipv4Addr::from(*raw).to_string(),
            IpInput::V6(raw) => std::net::Ipv6Addr::from(*raw).to_string(),
        }
    }
}

impl CidrInput {
    fn text(&self) -> String {
        match self {
            CidrInput::V4 { address, prefix } => {
                format!("{}/{}", std::net::Ipv4Addr::from(*address), prefix % 34)
            }
            CidrInput::V6 { address, prefix } => {
                format!("{}/{}", std::net::Ipv6Addr::from(*address), prefix % 130)
            }
            CidrInput::PodNet {
                third,
                fourth,
                prefix,
            } => format!("10.244.{third}.{fourth}/{}", 16 + prefix % 17),
            CidrInput::Text(word) => word.text(),
        }
    }
}

impl SelectorInput {
    fn value(&self) -> Value {
        let mut selector = Map::new();
        if let Some(pairs) = &self.match_labels {
            selector.insert("matchLabels".into(), labels(pairs));
        }
        if let Some(expressions) = &self.match_expressions {
            let list: Vec<Value> = capped(expressions)
                .iter()
                .map(|e| {
                    let mut expression =
                        json!({"key": e.key.text(), "operator": e.operator.text()});
                    if let Some(values) = &e.values {
                        expression["values"] = words(values);
                    }
                    expression
                })
                .collect();
            selector.insert("matchExpressions".into(), Value::Array(list));
        }
        Value::Object(selector)
    }
}

impl PortInput {
    fn value(&self) -> Value {
        let mut port = Map::new();
        if let Some(protocol) = &self.protocol {
            port.insert("protocol".into(), Value::String(protocol.text()));
        }
        match &self.port {
            Some(PortValue::Near(offset)) => {
                port.insert("port".into(), json!(75 + i32::from(offset % 16)));
            }
            Some(PortValue::Number(number)) => {
                port.insert("port".into(), json!(number));
            }
            Some(PortValue::Name(name)) => {
                port.insert("port".into(), Value::String(name.text()));
            }
            None => {}
        }
        if let Some(end) = self.end_port {
            port.insert("endPort".into(), json!(end));
        }
        Value::Object(port)
    }
}

impl PeerInput {
    fn value(&self) -> Value {
        let mut peer = Map::new();
        if let Some(selector) = &self.pod_selector {
            peer.insert("podSelector".into(), selector.value());
        }
        if let Some(selector) = &self.namespace_selector {
            peer.insert("namespaceSelector".into(), selector.value());
        }
        if let Some(block) = &self.ip_block {
            let mut value = json!({"cidr": block.cidr.text()});
            if let Some(except) = &block.except {
                value["except"] = capped(except).iter().map(|c| json!(c.text())).collect();
            }
            peer.insert("ipBlock".into(), value);
        }
        Value::Object(peer)
    }
}

fn rules(rules: &[RuleInput], peers_field: &str) -> Value {
    capped(rules)
        .iter()
        .map(|rule| {
            let mut value = Map::new();
            if let Some(peers) = &rule.peers {
                let list = capped(peers).iter().map(PeerInput::value).collect();
                value.insert(peers_field.into(), Value::Array(list));
            }
            if let Some(ports) = &rule.ports {
                let list = capped(ports).iter().map(PortInput::value).collect();
                value.insert("ports".into(), Value::Array(list));
            }
            Value::Object(value)
        })
        .collect()
}

impl PolicyInput {
    fn value(&self) -> Value {
        let mut spec = Map::new();
        if let Some(selector) = &self.pod_selector {
            spec.insert("podSelector".into(), selector.value());
        }
        if let Some(types) = &self.policy_types {
            spec.insert("policyTypes".into(), words(types));
        }
        if let Some(ingress) = &self.ingress {
            spec.insert("ingress".into(), rules(ingress, "from"));
        }
        if let Some(egress) = &self.egress {
            spec.insert("egress".into(), rules(egress, "to"));
        }
        let mut metadata = json!({"name": self.name.text()});
        if let Some(namespace) = &self.namespace {
            metadata["namespace"] = Value::String(namespace.text());
        }
        json!({"metadata": metadata, "spec": spec})
    }
}

impl Input {
    /// The snapshot as the harness would write it (JSON).
    pub fn snapshot(&self) -> Value {
        let namespaces: Vec<Value> = capped(&self.namespaces)
            .iter()
            .map(|n| json!({"name": n.name.text(), "labels": labels(&n.labels)}))
            .collect();
        let pods: Vec<Value> = capped(&self.pods)
            .iter()
            .map(|p| {
                let ports: Vec<Value> = capped(&p.ports)
                    .iter()
                    .map(|port| {
                        let mut value = json!({"port": port.port});
                        if let Some(name) = &port.name {
                            value["name"] = Value::String(name.text());
                        }
                        if let Some(protocol) = &port.protocol {
                            value["protocol"] = Value::String(protocol.text());
                        }
                        value
                    })
                    .collect();
                json!({
                    "namespace": p.namespace.text(),
                    "name": p.name.text(),
                    "node": NODES[usize::from(!p.on_first_node)],
                    "ip": p.ip.text(),
                    "labels": labels(&p.labels),
                    "ports": ports,
                })
            })
            .collect();
        let policies: Vec<Value> = capped(&self.policies)
            .iter()
            .map(PolicyInput::value)
            .collect();
        json!({
            "generation": self.generation,
            "namespaces": namespaces,
            "pods": pods,
            "policies": policies,
        })
    }
}
