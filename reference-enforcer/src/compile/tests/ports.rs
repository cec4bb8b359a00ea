//! Ports (numeric, ranges, named) and ipBlocks.

use serde_json::json;

use super::{allows, compiled, policy};
use crate::ruleset::Direction::{Egress, Ingress};

#[test]
fn an_ingress_named_port_resolves_on_the_selected_local_pod() {
    let spec = json!({"podSelector": {}, "ingress": [{"ports": [{"port": "http"}]}]});
    let ruleset = compiled(json!([policy("x", "p", spec)]));
    assert_eq!(
        allows(&ruleset, "x/a", Ingress),
        Some(vec!["0.0.0.0/0 . tcp . 80".to_string()])
    );
    assert_eq!(
        allows(&ruleset, "x/b", Ingress),
        Some(vec!["0.0.0.0/0 . tcp . 8080".to_string()])
    );
}

#[test]
fn a_named_port_needs_the_rules_protocol_too() {
    let spec = json!({"podSelector": {}, "ingress": [{"ports": [{"port": "dns"}, {"port": "dns", "protocol": "UDP"}]}]});
    let ruleset = compiled(json!([policy("x", "p", spec)]));
    assert_eq!(
        allows(&ruleset, "x/a", Ingress),
        Some(vec!["0.0.0.0/0 . udp . 53".to_string()])
    );
}

#[test]
fn an_egress_named_port_resolves_on_each_destination_pod() {
    let to = json!([{"namespaceSelector": {}}]);
    let spec = json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
                      "egress": [{"to": to, "ports": [{"port": "http"}]}]});
    let ruleset = compiled(json!([policy("x", "p", spec)]));
    let expected = [
        "10.0.1.1 . tcp . 80",
        "10.0.1.2 . tcp . 8080",
        "10.0.2.1 . tcp . 8081",
    ];
    assert_eq!(
        allows(&ruleset, "x/a", Egress),
        Some(expected.map(String::from).to_vec())
    );
}

#[test]
fn an_ip_block_destination_resolves_named_ports_only_on_known_pods_inside_it() {
    let to = json!([{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.1.2/32"]}}]);
    let spec = json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
                      "egress": [{"to": to, "ports": [{"port": "http"}]}]});
    let ruleset = compiled(json!([policy("x", "p", spec)]));
    let expected = ["10.0.1.1 . tcp . 80", "10.0.2.1 . tcp . 8081"];
    assert_eq!(
        allows(&ruleset, "x/a", Egress),
        Some(expected.map(String::from).to_vec())
    );
}

#[test]
fn end_port_gives_an_inclusive_range_and_protocol_defaults_to_tcp() {
    let spec = json!({"podSelector": {}, "ingress": [{"ports": [{"port": 8000, "endPort": 8080}, {"port": 53, "protocol": "SCTP"}]}]});
    let ruleset = compiled(json!([policy("x", "p", spec)]));
    let expected = ["0.0.0.0/0 . tcp . 8000-8080", "0.0.0.0/0 . sctp . 53"];
    assert_eq!(
        allows(&ruleset, "x/a", Ingress),
        Some(expected.map(String::from).to_vec())
    );
}

#[test]
fn a_protocol_without_a_port_allows_every_port_of_that_protocol() {
    let spec = json!({"podSelector": {}, "ingress": [{"ports": [{"protocol": "UDP"}]}]});
    let ruleset = compiled(json!([policy("x", "p", spec)]));
    assert_eq!(
        allows(&ruleset, "x/a", Ingress),
        Some(vec!["0.0.0.0/0 . udp . 0-65535".to_string()])
    );
}

#[test]
fn ip_block_except_removes_the_holes() {
    let from =
        json!([{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.1.0/24", "10.0.3.0/24"]}}]);
    let spec = json!({"podSelector": {}, "ingress": [{"from": from}]});
    let ruleset = compiled(json!([policy("x", "p", spec)]));
    let expected = [
        "10.0.0.0/24 . 0-255 . 0-65535",
        "10.0.2.0/24 . 0-255 . 0-65535",
        "10.0.4.0-10.0.255.255 . 0-255 . 0-65535",
    ];
    assert_eq!(
        allows(&ruleset, "x/a", Ingress),
        Some(expected.map(String::from).to_vec())
    );
}

#[test]
fn an_ipv6_block_allows_nothing_to_an_ipv4_pod() {
    let spec =
        json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "fd00::/8"}}]}]});
    let ruleset = compiled(json!([policy("x", "p", spec)]));
    assert_eq!(allows(&ruleset, "x/a", Ingress), Some(vec![]));
    assert!(ruleset.warnings.is_empty(), "{:?}", ruleset.warnings);
}

#[test]
fn two_policies_union_their_allows() {
    let web = json!({"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]});
    let range = json!({"podSelector": {}, "ingress": [{"ports": [{"port": 81, "endPort": 90}]}]});
    let ruleset = compiled(json!([
        policy("x", "web", web),
        policy("x", "range", range)
    ]));
    assert_eq!(
        allows(&ruleset, "x/a", Ingress),
        Some(vec!["0.0.0.0/0 . tcp . 80-90".to_string()])
    );
    assert_eq!(
        ruleset.pods[0].ingress.as_ref().unwrap().policies,
        ["x/range", "x/web"]
    );
}
