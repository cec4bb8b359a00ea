//! Faults, each a test on the real dataplane: an enforcer killed mid-run, a
//! ruleset the kernel rejects, a policy the enforcer cannot read, a harness
//! stopped by a signal at every phase, a probe agent that dies.
//!
//! Needs root, iproute2 and nftables: without them each trial is reported
//! ignored with the reason, or fails with `NETPOL_REQUIRE_ENV=1` (CI). One
//! world at a time (`common/env.rs`).

#[macro_use]
#[path = "common/env.rs"]
mod env;
#[path = "faults/support.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use env::Needs;
use netpol_harness::backend::Backend;
use netpol_harness::backend::netns::{Cni, NetnsBackend};
use netpol_harness::case;
use netpol_harness::differential;
use netpol_harness::model::{Model, PodId, Probe, Protocol};
use netpol_harness::probe::Observed;
use netpol_harness::timeouts::Timeouts;
use netpol_harness::truth::{Pattern, Reach, Rule, table_from_rules};
use serde_json::json;
use support::{apply, differences, netpol_exe, runtime};

const TCP80: Probe = Probe::new(Protocol::Tcp, 80);
const UDP80: Probe = Probe::new(Protocol::Udp, 80);

/// Two steps whose matrices differ: y accepts only x, then x/a accepts nothing.
const TWO_STEPS: &str = r#"
name: fault-two-steps
probes: [tcp/80, udp/80]
steps:
  - apply:
      - apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: y-from-x, namespace: y}
        spec:
          podSelector: {}
          ingress: [{from: [{namespaceSelector: {matchLabels: {ns: x}}}]}]
    expect: oracle
  - delete: [{kind: NetworkPolicy, namespace: y, name: y-from-x}]
    apply:
      - apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: deny-x-a, namespace: x}
        spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress]}
    expect: oracle
"#;

fn an_enforcer_killed_mid_run_keeps_its_rules_and_once_restarted_reconciles_within_the_budget() {
    killed_and_restarted(NetnsBackend::new(Cni::Reference, netpol_exe()));
}

/// The same on the control plane: the enforcers are `netpol-enforcer
/// controller` watching kube-apiserver, step 1 is written through the API
/// while none runs, and the restarted controllers list it.
fn a_controller_killed_mid_run_keeps_its_rules_and_once_restarted_reconciles_from_the_api_server() {
    let binaries = runtime()
        .block_on(netpol_harness::controlplane::Binaries::find())
        .expect("engines built (gated)");
    killed_and_restarted(
        NetnsBackend::new(Cni::Reference, netpol_exe()).with_control_plane(binaries),
    );
}

fn killed_and_restarted(mut backend: NetnsBackend) {
    let model = Model::default();
    let case =
        case::parse_case(TWO_STEPS, Path::new("fault-two-steps.yaml"), &model).expect("valid");
    let run_id = backend.run_id().to_owned();
    runtime().block_on(async {
        let addresses = backend.setup(&model).await.expect("setup");
        let tables = differential::oracle_tables(&case, &model, &addresses).expect("oracle");
        assert_ne!(
            tables[0], tables[1],
            "the steps must differ to show reconciling"
        );
        let changes = |step: usize| -> Vec<_> {
            case.steps[step]
                .actions
                .iter()
                .map(|a| a.resolve(&model, &addresses).expect("resolves"))
                .collect()
        };
        backend.change(&changes(0)).await.expect("step 0");
        let probes = [TCP80, UDP80];
        // A controller applies on its own time: probe until step 0 holds.
        let written = Instant::now();
        let first = loop {
            let found = differences(&backend.probe(&probes).await.expect("probe"), &tables[0]);
            if found.is_empty() || written.elapsed() >= Timeouts::NETNS.enforce {
                break found;
            }
        };
        assert_eq!(first, Vec::<String>::new());

        backend.kill_enforcers();
        let enforcers =
            support::processes_mentioning(&format!("netpol-{run_id}/bin/netpol-enforcer"));
        assert!(
            enforcers.is_empty(),
            "SIGKILLed enforcers still run: {enforcers:?}"
        );
        let killed = backend.probe(&probes).await.expect("probe");
        assert_eq!(
            differences(&killed, &tables[0]),
            Vec::<String>::new(),
            "fail closed: the rules outlive the enforcer"
        );

        backend
            .change(&changes(1))
            .await
            .expect("written while nobody enforces");
        let stale = backend.probe(&probes).await.expect("probe");
        assert_eq!(
            differences(&stale, &tables[0]),
            Vec::<String>::new(),
            "nobody applied step 1 yet"
        );

        let restarted = Instant::now();
        backend.restart_enforcers().await.expect("restart");
        let budget = Timeouts::NETNS.enforce;
        // Probe at least once, however long the restart took.
        let last = loop {
            let found = differences(&backend.probe(&probes).await.expect("probe"), &tables[1]);
            if found.is_empty() || restarted.elapsed() >= budget {
                break found;
            }
        };
        assert!(
            last.is_empty(),
            "not reconciled within {budget:?}: {last:?}"
        );
        eprintln!(
            "reconciled and probed right {:?} after the restart",
            restarted.elapsed()
        );
        backend.teardown().await.expect("teardown");
    });
}

fn pattern(text: &str, model: &Model) -> Pattern {
    Pattern::parse(text, model).expect("pattern")
}

fn a_policy_the_enforcer_cannot_read_isolates_the_pods_it_selects_and_opens_nothing() {
    let model = Model::default();
    let mut backend = NetnsBackend::new(Cni::Reference, netpol_exe());
    let run_id = backend.run_id().to_owned();
    runtime().block_on(async {
        backend.setup(&model).await.expect("setup");
        let policies = vec![
            // A bad CIDR beside an allow-everything rule: read, it would open x/a to all.
            apply(json!({"metadata": {"name": "broken-cidr", "namespace": "x"},
                "spec": {"podSelector": {"matchLabels": {"pod": "a"}},
                         "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}, {}]}})),
            // An unknown operator in the podSelector: every pod of y, egress, nothing allowed.
            apply(json!({"metadata": {"name": "broken-selector", "namespace": "y"},
                "spec": {"podSelector": {"matchExpressions": [{"key": "pod", "operator": "Equals", "values": ["b"]}]},
                         "policyTypes": ["Egress"], "egress": [{}]}})),
            // A valid policy still allows what it allows: x/b into x/a.
            apply(json!({"metadata": {"name": "a-from-b", "namespace": "x"},
                "spec": {"podSelector": {"matchLabels": {"pod": "a"}},
                         "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]}})),
        ];
        backend.change(&policies).await.expect("the enforcers apply what they can read");
        let rules = [
            ("*", "x/a", false),
            ("x/b", "x/a", true),
            ("y/*", "*", false),
        ]
        .map(|(from, to, allow)| Rule { from: pattern(from, &model), to: pattern(to, &model), reach: Reach::from_allowed(allow) });
        let expected = table_from_rules(&model.pod_ids(), Reach::Allowed, &rules);
        let tables = [(TCP80, expected.clone()), (UDP80, expected)].into_iter().collect();
        let matrix = backend.probe(&[TCP80, UDP80]).await.expect("probe");
        assert_eq!(differences(&matrix, &tables), Vec::<String>::new());
        for node in ["node1", "node2"] {
            let path = std::env::temp_dir().join(format!("netpol-{run_id}/status-{node}.json"));
            let status = std::fs::read_to_string(&path).expect("status");
            for policy in ["x/broken-cidr", "y/broken-selector"] {
                assert!(status.contains(&format!("policy {policy}")), "{node} does not warn about {policy}: {status}");
            }
        }
        backend.teardown().await.expect("teardown");
    });
}

fn a_probe_agent_that_dies_turns_its_column_into_errors_never_connected_or_timeout() {
    let model = Model::default();
    let victim = PodId::new("y", "b");
    let column = model
        .pod_ids()
        .iter()
        .position(|p| *p == victim)
        .expect("y/b");
    let mut backend = NetnsBackend::new(Cni::Reference, netpol_exe());
    let run_id = backend.run_id().to_owned();
    runtime().block_on(async {
        backend.setup(&model).await.expect("setup");
        let netns = format!("netpol-{run_id}-y-b");
        let pids = Command::new("ip")
            .args(["netns", "pids", &netns])
            .output()
            .expect("ip netns pids");
        let pids: Vec<String> = String::from_utf8_lossy(&pids.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        assert_eq!(pids.len(), 1, "one agent in {netns}: {pids:?}");
        let agent =
            support::processes_mentioning(&format!("netpol-{run_id}/bin/netpol-probe serve"));
        assert!(
            agent.iter().any(|(pid, _)| pid.to_string() == pids[0]),
            "{agent:?}"
        );
        Command::new("kill")
            .args(["-KILL", &pids[0]])
            .status()
            .expect("kill");
        // Gone, or a zombie until the backend reaps its child.
        let dead = || {
            let stat = std::fs::read_to_string(Path::new("/proc").join(&pids[0]).join("stat"))
                .unwrap_or_default();
            (stat.is_empty()
                || stat
                    .rsplit(") ")
                    .next()
                    .is_some_and(|rest| rest.starts_with('Z')))
            .then_some(())
        };
        support::wait_for(Duration::from_secs(5), dead).expect("the agent is dead");

        let matrix = backend.probe(&[TCP80, UDP80]).await.expect("probe");
        for (probe, table) in &matrix {
            for from in 0..table.pods().len() {
                let cell = table.get(from, column);
                assert!(
                    matches!(cell, Observed::Error(_)),
                    "{probe} {} → y/b: {cell:?}",
                    table.pods()[from]
                );
            }
            assert_eq!(
                *table.get(0, 3),
                Observed::Connected,
                "{probe}: x/a → y/a is unaffected"
            );
        }
        backend.teardown().await.expect("teardown");
    });
}

#[path = "faults/dead_agents.rs"]
mod dead_agents;
#[path = "faults/nft.rs"]
mod nft;
#[path = "faults/signals.rs"]
mod signals;

fn main() -> std::process::ExitCode {
    env::run(vec![
        gated!(Needs::Netns, an_enforcer_killed_mid_run_keeps_its_rules_and_once_restarted_reconciles_within_the_budget),
        gated!(Needs::ControlPlane, a_controller_killed_mid_run_keeps_its_rules_and_once_restarted_reconciles_from_the_api_server),
        gated!(Needs::Netns, a_policy_the_enforcer_cannot_read_isolates_the_pods_it_selects_and_opens_nothing),
        gated!(Needs::Netns, a_probe_agent_that_dies_turns_its_column_into_errors_never_connected_or_timeout),
        gated!(Needs::Netns, nft::a_ruleset_the_kernel_rejects_keeps_the_previous_one_is_reported_and_the_next_good_state_applies),
        gated!(Needs::Netns, nft::a_run_whose_rulesets_the_kernel_rejects_says_so_and_leaves_nothing_behind),
        gated!(Needs::Netns, dead_agents::cells_of_dead_agents_are_written_null_and_shown_as_failed_probes),
        gated!(Needs::Netns, dead_agents::with_every_agent_dead_the_none_runs_known_deviations_do_not_excuse_it),
        gated!(Needs::Netns, signals::sigint_or_sigterm_at_any_phase_leaves_no_namespace_process_or_folder),
    ])
}
