//! What the runner refuses to leave unjudged.

use std::path::Path;

use super::run_case;
use crate::backend::Backend;
use crate::backend::oracle::OracleBackend;
use crate::case::{Case, Expectation, parse_case};
use crate::model::{Model, Probe, Protocol};
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
    let run = run_case(&mut backend, case, &model, &addresses).await;
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
