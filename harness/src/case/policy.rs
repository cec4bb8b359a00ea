//! Strict decoding of NetworkPolicy objects, with the API server's validation.

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::decode::{self, Fields};
use super::diagnostic::Sink;
use super::rules;
use super::selector::{labels, selector};
use super::template;
use super::yaml::{Node, Value};
use crate::cidr::Cidr;
use crate::model::Model;

pub const API_VERSION: &str = "networking.k8s.io/v1";
pub const KIND: &str = "NetworkPolicy";
const POLICY_TYPES: [&str; 2] = ["Ingress", "Egress"];

/// Decodes one NetworkPolicy object at `path`, reporting every problem.
pub fn decode(sink: &mut Sink, node: &Node, path: &str, model: &Model) -> Option<NetworkPolicy> {
    let before = sink.found.len();
    let fields = decode::map(
        sink,
        node,
        path,
        &["apiVersion", "kind", "metadata", "spec"],
    )?;
    expect_constant(sink, &fields, "apiVersion", API_VERSION);
    expect_constant(sink, &fields, "kind", KIND);
    let metadata = decode::required(sink, &fields, "metadata")
        .and_then(|n| metadata(sink, n, &fields.path_of("metadata"), model));
    let spec = decode::required(sink, &fields, "spec")
        .and_then(|n| spec(sink, n, &fields.path_of("spec"), model));
    if sink.found.len() > before {
        return None;
    }
    Some(NetworkPolicy {
        metadata: metadata?,
        spec: Some(spec?),
    })
}

fn expect_constant(sink: &mut Sink, fields: &Fields, name: &str, wanted: &str) {
    let Some(node) = decode::required(sink, fields, name) else {
        return;
    };
    let path = fields.path_of(name);
    if let Some(text) = decode::string(sink, node, &path)
        && text != wanted
    {
        let what = if name == "kind" {
            format!("only {KIND} objects may appear here, found `{text}`")
        } else {
            format!("`{text}` is not supported (allowed: {wanted})")
        };
        sink.report(node.pos, &path, what);
    }
}

fn metadata(sink: &mut Sink, node: &Node, path: &str, model: &Model) -> Option<ObjectMeta> {
    let fields = decode::map(
        sink,
        node,
        path,
        &["name", "namespace", "labels", "annotations"],
    )?;
    let name = decode::required(sink, &fields, "name").and_then(|n| {
        let path = fields.path_of("name");
        let name = decode::string(sink, n, &path)?;
        sink.check(n.pos, &path, rules::dns_subdomain(&name));
        Some(name)
    });
    let namespace = decode::required(sink, &fields, "namespace").and_then(|n| {
        let path = fields.path_of("namespace");
        let namespace = decode::string(sink, n, &path)?;
        if !model.has_namespace(&namespace) {
            sink.report(
                n.pos,
                &path,
                format!(
                    "unknown namespace `{namespace}` (namespaces are {})",
                    model.namespace_list()
                ),
            );
        }
        Some(namespace)
    });
    let labels = fields
        .get("labels")
        .and_then(|n| labels(sink, n, &fields.path_of("labels")));
    let annotations = fields.get("annotations").and_then(|n| {
        let path = fields.path_of("annotations");
        let entries = decode::string_map(sink, n, &path)?;
        for (key, value, pos) in &entries {
            // The API server checks annotation keys as qualified names,
            // lower-cased (ValidateAnnotations); found by the control-plane
            // tier: the loader once let `-x` through.
            if let Err(reason) = super::rules::label_key(&key.name.to_lowercase()) {
                let reason = reason.replace("label key", "annotation key");
                sink.report(key.pos, &super::diagnostic::field(&path, &key.name), reason);
            }
            if template::has_template(value) {
                let message = "templates are expanded only in ipBlock `cidr` and `except`";
                sink.report(*pos, &super::diagnostic::field(&path, &key.name), message);
            }
        }
        Some(decode::into_btree(entries))
    });
    Some(ObjectMeta {
        name,
        namespace,
        labels,
        annotations,
        ..ObjectMeta::default()
    })
}

fn spec(sink: &mut Sink, node: &Node, path: &str, model: &Model) -> Option<NetworkPolicySpec> {
    let fields = decode::map(
        sink,
        node,
        path,
        &["podSelector", "policyTypes", "ingress", "egress"],
    )?;
    let pod_selector = fields
        .get("podSelector")
        .and_then(|n| selector(sink, n, &fields.path_of("podSelector")));
    let policy_types = fields.get("policyTypes").and_then(|n| {
        let path = fields.path_of("policyTypes");
        let types = decode::strings(sink, n, &path)?;
        if types.len() > POLICY_TYPES.len() {
            sink.report(n.pos, &path, "may not specify more than two policyTypes");
        }
        for (value, pos, item_path) in &types {
            if !POLICY_TYPES.contains(&value.as_str()) {
                sink.report(
                    *pos,
                    item_path,
                    format!("unsupported policy type `{value}` (allowed: Ingress, Egress)"),
                );
            }
        }
        Some(types.into_iter().map(|(v, _, _)| v).collect())
    });
    let ingress = fields.get("ingress").and_then(|n| {
        rules_list(sink, n, &fields.path_of("ingress"), "from", model).map(|rules| {
            rules
                .into_iter()
                .map(|(peers, ports)| NetworkPolicyIngressRule { from: peers, ports })
                .collect()
        })
    });
    let egress = fields.get("egress").and_then(|n| {
        rules_list(sink, n, &fields.path_of("egress"), "to", model).map(|rules| {
            rules
                .into_iter()
                .map(|(peers, ports)| NetworkPolicyEgressRule { to: peers, ports })
                .collect()
        })
    });
    Some(NetworkPolicySpec {
        pod_selector,
        policy_types,
        ingress,
        egress,
    })
}

type Rule = (
    Option<Vec<NetworkPolicyPeer>>,
    Option<Vec<NetworkPolicyPort>>,
);

fn rules_list(
    sink: &mut Sink,
    node: &Node,
    path: &str,
    peers_key: &str,
    model: &Model,
) -> Option<Vec<Rule>> {
    let mut out = Vec::new();
    for (rule_path, rule) in decode::list(sink, node, path)? {
        let Some(fields) = decode::map(sink, rule, &rule_path, &[peers_key, "ports"]) else {
            continue;
        };
        let peers = fields.get(peers_key).and_then(|n| {
            let items = decode::list(sink, n, &fields.path_of(peers_key))?;
            Some(
                items
                    .into_iter()
                    .filter_map(|(p, n)| peer(sink, n, &p, model))
                    .collect(),
            )
        });
        let ports = fields.get("ports").and_then(|n| {
            let items = decode::list(sink, n, &fields.path_of("ports"))?;
            Some(
                items
                    .into_iter()
                    .filter_map(|(p, n)| port(sink, n, &p))
                    .collect(),
            )
        });
        out.push((peers, ports));
    }
    Some(out)
}

fn peer(sink: &mut Sink, node: &Node, path: &str, model: &Model) -> Option<NetworkPolicyPeer> {
    let fields = decode::map(
        sink,
        node,
        path,
        &["podSelector", "namespaceSelector", "ipBlock"],
    )?;
    let pod_selector = fields
        .get("podSelector")
        .and_then(|n| selector(sink, n, &fields.path_of("podSelector")));
    let namespace_selector = fields
        .get("namespaceSelector")
        .and_then(|n| selector(sink, n, &fields.path_of("namespaceSelector")));
    let ip_block = fields
        .get("ipBlock")
        .and_then(|n| ip_block(sink, n, &fields.path_of("ipBlock"), model));
    let kinds = ["podSelector", "namespaceSelector", "ipBlock"]
        .iter()
        .filter(|k| fields.has(k))
        .count();
    if kinds == 0 {
        sink.report(
            node.pos,
            path,
            "must specify a peer (podSelector, namespaceSelector or ipBlock)",
        );
    } else if kinds > 1 && fields.has("ipBlock") {
        sink.report(
            node.pos,
            path,
            "may not specify both ipBlock and another peer",
        );
    }
    Some(NetworkPolicyPeer {
        pod_selector,
        namespace_selector,
        ip_block,
    })
}

fn ip_block(sink: &mut Sink, node: &Node, path: &str, model: &Model) -> Option<IPBlock> {
    let fields = decode::map(sink, node, path, &["cidr", "except"])?;
    let cidr_node = decode::required(sink, &fields, "cidr")?;
    let cidr_path = fields.path_of("cidr");
    let cidr_text = decode::string(sink, cidr_node, &cidr_path)?;
    let cidr = check_cidr(sink, cidr_node, &cidr_path, &cidr_text, model);
    let except = fields.get("except").and_then(|n| {
        let items = decode::strings(sink, n, &fields.path_of("except"))?;
        for (text, pos, item_path) in &items {
            let item = Node {
                value: Value::Str(text.clone()),
                pos: *pos,
            };
            let Some(except) = check_cidr(sink, &item, item_path, text, model) else {
                continue;
            };
            let Some(cidr) = cidr else { continue };
            let templated = template::has_template(text) || template::has_template(&cidr_text);
            if let Err(reason) = except_within(&cidr, &except, templated) {
                sink.report(*pos, item_path, reason);
            }
        }
        Some(items.into_iter().map(|(t, _, _)| t).collect())
    });
    Some(IPBlock {
        cidr: cidr_text,
        except,
    })
}

/// Whether an `except` block is a strict subset of its `cidr`. Where a template is
/// involved only the family can be known before the backend gives addresses.
pub fn except_within(cidr: &Cidr, except: &Cidr, templated: bool) -> Result<(), String> {
    if cidr.is_ipv4() != except.is_ipv4() {
        return Err(format!(
            "except `{except}` is {} but cidr `{cidr}` is {}",
            except.family(),
            cidr.family()
        ));
    }
    let strict_subset = cidr.contains_cidr(except) && except.prefix > cidr.prefix;
    if !templated && !strict_subset {
        return Err(format!(
            "except `{except}` must be a strict subset of cidr `{cidr}`"
        ));
    }
    Ok(())
}

/// Whether the address is IPv4-mapped IPv6 (`::ffff:10.0.0.0`).
fn ipv4_mapped(text: &str) -> bool {
    let address = text.split_once('/').map_or(text, |(address, _)| address);
    address
        .parse::<std::net::Ipv6Addr>()
        .is_ok_and(|a| a.to_ipv4_mapped().is_some())
}

/// Whether an IPv4 octet or the prefix length is written with a leading zero.
fn leading_zeros(text: &str) -> bool {
    let (address, prefix) = text.split_once('/').unwrap_or((text, ""));
    let padded = |part: &str| part.len() > 1 && part.starts_with('0');
    padded(prefix) || (!address.contains(':') && address.split('.').any(padded))
}

/// Whether the address written before the `/` is not the block's network.
fn host_bits_set(text: &str, cidr: &Cidr) -> bool {
    text.split_once('/')
        .and_then(|(address, _)| address.parse::<std::net::IpAddr>().ok())
        .is_some_and(|address| address != cidr.network)
}

fn check_cidr(sink: &mut Sink, node: &Node, path: &str, text: &str, model: &Model) -> Option<Cidr> {
    let expanded = match template::expand_placeholder(text, model) {
        Ok(expanded) => expanded,
        Err(reason) => {
            sink.report(node.pos, path, reason);
            return None;
        }
    };
    match expanded.parse::<Cidr>() {
        Ok(cidr) if !template::has_template(text) && leading_zeros(text) => {
            // As refused by kube-apiserver 1.3x (strict IP/CIDR validation);
            // found by the control-plane tier's invalid-case agreement test.
            sink.report(
                node.pos,
                path,
                format!(
                    "`{text}` has leading zeros, which the API server refuses (\"must not have leading 0s in IP or prefix length\"): write `{cidr}`"
                ),
            );
            None
        }
        Ok(_) if ipv4_mapped(text) => {
            sink.report(
                node.pos,
                path,
                format!(
                    "`{text}` is an IPv4-mapped IPv6 block, which the API server refuses (\"must not have an IPv4-mapped IPv6 address\"): write the IPv4 block"
                ),
            );
            None
        }
        Ok(cidr) if !template::has_template(text) && host_bits_set(text, &cidr) => {
            // kube-apiserver 1.3x validates CIDRs strictly (StrictIPCIDRValidation)
            // and refuses these; found by the invalid-case agreement test.
            sink.report(
                node.pos,
                path,
                format!(
                    "`{text}` has host bits set, which the API server refuses (\"must not have bits set beyond the prefix length\"): write `{cidr}`"
                ),
            );
            None
        }
        Ok(cidr) => Some(cidr),
        Err(reason) => {
            let reason = if template::has_template(text) {
                format!("`{text}` does not make a CIDR once expanded (write `{{{{ip x/b}}}}/32`)")
            } else {
                reason
            };
            sink.report(node.pos, path, reason);
            None
        }
    }
}

fn port(sink: &mut Sink, node: &Node, path: &str) -> Option<NetworkPolicyPort> {
    let fields = decode::map(sink, node, path, &["protocol", "port", "endPort"])?;
    let protocol = fields.get("protocol").and_then(|n| {
        let path = fields.path_of("protocol");
        let text = decode::string(sink, n, &path)?;
        if !["TCP", "UDP", "SCTP"].contains(&text.as_str()) {
            sink.report(
                n.pos,
                &path,
                format!("unsupported protocol `{text}` (allowed: TCP, UDP, SCTP)"),
            );
        }
        Some(text)
    });
    let port_path = fields.path_of("port");
    let port = fields.get("port").and_then(|n| match &n.value {
        Value::Int(number) => {
            sink.check(n.pos, &port_path, rules::port_number(*number).map(|_| ()));
            Some(IntOrString::Int(i32::try_from(*number).unwrap_or(i32::MAX)))
        }
        Value::Str(name) => {
            sink.check(n.pos, &port_path, rules::port_name(name));
            Some(IntOrString::String(name.clone()))
        }
        other => {
            sink.report(
                n.pos,
                &port_path,
                format!("expected a port number or name, found {}", other.kind()),
            );
            None
        }
    });
    let end_path = fields.path_of("endPort");
    let end_port = fields.get("endPort").and_then(|n| {
        let Value::Int(end) = n.value else {
            sink.report(
                n.pos,
                &end_path,
                format!("expected a port number, found {}", n.value.kind()),
            );
            return None;
        };
        sink.check(n.pos, &end_path, rules::port_number(end).map(|_| ()));
        match fields.get("port").map(|p| &p.value) {
            None => sink.report(
                n.pos,
                &end_path,
                "endPort may not be specified when `port` is not specified",
            ),
            Some(Value::Str(_)) => sink.report(
                n.pos,
                &end_path,
                "endPort may not be specified when `port` is a name",
            ),
            Some(Value::Int(start)) if end < *start => sink.report(
                n.pos,
                &end_path,
                format!("endPort {end} must be greater than or equal to port {start}"),
            ),
            _ => {}
        }
        Some(i32::try_from(end).unwrap_or(i32::MAX))
    });
    Some(NetworkPolicyPort {
        protocol,
        port,
        end_port,
    })
}
