use std::path::PathBuf;

use super::emit::{Expectations, document};
use super::*;
use crate::backend::oracle::OracleBackend;
use crate::backend::{BackendResult, Capabilities, ClusterInfo, CniInfo};
use crate::case::parse_case;
use crate::generate;
use crate::model::Change;
use crate::probe::Matrix;

fn load(yaml: &str, name: &str) -> Case {
    parse_case(
        yaml,
        &PathBuf::from(format!("{name}.yaml")),
        &Model::default(),
    )
    .unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn the_oracle_fills_every_probed_port_of_every_step() {
    let model = Model::default();
    let addresses = crate::backend::oracle::addresses(&model);
    for generated in generate::generate(5, 100) {
        let case = load(&generated.yaml, &generated.name);
        let (judged, tables) =
            with_oracle_expectations(&case, &model, &addresses, IpFamily::Dual).expect("judged");
        assert_eq!(tables.len(), case.steps.len());
        for step in &judged.steps {
            assert!(case.probes.iter().all(|p| step.expect.table(p).is_some()));
        }
    }
}

#[test]
fn a_case_written_with_the_oracles_expectation_reads_back_as_the_same_tables() {
    let model = Model::default();
    let addresses = crate::backend::oracle::addresses(&model);
    for generated in generate::generate(9, 100) {
        let case = load(&generated.yaml, &generated.name);
        let tables = oracle_tables(&case, &model, &addresses, IpFamily::Dual).expect("tables");
        let yaml = document(
            &case,
            "written",
            "d",
            &Expectations::Tables(&tables),
            &model,
        )
        .render();
        let again = load(&yaml, "written");
        assert_eq!(again.probes, case.probes);
        for (step, expected) in again.steps.iter().zip(&tables) {
            for (probe, table) in expected {
                let written = step.expect.table(probe).expect("a table");
                assert!(written.agrees_with(table), "{yaml}");
            }
        }
        // And the actions survive too: the same tables come out of the copy.
        assert_eq!(
            oracle_tables(&again, &model, &addresses, IpFamily::Dual).expect("tables"),
            tables
        );
    }
}

#[test]
fn every_shrinking_candidate_is_valid_and_smaller() {
    let model = Model::default();
    let size = |c: &Case| {
        document(c, "n", "", &Expectations::Oracle, &model)
            .render()
            .len()
    };
    for generated in generate::generate(11, 3) {
        let case = load(&generated.yaml, &generated.name);
        let candidates = shrink::candidates(&case, &model);
        assert!(!candidates.is_empty());
        for candidate in candidates {
            assert!(size(&candidate) < size(&case), "{}", generated.name);
        }
    }
}

/// The oracle with one bug planted: it ignores every ipBlock `except`.
struct IgnoresExcept(OracleBackend);

impl Backend for IgnoresExcept {
    fn name(&self) -> &'static str {
        "ignores-except"
    }
    fn cni(&self) -> CniInfo {
        self.0.cni()
    }
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    fn cluster(&self) -> ClusterInfo {
        self.0.cluster()
    }
    async fn setup(&mut self, model: &Model) -> BackendResult<Addresses> {
        self.0.setup(model).await
    }
    async fn reset(&mut self) -> BackendResult<()> {
        self.0.reset().await
    }
    async fn change(&mut self, changes: &[Change]) -> BackendResult<()> {
        let changes: Vec<Change> = changes
            .iter()
            .map(|change| match change {
                Change::Apply(policy) => {
                    let mut json = serde_json::to_string(policy).expect("json");
                    while let Some(start) = json.find(",\"except\":[") {
                        let end = start + json[start..].find(']').expect("a list") + 1;
                        json.replace_range(start..end, "");
                    }
                    Change::Apply(Box::new(serde_json::from_str(&json).expect("policy")))
                }
                other => other.clone(),
            })
            .collect();
        self.0.change(&changes).await
    }
    async fn probe(&mut self, probes: &[crate::model::Probe]) -> BackendResult<Matrix> {
        self.0.probe(probes).await
    }
    async fn teardown(&mut self) -> BackendResult<()> {
        self.0.teardown().await
    }
}

#[test]
fn a_planted_divergence_is_found_and_shrunk_to_one_policy_with_an_except() {
    let model = Model::default();
    let runtime = runtime();
    let mut backend = IgnoresExcept(OracleBackend::new());
    let mut session = Session::new(&mut backend, &model, None);
    runtime.block_on(session.setup()).expect("setup");
    let mut shrunk = None;
    for generated in generate::generate(3, 400) {
        let case = load(&generated.yaml, &generated.name);
        let judged = runtime.block_on(judge(&mut session, &case, true));
        if let Some(minimal) = judged.minimal {
            assert_eq!(judged.result.verdict, Verdict::Failed);
            shrunk = Some((generated.name, minimal));
            break;
        }
        assert_eq!(judged.result.verdict, Verdict::Passed, "{}", generated.name);
    }
    let (name, minimal) = shrunk.expect("some generated case uses an except that matters");
    let case = load(&minimal.yaml, &format!("divergence-{name}"));
    let applied: Vec<&Action> = case.steps.iter().flat_map(|s| &s.actions).collect();
    assert_eq!(applied.len(), 1, "{}", minimal.yaml);
    assert!(minimal.yaml.contains("except:"), "{}", minimal.yaml);
    assert_eq!(case.probes.len(), 1, "{}", minimal.yaml);
    let failure = crate::report::terminal::divergence(
        &name,
        &minimal.failure,
        &minimal.yaml,
        minimal.runs,
        minimal.took,
    );
    assert!(failure.contains("observed:"), "{failure}");
}

use crate::case::Action;
use crate::run::Session;
use crate::verdict::Verdict;
