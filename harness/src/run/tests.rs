//! What the runner refuses to leave unjudged.

use std::path::Path;

use super::run_case;
use crate::backend::Backend;
use crate::backend::oracle::OracleBackend;
use crate::case::{Case, Expectation, parse_case};
use crate::model::{Family, IpFamily, Model, Probe, Protocol};
use crate::verdict::{Failure, Verdict};

const CASE: &str = "name: t
probes: [tcp/80, udp/81]
policies:
  - apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: deny, namespace: x}
    spec: {podSelector: {}, policyTypes: [Ingress]}
expect:
  all: {default: allow, rules: [{from: '*', to: 'x/*', allow: false}]}
";

async fn run(case: &Case) -> crate::verdict::CaseResult {
    let model = Model::default();
    let mut backend = OracleBackend::new();
    let addresses = backend.setup(&model).await.expect("setup");
    let run = run_case(&mut backend, case, &model, &addresses, IpFamily::Ipv4).await;
    assert!(run.unreset.is_none());
    run.result
}

fn case() -> Case {
    parse_case(CASE, Path::new("t.yaml"), &Model::default()).expect("valid")
}

#[tokio::test]
async fn a_valid_case_passes_on_the_oracle() {
    assert_eq!(run(&case()).await.verdict, Verdict::Passed);
}

#[tokio::test]
async fn a_probe_of_the_case_without_a_table_fails_the_step_and_is_never_left_unjudged() {
    let mut case = case();
    let Expectation::Tables(tables) = &mut case.steps[0].expect else {
        panic!("tables");
    };
    tables.remove(&Probe::new(Protocol::Udp, 81));
    let result = run(&case).await;
    assert_eq!(result.verdict, Verdict::Failed);
    assert_eq!(result.failure, Some(Failure::Case));
    assert_eq!(
        result.reason.as_deref(),
        Some("step 0 has no expectation for udp/81, which the case probes")
    );
}

#[tokio::test]
async fn an_oracle_expectation_fails_a_plain_run_with_what_to_do() {
    let mut case = case();
    case.steps[0].expect = Expectation::Oracle;
    let result = run(&case).await;
    assert_eq!(result.verdict, Verdict::Failed);
    assert_eq!(result.failure, Some(Failure::Case));
    assert!(
        result
            .reason
            .as_deref()
            .unwrap()
            .ends_with("run it with --differential"),
        "{:?}",
        result.reason
    );
}

async fn run_in(case: &Case, ip_family: IpFamily) -> crate::verdict::CaseResult {
    let model = Model::default();
    let mut backend = OracleBackend::new();
    let addresses = backend.setup(&model).await.expect("setup");
    let run = run_case(&mut backend, case, &model, &addresses, ip_family).await;
    assert!(run.unreset.is_none());
    run.result
}

#[tokio::test]
async fn a_dual_run_judges_every_probe_in_both_families() {
    let result = run_in(&case(), IpFamily::Dual).await;
    assert_eq!(result.verdict, Verdict::Passed);
    let probes: Vec<String> = result.steps[0]
        .comparisons
        .keys()
        .map(ToString::to_string)
        .collect();
    assert_eq!(probes, ["tcp/80", "tcp/80 (v6)", "udp/81", "udp/81 (v6)"]);
    let v6 = Probe::new(Protocol::Udp, 81).in_family(Family::V6);
    assert!(result.steps[0].comparisons.contains_key(&v6));
}

/// `CASE` with an ipBlock peer `cidr` for the isolated pods.
fn case_with_block(cidr: &str) -> Case {
    let text = CASE.replace(
        "spec: {podSelector: {}, policyTypes: [Ingress]}",
        &format!(
            "spec: {{podSelector: {{}}, ingress: [{{from: [{{ipBlock: {{cidr: '{cidr}'}}}}]}}]}}"
        ),
    );
    parse_case(&text, Path::new("t.yaml"), &Model::default()).expect("valid")
}

#[tokio::test]
async fn a_case_naming_an_address_of_a_family_the_run_does_not_probe_is_not_run() {
    let v4 = run_in(&case_with_block("192.0.2.0/24"), IpFamily::Ipv6).await;
    assert_eq!(v4.verdict, Verdict::Skipped);
    let reason = v4.reason.unwrap_or_default();
    assert!(reason.contains("names an IPv4 address"), "{reason}");
    let v6 = run_in(&case_with_block("2001:db8::/32"), IpFamily::Ipv4).await;
    assert_eq!(v6.verdict, Verdict::Skipped);
    assert!(
        v6.reason
            .unwrap_or_default()
            .contains("names an IPv6 address")
    );
    // In dual both are judged (neither block holds a pod: x is isolated).
    assert_eq!(
        run_in(&case_with_block("2001:db8::/32"), IpFamily::Dual)
            .await
            .verdict,
        Verdict::Passed
    );
}
