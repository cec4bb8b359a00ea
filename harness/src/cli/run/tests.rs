//! `netpol run` when the backend fails at each point: what is written, what
//! is said, and the exit code.

use std::path::{Path, PathBuf};

use clap::Parser as _;

use super::run_until;
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
    /// Probes answer every cell refused, as a datapath that drops all.
    all_refused: bool,
    /// The cluster backends' waits instead of the oracle's (none).
    cluster_timeouts: bool,
    /// Probes that answer before every later one hangs, as a stuck agent.
    probes_before_hanging: Option<usize>,
    /// Teardown never returns, as a cluster that stopped answering.
    teardown_hangs: bool,
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
        let mut capabilities = self.inner.capabilities();
        if self.cluster_timeouts {
            capabilities.timeouts = crate::timeouts::Timeouts::CLUSTER;
        }
        capabilities
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
        match &mut self.probes_before_hanging {
            Some(0) => std::future::pending().await,
            Some(left) => *left -= 1,
            None => {}
        }
        let mut matrix = self.inner.probe(probes).await?;
        if self.all_refused {
            for table in matrix.values_mut() {
                *table = crate::probe::ObservedTable::filled(
                    table.pods().to_vec(),
                    crate::probe::Observed::Refused,
                );
            }
        }
        Ok(matrix)
    }
    async fn teardown(&mut self) -> BackendResult<()> {
        if self.teardown_hangs {
            std::future::pending::<()>().await;
        }
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
    run_with(backend, outputs, &[], std::future::pending()).await
}

/// A run of `CASES` with `flags`, stopped as by a signal when `signal` resolves.
async fn run_with(
    backend: Faulty,
    outputs: &Outputs,
    flags: &[&str],
    signal: impl std::future::Future<Output = &'static str>,
) -> Result<u8, RunError> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut argv: Vec<String> = ["netpol", "run", "--backend", "oracle", "--quiet"]
        .map(String::from)
        .to_vec();
    argv.extend(flags.iter().map(|f| f.to_string()));
    argv.push("--cases".into());
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
    run_until(backend, &args, &cases, &excluded, &model, signal).await
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

#[tokio::test]
async fn a_signal_mid_run_still_writes_the_cases_judged_before_it_and_marks_the_rest_interrupted() {
    let outputs = Outputs::new("signal");
    // The first case's one probe answers; the second case's hangs until the signal.
    let backend = Faulty {
        probes_before_hanging: Some(1),
        ..Faulty::default()
    };
    let signal = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        "interrupted"
    };
    let code = run_with(backend, &outputs, &[], signal)
        .await
        .expect("an interrupted run is no error");
    assert_eq!(code, exit::INTERRUPTED);
    let results = outputs.results();
    assert_eq!(results.interrupted.as_deref(), Some("interrupted"));
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
                Verdict::Skipped,
                "not run: the run was interrupted (interrupted)"
            ),
            (
                "steps-policy-delete",
                Verdict::Skipped,
                "not run: the run was interrupted (interrupted)"
            ),
        ]
    );
    assert!(outputs.junit.exists(), "JUnit is written too");
}

// Paused: the runner's clock advances only by its own polls, so the count
// of probing rounds is exact.
#[tokio::test(start_paused = true)]
async fn enforce_timeout_replaces_the_backends_deadline() {
    let outputs = Outputs::new("enforce-timeout");
    let backend = || Faulty {
        all_refused: true,
        cluster_timeouts: true,
        ..Faulty::default()
    };
    let reason = |outputs: &Outputs| {
        let results = outputs.results();
        let case = results
            .cases
            .iter()
            .find(|c| c.name == "ingress-allow-from-same-namespace")
            .expect("judged")
            .clone();
        assert_eq!(case.verdict, Verdict::Failed);
        case.reason.expect("a reason")
    };
    // Rounds at 0, 0.5, 1, 1.5 and 2 s of a 2 s deadline (polls of 500 ms).
    run_with(
        backend(),
        &outputs,
        &["--enforce-timeout", "2s"],
        std::future::pending(),
    )
    .await
    .expect("a run with failures");
    assert!(
        reason(&outputs).contains("after 5 attempts"),
        "{}",
        reason(&outputs)
    );
    // The cluster's own 60 s: 121 rounds.
    run_with(backend(), &outputs, &[], std::future::pending())
        .await
        .expect("a run with failures");
    assert!(
        reason(&outputs).contains("after 121 attempts"),
        "{}",
        reason(&outputs)
    );
}

#[test]
fn enforce_timeout_reads_seconds_and_milliseconds_and_refuses_anything_else() {
    let parse = |value: &str| {
        Cli::try_parse_from(["netpol", "run", "--enforce-timeout", value]).map(|cli| {
            match cli.command {
                Command::Run(args) => args.enforce_timeout,
                _ => None,
            }
        })
    };
    use std::time::Duration;
    assert_eq!(parse("30").unwrap(), Some(Duration::from_secs(30)));
    assert_eq!(parse("2.5s").unwrap(), Some(Duration::from_millis(2500)));
    assert_eq!(parse("500ms").unwrap(), Some(Duration::from_millis(500)));
    for bad in ["-1", "soon", "5m", ""] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn on_a_signal_the_partial_results_are_on_disk_before_teardown_starts() {
    let outputs = Outputs::new("signal-hung-teardown");
    let backend = Faulty {
        probes_before_hanging: Some(1),
        teardown_hangs: true,
        ..Faulty::default()
    };
    let signal = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        "terminated"
    };
    // The run never ends (its teardown hangs): give up on it after the signal.
    let run = run_with(backend, &outputs, &[], signal);
    let gave_up = tokio::time::timeout(std::time::Duration::from_secs(5), run).await;
    assert!(gave_up.is_err(), "teardown hangs, so the run cannot end");
    let results = outputs.results();
    assert_eq!(results.interrupted.as_deref(), Some("terminated"));
    assert_eq!(results.cases[0].verdict, Verdict::Passed);
    assert_eq!(results.cleanup, None, "teardown has not said anything yet");
}
