//! What the runner refuses to leave unjudged.

use std::path::Path;

use std::time::Duration;

use super::{run_case, run_case_within};
use crate::backend::oracle::OracleBackend;
use crate::backend::{Backend, BackendResult, Capabilities, ClusterInfo, CniInfo};
use crate::case::{Case, Expectation, parse_case};
use crate::model::{Addresses, Change, Family, IpFamily, Model, Probe, Protocol};
use crate::probe::{Matrix, Observed, ObservedTable, Paths};
use crate::report::json::{Results, RunInfo};
use crate::timeouts::Timeouts;
use crate::verdict::{CaseResult, Failure, Verdict};

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

/// The oracle's world probed by two paths, either of which may leave the
/// policies unenforced (every cell connected), as a CNI might on pod IPs
/// while kube-proxy's Service path blocks, or the other way round.
struct TwoPaths {
    inner: OracleBackend,
    pod_open: bool,
    service_open: bool,
}

impl TwoPaths {
    fn new(pod_open: bool, service_open: bool) -> TwoPaths {
        TwoPaths {
            inner: OracleBackend::new(),
            pod_open,
            service_open,
        }
    }
}

fn all_connected(matrix: &Matrix) -> Matrix {
    matrix
        .iter()
        .map(|(probe, table)| {
            let open = ObservedTable::filled(table.pods().to_vec(), Observed::Connected);
            (*probe, open)
        })
        .collect()
}

impl Backend for TwoPaths {
    fn name(&self) -> &'static str {
        "two-paths"
    }
    fn cni(&self) -> CniInfo {
        self.inner.cni()
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            timeouts: Timeouts::CLUSTER,
            ..self.inner.capabilities()
        }
    }
    fn cluster(&self) -> ClusterInfo {
        self.inner.cluster()
    }
    async fn setup(&mut self, model: &Model) -> BackendResult<Addresses> {
        self.inner.setup(model).await
    }
    async fn reset(&mut self) -> BackendResult<()> {
        self.inner.reset().await
    }
    async fn change(&mut self, changes: &[Change]) -> BackendResult<()> {
        self.inner.change(changes).await
    }
    async fn probe(&mut self, probes: &[Probe]) -> BackendResult<Matrix> {
        self.inner.probe(probes).await
    }
    async fn probe_paths(&mut self, probes: &[Probe]) -> BackendResult<Paths> {
        let enforced = self.inner.probe(probes).await?;
        let path = |open: bool| {
            if open {
                all_connected(&enforced)
            } else {
                enforced.clone()
            }
        };
        Ok(Paths {
            pod: Some(path(self.pod_open)),
            service: Some(path(self.service_open)),
        })
    }
    async fn teardown(&mut self) -> BackendResult<()> {
        self.inner.teardown().await
    }
}

async fn run_on<B: Backend>(backend: &mut B, case: &Case, enforce: Option<Duration>) -> CaseResult {
    let model = Model::default();
    let addresses = backend.setup(&model).await.expect("setup");
    let run = run_case_within(backend, case, &model, &addresses, IpFamily::Ipv4, enforce).await;
    assert!(run.unreset.is_none());
    run.result
}

async fn run_in(case: &Case, ip_family: IpFamily) -> crate::verdict::CaseResult {
    let model = Model::default();
    let mut backend = OracleBackend::new();
    let addresses = backend.setup(&model).await.expect("setup");
    let run = run_case(&mut backend, case, &model, &addresses, ip_family).await;
    assert!(run.unreset.is_none());
    run.result
}

fn results_json(result: &CaseResult) -> serde_json::Value {
    let info = RunInfo {
        backend: "two-paths".into(),
        cni: CniInfo {
            name: "test".into(),
            version: None,
        },
        cluster: ClusterInfo::default(),
        started: std::time::SystemTime::UNIX_EPOCH,
        duration: Duration::ZERO,
        ip_family: IpFamily::Ipv4,
        stopped: None,
        cleanup: None,
        interrupted: None,
    };
    serde_json::to_value(Results::new(info, std::slice::from_ref(result))).expect("json")
}

// Paused: the step's deadline passes in virtual time.
#[tokio::test(start_paused = true)]
async fn with_both_paths_a_cell_passes_only_if_both_match_and_the_divergences_are_in_the_results() {
    // Into x/* is expected blocked: 24 cells on each of the two probes.
    for (pod_open, service_open) in [(true, false), (false, true)] {
        let mut backend = TwoPaths::new(pod_open, service_open);
        let result = run_on(&mut backend, &case(), None).await;
        assert_eq!(result.verdict, Verdict::Failed, "pod open {pod_open}");
        assert_eq!(result.failure, Some(Failure::Cells));
        assert!(
            !result.backend_failed(),
            "a verdict on the policy, not a broken backend"
        );
        let step = &result.steps[0];
        let (by_pod, by_service) = if pod_open { (48, 0) } else { (0, 48) };
        assert_eq!(
            step.reason.as_deref(),
            Some(
                format!(
                    "step 0: 48 cells differ after 121 attempts ({by_pod} by pod IP, {by_service} by Service)"
                )
                .as_str()
            )
        );
        assert_eq!(step.divergences.len(), 48);
        let json = results_json(&result);
        let step = &json["cases"][0]["steps"][0];
        let divergences = step["divergences"]
            .as_array()
            .expect("divergences in the JSON");
        assert_eq!(divergences.len(), 48);
        let open = if pod_open { "pod" } else { "service" };
        let blocked = if pod_open { "service" } else { "pod" };
        assert_eq!(divergences[0]["from"], "x/a");
        assert_eq!(divergences[0]["to"], "x/b");
        assert_eq!(divergences[0]["probe"], "tcp/80");
        assert_eq!(divergences[0][open], "connected");
        assert_eq!(divergences[0][blocked], "timeout");
        let mismatches = |probes: &serde_json::Value| {
            probes
                .as_object()
                .expect("probes")
                .values()
                .map(|p| p["mismatches"].as_array().expect("mismatches").len())
                .sum::<usize>()
        };
        assert_eq!(mismatches(&step["probes"]), by_pod);
        assert_eq!(mismatches(&step["service_probes"]), by_service);
        // The HTML report and the terminal show them too.
        let results: Results = serde_json::from_value(json).expect("the results read back");
        let junit = crate::report::junit::report(&results)
            .to_string()
            .expect("JUnit XML");
        let failing = if pod_open {
            "tcp/80:"
        } else {
            "tcp/80 by Service:"
        };
        assert!(
            junit.contains(&format!(
                "48 cells differ: x/a → x/b {failing} expected blocked"
            )),
            "JUnit names the failing path's cells: {junit}"
        );
        let run = crate::report::runs::Run {
            label: "two-paths".into(),
            path: "results.json".into(),
            results,
        };
        let page = crate::report::html::page(&[run]);
        assert!(
            page.contains("48 cells where the pod IP and the Service paths differ (final round)"),
            "the HTML lists the divergences"
        );
        assert!(
            page.contains("tcp/80 by Service"),
            "each path has its grids"
        );
        let text = crate::report::terminal::failure(&result);
        assert!(
            text.contains(
                "  step 0: 48 cells where the pod IP and the Service paths differ (final round):"
            ),
            "{text}"
        );
        let first = if pod_open {
            "    x/a → x/b tcp/80: pod IP connected, Service timeout"
        } else {
            "    x/a → x/b tcp/80: pod IP timeout, Service connected"
        };
        assert!(text.contains(first), "{text}");
    }
    // Both paths enforcing: passes, nothing diverges, the JSON has no divergences.
    let mut backend = TwoPaths::new(false, false);
    let result = run_on(&mut backend, &case(), None).await;
    assert_eq!(result.verdict, Verdict::Passed);
    assert!(result.steps[0].divergences.is_empty());
    assert!(
        results_json(&result)["cases"][0]["steps"][0]
            .get("divergences")
            .is_none()
    );
}

#[tokio::test(start_paused = true)]
async fn a_step_that_keeps_seeing_the_no_policy_matrix_stops_early_and_says_so() {
    let no_policy = "stopped after 10.0 s of 60 s: 21 rounds in a row saw every cell connected, as with no policy";
    let mut backend = TwoPaths::new(true, true);
    let result = run_on(&mut backend, &case(), None).await;
    let reason = result.reason.expect("a reason");
    // Rounds every 500 ms: the 21st is the first at 10 s.
    assert!(reason.contains("after 21 attempts"), "{reason}");
    assert!(reason.ends_with(no_policy), "{reason}");
    assert_eq!(result.verdict, Verdict::Failed);
    // A short deadline stops at half of it: 2.5 s of 5 s, the 6th round.
    let mut backend = TwoPaths::new(true, true);
    let result = run_on(&mut backend, &case(), Some(Duration::from_secs(5))).await;
    let reason = result.reason.expect("a reason");
    assert!(reason.contains("after 6 attempts"), "{reason}");
    assert!(
        reason.ends_with("stopped after 2.5 s of 5 s: 6 rounds in a row saw every cell connected, as with no policy"),
        "{reason}"
    );
    // One path enforcing: the matrix is not the no-policy one, the whole deadline is waited.
    let mut backend = TwoPaths::new(true, false);
    let result = run_on(&mut backend, &case(), None).await;
    let reason = result.reason.expect("a reason");
    assert!(reason.contains("after 121 attempts"), "{reason}");
    assert!(!reason.contains("no policy"), "{reason}");
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

/// A policy that selects no pod: the world it expects is the one without policy.
const SELECTS_NOBODY: &str = "name: t
probes: [tcp/80]
policies:
  - apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: deny-nobody, namespace: x}
    spec: {podSelector: {matchLabels: {pod: nobody}}, policyTypes: [Ingress]}
expect:
  all: {default: allow}
";

/// An engine that watches the API, nobody acknowledging its changes: the
/// oracle's world until `wrong_from` after the change, then (if set) a
/// wrongly programmed block of x/a → y/a.
struct LateEngine {
    inner: OracleBackend,
    changed: Option<tokio::time::Instant>,
    wrong_from: Option<Duration>,
}

impl Backend for LateEngine {
    fn name(&self) -> &'static str {
        "late-engine"
    }
    fn cni(&self) -> CniInfo {
        self.inner.cni()
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            timeouts: Timeouts::NETNS_ENGINE,
            ..self.inner.capabilities()
        }
    }
    fn cluster(&self) -> ClusterInfo {
        self.inner.cluster()
    }
    async fn setup(&mut self, model: &Model) -> BackendResult<Addresses> {
        self.inner.setup(model).await
    }
    async fn reset(&mut self) -> BackendResult<()> {
        self.inner.reset().await
    }
    async fn change(&mut self, changes: &[Change]) -> BackendResult<()> {
        self.changed = Some(tokio::time::Instant::now());
        self.inner.change(changes).await
    }
    async fn probe(&mut self, probes: &[Probe]) -> BackendResult<Matrix> {
        let mut matrix = self.inner.probe(probes).await?;
        let late = match (self.changed, self.wrong_from) {
            (Some(changed), Some(after)) => changed.elapsed() >= after,
            _ => false,
        };
        if late {
            for table in matrix.values_mut() {
                table.set(0, 3, Observed::Refused);
            }
        }
        Ok(matrix)
    }
    async fn teardown(&mut self) -> BackendResult<()> {
        self.inner.teardown().await
    }
}

fn late_engine(wrong_from: Option<Duration>) -> LateEngine {
    LateEngine {
        inner: OracleBackend::new(),
        changed: None,
        wrong_from,
    }
}

// Paused: the settle time passes in virtual time.
#[tokio::test(start_paused = true)]
async fn a_step_with_nothing_visible_to_wait_for_is_judged_only_after_the_settle_time() {
    let case = parse_case(SELECTS_NOBODY, Path::new("t.yaml"), &Model::default()).expect("valid");
    // Programmed wrongly 1 s after the change: the first rounds match, as
    // the world without policy does, but the step does not stop at them.
    let result = run_on(&mut late_engine(Some(Duration::from_secs(1))), &case, None).await;
    assert_eq!(result.verdict, Verdict::Failed, "{:?}", result.reason);
    let reason = result.reason.expect("a reason");
    assert!(
        reason.starts_with("step 0: 1 cell differs after "),
        "{reason}"
    );
    // Programmed right (or not at all): it passes once the settle time has
    // passed, after rounds every 50 ms, with the time of its first match.
    let result = run_on(&mut late_engine(None), &case, None).await;
    assert_eq!(result.verdict, Verdict::Passed, "{:?}", result.reason);
    let step = &result.steps[0];
    assert!(step.attempts > 1, "{} attempts", step.attempts);
    assert_eq!(step.time_to_enforce, Some(Duration::ZERO));
    // A step whose expectation shows the change is judged on its first match.
    let mut backend = late_engine(None);
    let result = run_on(&mut backend, &case_with_block("192.0.2.0/24"), None).await;
    assert_eq!(result.verdict, Verdict::Passed, "{:?}", result.reason);
    assert_eq!(result.steps[0].attempts, 1);
}
