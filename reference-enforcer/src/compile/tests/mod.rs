//! Unit tests of the compiler, on a small world: namespaces `x` and `y`
//! (labelled `ns`), pods on `node-1` (local) and `node-2` (remote).

use serde_json::{Value, json};

use super::compile;
use crate::ruleset::{Direction, Ruleset};
use crate::snapshot::Snapshot;

pub(super) const NODE: &str = "node-1";

pub(super) fn snapshot(policies: Value) -> Snapshot {
    serde_json::from_value(json!({
        "generation": 7,
        "namespaces": [
            {"name": "x", "labels": {"ns": "x"}},
            {"name": "y", "labels": {"ns": "y", "team": "blue"}},
        ],
        "pods": [
            {"namespace": "x", "name": "a", "node": "node-1", "ip": "10.0.1.1", "labels": {"pod": "a"},
             "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "dns", "port": 53, "protocol": "UDP"}]},
            {"namespace": "x", "name": "b", "node": "node-1", "ip": "10.0.1.2", "labels": {"pod": "b"},
             "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]},
            {"namespace": "y", "name": "a", "node": "node-2", "ip": "10.0.2.1", "labels": {"pod": "a"},
             "ports": [{"name": "http", "port": 8081, "protocol": "TCP"}]},
            {"namespace": "y", "name": "b", "node": "node-1", "ip": "10.0.1.3", "labels": {"pod": "b"}},
        ],
        "policies": policies,
    }))
    .unwrap()
}

pub(super) fn policy(namespace: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"namespace": namespace, "name": name}, "spec": spec})
}

pub(super) fn compiled(policies: Value) -> Ruleset {
    compile(&snapshot(policies), NODE)
}

/// The allows of a pod in a direction, in nft syntax; `None` when not isolated.
pub(super) fn allows(ruleset: &Ruleset, pod: &str, direction: Direction) -> Option<Vec<String>> {
    let rules = ruleset.pods.iter().find(|p| p.id() == pod)?;
    Some(
        rules
            .isolation(direction)?
            .allows
            .iter()
            .map(ToString::to_string)
            .collect(),
    )
}

use Direction::{Egress, Ingress};

mod fail_closed;
mod ports;
#[test]
fn a_pod_selected_by_no_policy_is_absent_from_all_sets() {
    let ruleset = compiled(json!([policy(
        "x",
        "only-a",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}})
    )]));
    let ids: Vec<String> = ruleset.pods.iter().map(|p| p.id()).collect();
    assert_eq!(ids, ["x/a"]);
    let text = crate::render::render(&ruleset);
    assert!(
        !text.contains("10.0.1.2") && !text.contains("10.0.1.3"),
        "{text}"
    );
}

#[test]
fn deny_all_ingress_isolates_every_local_pod_of_the_namespace_with_nothing_allowed() {
    let ruleset = compiled(json!([policy("x", "deny", json!({"podSelector": {}}))]));
    assert_eq!(allows(&ruleset, "x/a", Ingress), Some(vec![]));
    assert_eq!(allows(&ruleset, "x/b", Ingress), Some(vec![]));
    assert_eq!(allows(&ruleset, "x/a", Egress), None);
    assert_eq!(allows(&ruleset, "y/b", Ingress), None);
    assert_eq!(
        ruleset.pods[0].ingress.as_ref().unwrap().policies,
        ["x/deny"]
    );
}

#[test]
fn remote_pods_are_left_to_their_own_node() {
    let ruleset = compiled(json!([policy("y", "deny", json!({"podSelector": {}}))]));
    let ids: Vec<String> = ruleset.pods.iter().map(|p| p.id()).collect();
    assert_eq!(ids, ["y/b"]);
    let remote = compile(
        &snapshot(json!([policy("y", "deny", json!({"podSelector": {}}))])),
        "node-2",
    );
    assert_eq!(
        remote.pods.iter().map(|p| p.id()).collect::<Vec<_>>(),
        ["y/a"]
    );
}

#[test]
fn policy_types_default_to_ingress_plus_egress_when_there_are_egress_rules() {
    let ruleset = compiled(json!([policy(
        "x",
        "p",
        json!({"podSelector": {}, "egress": [{}]})
    )]));
    assert_eq!(allows(&ruleset, "x/a", Ingress), Some(vec![]));
    assert_eq!(
        allows(&ruleset, "x/a", Egress),
        Some(vec!["0.0.0.0/0 . 0-255 . 0-65535".to_string()])
    );
}

#[test]
fn an_empty_egress_list_does_not_isolate_egress() {
    let ruleset = compiled(json!([policy(
        "x",
        "p",
        json!({"podSelector": {}, "egress": []})
    )]));
    assert_eq!(allows(&ruleset, "x/a", Ingress), Some(vec![]));
    assert_eq!(allows(&ruleset, "x/a", Egress), None);
}

#[test]
fn explicit_policy_types_are_exactly_the_directions_covered() {
    let egress_only = json!({"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{}]});
    let ruleset = compiled(json!([policy("x", "p", egress_only)]));
    assert_eq!(allows(&ruleset, "x/a", Ingress), None);
    assert_eq!(allows(&ruleset, "x/a", Egress), Some(vec![]));

    let ingress_only = json!({"podSelector": {}, "policyTypes": ["Ingress"], "egress": [{}]});
    let ruleset = compiled(json!([policy("x", "p", ingress_only)]));
    assert_eq!(allows(&ruleset, "x/a", Ingress), Some(vec![]));
    assert_eq!(allows(&ruleset, "x/a", Egress), None);
}

#[test]
fn a_namespace_selector_alone_allows_every_pod_of_matching_namespaces_on_every_node() {
    let spec = json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]});
    let ruleset = compiled(json!([policy("x", "from-y", spec)]));
    let expected = ["10.0.1.3 . 0-255 . 0-65535", "10.0.2.1 . 0-255 . 0-65535"];
    assert_eq!(
        allows(&ruleset, "x/a", Ingress),
        Some(expected.map(String::from).to_vec())
    );
}

#[test]
fn a_pod_selector_alone_means_pods_of_the_policys_own_namespace() {
    let spec = json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "a"}}}]}]});
    let ruleset = compiled(json!([policy("x", "from-a", spec)]));
    assert_eq!(
        allows(&ruleset, "x/b", Ingress),
        Some(vec!["10.0.1.1 . 0-255 . 0-65535".to_string()])
    );
}

#[test]
fn pod_and_namespace_selectors_in_one_peer_are_anded_and_list_elements_ored() {
    let and = json!({"namespaceSelector": {"matchLabels": {"team": "blue"}}, "podSelector": {"matchLabels": {"pod": "b"}}});
    let spec = json!({"podSelector": {}, "ingress": [{"from": [and]}]});
    let ruleset = compiled(json!([policy("x", "p", spec)]));
    assert_eq!(
        allows(&ruleset, "x/a", Ingress),
        Some(vec!["10.0.1.3 . 0-255 . 0-65535".to_string()])
    );

    let or = json!([{"namespaceSelector": {"matchLabels": {"team": "blue"}}}, {"podSelector": {"matchLabels": {"pod": "b"}}}]);
    let spec = json!({"podSelector": {}, "ingress": [{"from": or}]});
    let ruleset = compiled(json!([policy("x", "p", spec)]));
    // x/b and y/b have neighbouring addresses, so they merge into one prefix.
    let expected = [
        "10.0.1.2/31 . 0-255 . 0-65535",
        "10.0.2.1 . 0-255 . 0-65535",
    ];
    assert_eq!(
        allows(&ruleset, "x/a", Ingress),
        Some(expected.map(String::from).to_vec())
    );
}

#[test]
fn the_result_does_not_depend_on_the_order_of_the_input() {
    let a = policy(
        "x",
        "a",
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}),
    );
    let b = policy(
        "x",
        "b",
        json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}),
    );
    let mut forward = snapshot(json!([a.clone(), b.clone()]));
    let mut backward = snapshot(json!([b, a]));
    backward.pods.reverse();
    backward.namespaces.reverse();
    assert_eq!(compile(&forward, NODE), compile(&backward, NODE));
    forward.generation += 1;
    assert_ne!(compile(&forward, NODE), compile(&backward, NODE));
}

#[test]
fn two_local_pods_with_one_address_get_the_strictest_isolation() {
    let mut snapshot = snapshot(json!([
        policy(
            "x",
            "web",
            json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"ports": [{"port": 80}]}]})
        ),
        policy("y", "deny", json!({"podSelector": {}}))
    ]));
    snapshot.pods[3].ip = "10.0.1.1".parse().unwrap();
    let ruleset = compile(&snapshot, NODE);
    assert_eq!(allows(&ruleset, "x/a", Ingress), Some(vec![]));
    assert_eq!(
        allows(&ruleset, "y/b", Ingress),
        None,
        "one entry per address"
    );
    assert!(
        ruleset
            .warnings
            .iter()
            .any(|w| w.starts_with("pods x/a, y/b share address 10.0.1.1")),
        "{:?}",
        ruleset.warnings
    );
}
