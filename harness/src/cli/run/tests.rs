//! `netpol run` when the backend fails at each point: what is written, what
//! is said, and the exit code.

use std::path::{Path, PathBuf};

use clap::Parser as _;

use super::run_on;
use crate::backend::oracle::OracleBackend;
use crate::backend::{Backend, BackendError, BackendResult, Capabilities, ClusterInfo, CniInfo};
use crate::cli::{Cli, Command, select};
use crate::error::RunError;
use crate::exit;
use crate::model::{Addresses, Change, Model, Probe};
use crate::probe::Matrix;
use crate::report::json::Results;
use crate::verdict::Verdict;

/// The oracle, with faults on demand.
#[derive(Default)]
struct Faulty {
    inner: OracleBackend,
    /// Resets that succeed before every later one fails.
    resets_before_failing: Option<usize>,
    probe_fails: bool,
    teardown_fails: bool,
}

fn failure(message: &str) -> BackendError {
    BackendError {
        backend: "faulty",
        message: message.into(),
        source: None,
    }
}

impl Backend for Faulty {
    fn name(&self) -> &'static str {
        "faulty"
    }
    fn cni(&self) -> CniInfo {
        self.inner.cni()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn cluster(&self) -> ClusterInfo {
        self.inner.cluster()
    }
    async fn setup(&mut self, model: &Model) -> BackendResult<Addresses> {
        self.inner.setup(model).await
    }
    async fn reset(&mut self) -> BackendResult<()> {
        match &mut self.resets_before_failing {
            Some(0) => Err(failure("the enforcers did not acknowledge the reset")),
            Some(left) => {
                *left -= 1;
                self.inner.reset().await
            }
            None => self.inner.reset().await,
        }
    }
    async fn change(&mut self, changes: &[Change]) -> BackendResult<()> {
        self.inner.change(changes).await
    }
    async fn probe(&mut self, probes: &[Probe]) -> BackendResult<Matrix> {
        if self.probe_fails {
            return Err(failure("every probe agent is gone"));
        }
        self.inner.probe(probes).await
    }
    async fn teardown(&mut self) -> BackendResult<()> {
        self.inner.teardown().await?;
        if self.teardown_fails {
            return Err(failure(
                "ip netns del netpol-000000-x-a: Device or resource busy",
            ));
        }
        Ok(())
    }
}

const CASES: [&str; 3] = [
    "cases/default-deny/default-deny-all-cluster.yaml",
    "cases/ingress/ingress-allow-from-same-namespace.yaml",
    "cases/steps/steps-policy-delete.yaml",
];

struct Outputs {
    results: PathBuf,
    junit: PathBuf,
}

impl Outputs {
    fn new(test: &str) -> Outputs {
        let dir = std::env::temp_dir().join(format!("netpol-test-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch folder");
        Outputs {
            results: dir.join("results.json"),
            junit: dir.join("junit.xml"),
        }
    }

    fn results(&self) -> Results {
        serde_json::from_slice(&std::fs::read(&self.results).expect("results written"))
            .expect("a results file")
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        if let Some(dir) = self.results.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

async fn run(backend: Faulty, outputs: &Outputs) -> Result<u8, RunError> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut argv: Vec<String> = ["netpol", "run", "--backend", "oracle", "--quiet", "--cases"]
        .map(String::from)
        .to_vec();
    argv.extend(CASES.iter().map(|c| root.join(c).display().to_string()));
    argv.extend([
        "--output".into(),
        outputs.results.display().to_string(),
        "--junit".into(),
        outputs.junit.display().to_string(),
    ]);
    let Command::Run(args) = Cli::try_parse_from(argv).expect("valid flags").command else {
        panic!("a run");
    };
    let model = Model::default();
    let (cases, excluded) = select(&args.selection, &model).expect("the cases load");
    assert_eq!(cases.len(), CASES.len());
    run_on(backend, &args, &cases, &excluded, &model).await
}

#[tokio::test]
async fn a_teardown_that_fails_after_a_full_run_is_reported_after_everything_was_written() {
    let outputs = Outputs::new("teardown");
    let backend = Faulty {
        teardown_fails: true,
        ..Faulty::default()
    };
    let error = run(backend, &outputs).await.expect_err("a cleanup problem");
    assert!(matches!(error, RunError::Cleanup(_)), "{error:?}");
    assert_eq!(exit::of_error(&error), exit::CLEANUP_FAILED);
    assert_eq!(
        crate::error::chain(&error),
        "cleanup incomplete (`netpol cleanup` removes what a run left): \
         faulty backend: ip netns del netpol-000000-x-a: Device or resource busy"
    );
    let results = outputs.results();
    assert_eq!(results.summary.passed, 3, "every verdict stands");
    assert_eq!(
        results.cleanup.as_deref(),
        Some("faulty backend: ip netns del netpol-000000-x-a: Device or resource busy")
    );
    assert_eq!(results.stopped, None);
    assert!(outputs.junit.exists(), "JUnit is written too");
}

#[tokio::test]
async fn a_failed_reset_stops_the_run_and_the_cases_after_it_are_not_run() {
    let outputs = Outputs::new("reset");
    let backend = Faulty {
        resets_before_failing: Some(1),
        ..Faulty::default()
    };
    let error = run(backend, &outputs).await.expect_err("a backend failure");
    assert_eq!(exit::of_error(&error), exit::BACKEND_FAILED);
    let results = outputs.results();
    let verdicts: Vec<(&str, Verdict, &str)> = results
        .cases
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                c.verdict,
                c.reason.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("default-deny-all-cluster", Verdict::Passed, ""),
            (
                "ingress-allow-from-same-namespace",
                Verdict::Failed,
                "could not reset the world after the case: \
                 faulty backend: the enforcers did not acknowledge the reset"
            ),
            (
                "steps-policy-delete",
                Verdict::Skipped,
                "not run: the world could not be reset"
            ),
        ]
    );
    assert_eq!(
        results.stopped.as_deref(),
        Some(
            "the world could not be reset after case `ingress-allow-from-same-namespace`, \
             so the cases after it were not run: faulty backend: the enforcers did not acknowledge the reset"
        )
    );
}

#[tokio::test]
async fn a_backend_that_cannot_probe_fails_its_cases_and_the_run_says_the_backend_failed() {
    let outputs = Outputs::new("probe");
    let backend = Faulty {
        probe_fails: true,
        ..Faulty::default()
    };
    let error = run(backend, &outputs).await.expect_err("a backend failure");
    assert_eq!(exit::of_error(&error), exit::BACKEND_FAILED);
    assert!(
        crate::error::chain(&error).ends_with(
            "the world or the backend failed in 3 cases (a step that could not run, or probes \
             that observed nothing), whose failures say nothing about the policies: \
             default-deny-all-cluster, ingress-allow-from-same-namespace, steps-policy-delete"
        ),
        "{}",
        crate::error::chain(&error)
    );
    let results = outputs.results();
    assert_eq!(results.summary.failed, 3);
    assert_eq!(
        results.cases[0].reason.as_deref(),
        Some("step 0: faulty backend: every probe agent is gone")
    );
}
