//! What the loader accepts that the API server accepts too, and what it
//! reads from templates: each a regression of an earlier mistake.

use std::path::Path;

use super::{Action, parse_case};
use crate::backend::oracle;
use crate::model::{Change, Model};

/// A one-policy case: ingress into x/a from `peer`, policy named `name`.
fn case_text(name: &str, peer: &str) -> String {
    format!(
        "name: t
probes: [tcp/80]
policies:
  - apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {{name: {name}, namespace: x}}
    spec:
      podSelector: {{matchLabels: {{pod: a}}}}
      ingress: [{{from: [{peer}]}}]
expect:
  all: {{default: allow, rules: [{{from: '*', to: x/a, allow: false}}]}}
"
    )
}

fn load(text: &str) -> Result<super::Case, String> {
    parse_case(text, Path::new("t.yaml"), &Model::default()).map_err(|e| e.to_string())
}

#[test]
fn a_cidr_with_leading_zeros_or_host_bits_is_refused_as_kube_apiserver_refuses_it() {
    // kube-apiserver v1.37 (strict IP/CIDR validation) refuses both, measured
    // by the control-plane tier (tests/control_plane.rs); the loader once
    // accepted them as older servers did, and follows the server now.
    for (peer, rule) in [
        (
            "{ipBlock: {cidr: 010.244.000.000/16}}",
            "must not have leading 0s in IP or prefix length",
        ),
        (
            "{ipBlock: {cidr: 10.244.0.0/016}}",
            "must not have leading 0s in IP or prefix length",
        ),
        (
            "{ipBlock: {cidr: 0.0.0.0/0, except: [010.244.001.000/24]}}",
            "must not have leading 0s in IP or prefix length",
        ),
        (
            "{ipBlock: {cidr: 10.244.1.10/16}}",
            "must not have bits set beyond the prefix length",
        ),
    ] {
        let error = load(&case_text("p", peer)).expect_err(peer);
        assert!(error.contains(rule), "{peer}: {error}");
    }
    assert!(load(&case_text("p", "{ipBlock: {cidr: 10.244.0.0/16}}")).is_ok());
}

#[test]
fn a_templated_block_is_sent_as_its_network_since_the_api_server_refuses_host_bits() {
    let text = case_text(
        "p",
        "{ipBlock: {cidr: '{{ip x/b}}/16', except: ['{{ip y/a}}/24', '{{ip x/c}}/32']}}",
    );
    let case = load(&text).expect("valid");
    let model = Model::default();
    let addresses = oracle::addresses(&model);
    let Change::Apply(policy) = case.steps[0].actions[0]
        .resolve(&model, &addresses)
        .expect("resolves")
    else {
        panic!("an apply");
    };
    let block = policy.spec.as_ref().unwrap().ingress.as_ref().unwrap()[0]
        .from
        .as_ref()
        .unwrap()[0]
        .ip_block
        .clone()
        .unwrap();
    let ip = |pod: &str| addresses.ips[&crate::model::PodId::new(&pod[..1], &pod[2..])].v4;
    let network = |pod: &str, prefix: u8| {
        format!(
            "{}/{prefix}",
            format!("{}/{prefix}", ip(pod))
                .parse::<crate::cidr::Cidr>()
                .unwrap()
                .network
        )
    };
    assert_eq!(block.cidr, network("x/b", 16));
    assert_ne!(block.cidr, format!("{}/16", ip("x/b")));
    assert_eq!(
        block.except.unwrap(),
        vec![network("y/a", 24), format!("{}/32", ip("x/c"))]
    );
}

#[test]
fn a_policy_name_of_253_characters_with_long_dotted_parts_loads() {
    // metadata.name of a NetworkPolicy is a DNS-1123 subdomain: at most 253
    // characters, and no limit on a part between dots.
    let name = format!("{}.{}", "a".repeat(100), "b".repeat(152));
    assert_eq!(name.len(), 253);
    let text = case_text(&name, "{podSelector: {}}");
    let case = load(&text).expect("accepted as the API server accepts it");
    let Action::Apply(policy) = &case.steps[0].actions[0] else {
        panic!("an apply");
    };
    assert_eq!(policy.metadata.name.as_deref(), Some(name.as_str()));
    let too_long = case_text(&format!("{name}c"), "{podSelector: {}}");
    assert!(
        load(&too_long)
            .unwrap_err()
            .contains("is not a DNS subdomain"),
        "254 characters are too many"
    );
}

#[test]
fn an_ipv6_template_is_seen_however_it_is_spaced() {
    for template in ["{{ip6 y/a}}", "{{  ip6 y/a}}", "{{ip6   y/a  }}"] {
        let text = case_text("p", &format!("{{ipBlock: {{cidr: '{template}/128'}}}}"));
        let case = load(&text).unwrap_or_else(|e| panic!("{template}: {e}"));
        assert!(case.needs_ipv6(), "{template}");
    }
    let text = case_text("p", "{ipBlock: {cidr: '{{  ip y/a}}/32'}}");
    assert!(!load(&text).expect("valid").needs_ipv6());
}
