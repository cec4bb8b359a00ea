//! Policies the compiler cannot read isolate and allow nothing.

use serde_json::json;

use super::{NODE, allows, compiled, policy, snapshot};
use crate::compile::compile;
use crate::ruleset::Direction::{Egress, Ingress};
use crate::ruleset::Isolation;

#[test]
fn a_broken_policy_isolates_what_it_selects_and_allows_nothing() {
    let bad = json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}]});
    let good = json!({"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]});
    let ruleset = compiled(json!([
        policy("x", "bad", bad.clone()),
        policy("x", "good", good)
    ]));
    assert_eq!(
        allows(&ruleset, "x/a", Ingress),
        Some(vec!["0.0.0.0/0 . tcp . 80".to_string()])
    );
    assert_eq!(
        ruleset.pods[0].ingress.as_ref().unwrap().policies,
        ["x/bad", "x/good"]
    );
    assert_eq!(ruleset.warnings.len(), 1);
    assert!(
        ruleset.warnings[0].starts_with("policy x/bad: ingress[0]: peer 0: `10.0.0.0/33`"),
        "{}",
        ruleset.warnings[0]
    );

    let only_bad = compiled(json!([policy("x", "bad", bad)]));
    assert_eq!(allows(&only_bad, "x/a", Ingress), Some(vec![]));
    assert_eq!(allows(&only_bad, "x/b", Ingress), None);
}

#[test]
fn a_broken_egress_rule_isolates_egress_too() {
    let spec =
        json!({"podSelector": {}, "egress": [{"ports": [{"port": 80, "protocol": "ICMP"}]}]});
    let ruleset = compiled(json!([policy("x", "p", spec)]));
    assert_eq!(allows(&ruleset, "x/a", Ingress), Some(vec![]));
    assert_eq!(allows(&ruleset, "x/a", Egress), Some(vec![]));
    assert!(
        ruleset.warnings[0].contains("unknown protocol `ICMP`"),
        "{:?}",
        ruleset.warnings
    );
}

#[test]
fn an_unreadable_pod_selector_isolates_the_whole_namespace() {
    let selector =
        json!({"matchExpressions": [{"key": "pod", "operator": "Near", "values": ["a"]}]});
    let spec = json!({"podSelector": selector, "policyTypes": ["Egress"], "egress": [{}]});
    let ruleset = compiled(json!([policy("x", "p", spec)]));
    assert_eq!(allows(&ruleset, "x/a", Egress), Some(vec![]));
    assert_eq!(allows(&ruleset, "x/b", Egress), Some(vec![]));
    assert_eq!(allows(&ruleset, "x/a", Ingress), None);
    assert_eq!(allows(&ruleset, "y/b", Egress), None);
    assert!(
        ruleset.warnings[0].contains("unknown selector operator `Near`"),
        "{:?}",
        ruleset.warnings
    );
}

#[test]
fn an_unknown_policy_type_isolates_both_directions() {
    let spec = json!({"podSelector": {}, "policyTypes": ["Ingress", "Sideways"], "ingress": [{}]});
    let ruleset = compiled(json!([policy("x", "p", spec)]));
    assert_eq!(allows(&ruleset, "x/a", Ingress), Some(vec![]));
    assert_eq!(allows(&ruleset, "x/a", Egress), Some(vec![]));
}

#[test]
fn invalid_ports_and_peers_are_problems_not_guesses() {
    let cases = [
        (json!({"ports": [{"port": 0}]}), "port 0 is not in 1-65535"),
        (
            json!({"ports": [{"port": 90, "endPort": 80}]}),
            "endPort 80 is below port 90",
        ),
        (
            json!({"ports": [{"port": "http", "endPort": 81}]}),
            "endPort needs a numeric port",
        ),
        (
            json!({"ports": [{"port": "80"}]}),
            "`80` is not a port name",
        ),
        (json!({"from": [{}]}), "a peer needs podSelector"),
        (
            json!({"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/24"]}}]}),
            "is not inside cidr",
        ),
        (
            json!({"from": [{"podSelector": {"matchExpressions": [{"key": "k", "operator": "In"}]}}]}),
            "needs values",
        ),
    ];
    for (rule, problem) in cases {
        let ruleset = compiled(json!([policy(
            "x",
            "p",
            json!({"podSelector": {}, "ingress": [rule]})
        )]));
        assert_eq!(allows(&ruleset, "x/a", Ingress), Some(vec![]), "{problem}");
        assert!(
            ruleset.warnings.iter().any(|w| w.contains(problem)),
            "{problem}: {:?}",
            ruleset.warnings
        );
    }
}

#[test]
fn a_policy_without_namespace_isolates_every_local_pod() {
    let mut snapshot = snapshot(json!([policy(
        "x",
        "p",
        json!({"podSelector": {"matchLabels": {"pod": "none"}}})
    )]));
    snapshot.policies[0].metadata.namespace = None;
    let ruleset = compile(&snapshot, NODE);
    let ids: Vec<String> = ruleset.pods.iter().map(|p| p.id()).collect();
    assert_eq!(ids, ["x/a", "x/b", "y/b"]);
    assert!(ruleset.pods.iter().all(|p| p.ingress
        == Some(Isolation {
            policies: vec!["<no namespace>/p".into()],
            allows: vec![]
        })));
    assert!(ruleset.pods.iter().all(|p| p.egress.is_none()));
}

#[test]
fn two_local_pods_with_one_name_keep_one_set_of_rules_and_the_other_allows_nothing() {
    // A stale snapshot: x/a recreated at another address while the old entry lingers.
    let mut snapshot = snapshot(json!([policy(
        "x",
        "web",
        json!({"podSelector": {}, "ingress": [{}]})
    )]));
    let mut again = snapshot.pods[0].clone();
    again.ip = "10.0.9.9".parse().unwrap();
    snapshot.pods.insert(0, again);
    let ruleset = compile(&snapshot, NODE);
    let entries: Vec<(String, bool)> = ruleset
        .pods
        .iter()
        .filter(|p| p.id() == "x/a")
        .map(|p| {
            (
                p.ip.to_string(),
                p.ingress.as_ref().is_some_and(|i| i.allows.is_empty()),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("10.0.1.1".to_string(), false),
            ("10.0.9.9".to_string(), true)
        ],
        "the first address keeps its rules, the other allows nothing"
    );
    assert!(
        ruleset
            .warnings
            .iter()
            .any(|w| w.starts_with("pod x/a appears at 10.0.1.1, 10.0.9.9")),
        "{:?}",
        ruleset.warnings
    );
    let text = crate::render::render(&ruleset);
    let chains = text.matches("chain in_x_a_").count();
    assert_eq!(chains, 1, "one chain per name:\n{text}");
}

#[test]
fn a_dual_stack_pod_keeps_its_rules_at_both_addresses() {
    // Not a stale entry: one pod with an address per family (`podIPs`).
    let mut snapshot = snapshot(json!([policy(
        "x",
        "web",
        json!({"podSelector": {}, "ingress": [{}]})
    )]));
    let v4 = snapshot.pods[0].ip;
    snapshot.pods[0].ips = vec![v4, "fd00::1".parse().unwrap()];
    let ruleset = compile(&snapshot, NODE);
    let entries: Vec<(String, bool)> = ruleset
        .pods
        .iter()
        .filter(|p| p.id() == "x/a")
        .map(|p| {
            (
                p.ip.to_string(),
                p.ingress.as_ref().is_some_and(|i| !i.allows.is_empty()),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [(v4.to_string(), true), ("fd00::1".to_string(), true)],
        "each family gets the pod's rules"
    );
    assert!(
        !ruleset.warnings.iter().any(|w| w.contains("appears at")),
        "{:?}",
        ruleset.warnings
    );
    let text = crate::render::render(&ruleset);
    assert_eq!(text.matches("chain in_x_a_").count(), 1, "{text}");
    assert_eq!(text.matches("chain in6_x_a_").count(), 1, "{text}");
}
