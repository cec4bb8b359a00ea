use std::path::PathBuf;

use super::*;
use crate::case::{self, Action};
use crate::model::Model;

/// Enough cases that every weighted branch shows up many times (parsing a
/// case takes milliseconds in a debug build; the local differential run
/// parses thousands more).
const SAMPLE: u64 = 1_000;
/// Cases checked for validity here; the differential suite parses its own.
const VALID_SAMPLE: u64 = 500;

fn load(generated: &Generated) -> case::Case {
    let file = PathBuf::from(format!("generated/{}.yaml", generated.name));
    case::parse_case(&generated.yaml, &file, &Model::default())
        .unwrap_or_else(|e| panic!("{e}\n{}", generated.yaml))
}

#[test]
fn every_generated_case_is_a_valid_case_that_leaves_its_expectation_to_the_oracle() {
    for generated in generate(1, VALID_SAMPLE) {
        let case = load(&generated);
        assert_eq!(case.name, generated.name);
        assert!(
            case.steps
                .iter()
                .all(|s| s.expect == crate::case::Expectation::Oracle),
            "{}",
            generated.yaml
        );
        assert!(!case.probes.is_empty());
    }
}

#[test]
fn a_seed_reproduces_its_cases_and_a_larger_count_extends_a_smaller_one() {
    let few = generate(42, 5);
    let more = generate(42, 50);
    assert_eq!(few[..], more[..5]);
    assert_eq!(case(42, 17), more[17]);
    assert_ne!(generate(43, 5), few, "another seed, other cases");
}

#[test]
fn generated_cases_cover_every_kind_of_peer_port_and_step() {
    let texts: Vec<String> = generate(7, SAMPLE).into_iter().map(|g| g.yaml).collect();
    let all = texts.join("\n");
    let features = [
        "namespaceSelector: {matchLabels",
        "podSelector: {matchExpressions",
        "operator: NotIn",
        "operator: Exists",
        "operator: DoesNotExist",
        "kubernetes.io/metadata.name",
        "except:",
        "0.0.0.0/0",
        "::/0",
        "{{ip6 ",
        "/128",
        "port: serve-",
        "endPort:",
        "protocol: UDP",
        "protocol: SCTP",
        "policyTypes: [Egress]",
        "policyTypes: [Ingress, Egress]",
        "ingress: []",
        "- label:",
        "- delete:",
        "remove: [ns]",
    ];
    for feature in features {
        assert!(all.contains(feature), "no generated case has `{feature}`");
    }
    let both = texts
        .iter()
        .filter(|t| t.contains("namespaceSelector") && t.contains("podSelector: {matchLabels"))
        .count();
    assert!(
        both > 100,
        "namespaceSelector with podSelector in only {both} cases"
    );
    let model = Model::default();
    let several = generate(7, 200)
        .iter()
        .map(|g| {
            case::parse_case(&g.yaml, &PathBuf::from(format!("{}.yaml", g.name)), &model).unwrap()
        })
        .filter(|c| {
            c.steps[0]
                .actions
                .iter()
                .filter(|a| matches!(a, Action::Apply(_)))
                .count()
                > 1
        })
        .count();
    assert!(
        several > 100,
        "only {several} of 200 cases start with several policies"
    );
}
