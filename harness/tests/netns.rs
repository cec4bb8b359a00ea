//! The netns backend for real: namespaces, veths, probe agents and enforcers
//! on this kernel. Needs root, iproute2 and nftables: without them each
//! trial is reported ignored with the reason, or fails with
//! `NETPOL_REQUIRE_ENV=1` (CI). One world at a time (`common/env.rs`).

#[macro_use]
#[path = "common/env.rs"]
mod env;

#[path = "common/leftovers.rs"]
mod leftovers;
use leftovers::run_namespaces;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::networking::v1::NetworkPolicy;
use netpol_harness::backend::Backend;
use netpol_harness::backend::netns::{Cni, NetnsBackend};
use netpol_harness::model::{Change, Family, Model, Probe, Protocol};
use netpol_harness::probe::{Matrix, Observed};
use netpol_harness::timeouts::Timeouts;

use env::Needs;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn netpol_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_netpol"))
}

fn count(matrix: &Matrix, wanted: impl Fn(&Observed) -> bool) -> usize {
    matrix
        .values()
        .map(|t| {
            (0..t.pods().len())
                .flat_map(|f| (0..t.pods().len()).map(move |to| (f, to)))
                .filter(|&(f, to)| f != to && wanted(t.get(f, to)))
                .count()
        })
        .sum()
}

fn policy(json: serde_json::Value) -> Change {
    Change::Apply(Box::new(
        serde_json::from_value::<NetworkPolicy>(json).expect("a policy"),
    ))
}

const TCP80: Probe = Probe::new(Protocol::Tcp, 80);

fn without_enforcement_every_pod_reaches_every_pod_and_nothing_is_left_behind() {
    let model = Model::default();
    let mut backend = NetnsBackend::new(Cni::None, netpol_exe());
    let run_id = backend.run_id().to_owned();
    runtime().block_on(async {
        backend.setup(&model).await.expect("setup");
        assert_eq!(run_namespaces(&run_id).len(), 12);
        let matrix = backend.probe(&Probe::DEFAULTS).await.expect("probe");
        assert_eq!(
            count(&matrix, |o| *o == Observed::Connected),
            4 * 72,
            "{matrix:?}"
        );
        backend.teardown().await.expect("teardown");
    });
    assert!(run_namespaces(&run_id).is_empty());
    assert!(
        !std::env::temp_dir()
            .join(format!("netpol-{run_id}"))
            .exists()
    );
}

fn the_reference_enforcer_blocks_and_unblocks_as_policies_come_and_go() {
    let model = Model::default();
    let mut backend = NetnsBackend::new(Cni::Reference, netpol_exe());
    runtime().block_on(async {
        backend.setup(&model).await.expect("setup");
        let deny = policy(serde_json::json!({
            "metadata": {"name": "deny", "namespace": "x"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}
        }));
        backend.change(&[deny]).await.expect("apply");
        let matrix = backend.probe(&[TCP80]).await.expect("probe");
        let table = &matrix[&TCP80];
        // Into x: 6 sources from y and z plus 2 within x, for each of the 3 pods of x.
        let blocked = (0..9)
            .flat_map(|f| (0..3).map(move |t| (f, t)))
            .filter(|&(f, t)| f != t);
        for (from, to) in blocked {
            assert_eq!(*table.get(from, to), Observed::Timeout, "{from} → {to}");
        }
        assert_eq!(
            *table.get(0, 3),
            Observed::Connected,
            "x/a → y/a is not isolated"
        );
        let delete = Change::Delete {
            namespace: "x".into(),
            name: "deny".into(),
        };
        backend.change(&[delete]).await.expect("delete");
        let matrix = backend.probe(&[TCP80]).await.expect("probe");
        assert_eq!(
            count(&matrix, |o| *o != Observed::Connected),
            0,
            "{matrix:?}"
        );
        backend.teardown().await.expect("teardown");
    });
}

/// Every pod is dual-stack: with nothing enforced every pod reaches every
/// pod over IPv6 at once (no DAD delay), and the enforcer judges each family
/// by its own blocks: an IPv4 ipBlock admits no IPv6 traffic, `::/0` does.
fn every_pod_reaches_every_pod_over_ipv6_and_blocks_are_judged_per_family() {
    let model = Model::default();
    let v6 = TCP80.in_family(Family::V6);
    let mut open = NetnsBackend::new(Cni::None, netpol_exe());
    runtime().block_on(async {
        let addresses = open.setup(&model).await.expect("setup");
        assert!(addresses.ips.values().all(|ips| ips.v6.is_some()));
        // The first round right after setup: an address still tentative
        // would fail here.
        let matrix = open.probe(&[TCP80, v6]).await.expect("probe");
        assert_eq!(
            count(&matrix, |o| *o == Observed::Connected),
            2 * 72,
            "{matrix:?}"
        );
        open.teardown().await.expect("teardown");
    });
    let mut backend = NetnsBackend::new(Cni::Reference, netpol_exe());
    runtime().block_on(async {
        backend.setup(&model).await.expect("setup");
        // Into x/a: everything over IPv4 (0.0.0.0/0), nothing over IPv6.
        let v4_only = policy(serde_json::json!({
            "metadata": {"name": "v4-only", "namespace": "x"},
            "spec": {"podSelector": {"matchLabels": {"pod": "a"}},
                     "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}
        }));
        backend.change(&[v4_only]).await.expect("apply");
        let matrix = backend.probe(&[TCP80, v6]).await.expect("probe");
        for from in 1..9 {
            assert_eq!(
                *matrix[&TCP80].get(from, 0),
                Observed::Connected,
                "v4 {from}"
            );
            assert_eq!(*matrix[&v6].get(from, 0), Observed::Timeout, "v6 {from}");
        }
        let both = policy(serde_json::json!({
            "metadata": {"name": "v6-too", "namespace": "x"},
            "spec": {"podSelector": {"matchLabels": {"pod": "a"}},
                     "ingress": [{"from": [{"ipBlock": {"cidr": "::/0"}}]}]}
        }));
        backend.change(&[both]).await.expect("apply");
        let matrix = backend.probe(&[TCP80, v6]).await.expect("probe");
        assert_eq!(
            count(&matrix, |o| *o != Observed::Connected),
            0,
            "{matrix:?}"
        );
        backend.teardown().await.expect("teardown");
    });
}

fn a_fully_blocked_matrix_takes_less_than_twice_the_probe_timeout() {
    let model = Model::default();
    let mut backend = NetnsBackend::new(Cni::Reference, netpol_exe());
    runtime().block_on(async {
        backend.setup(&model).await.expect("setup");
        let deny = policy(serde_json::json!({
            "metadata": {"name": "deny-all", "namespace": "x"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        }));
        let mut changes = vec![deny.clone()];
        for ns in ["y", "z"] {
            let mut json = serde_json::to_value(match &deny {
                Change::Apply(p) => p.as_ref().clone(),
                _ => unreachable!(),
            })
            .expect("json");
            json["metadata"]["namespace"] = ns.into();
            changes.push(policy(json));
        }
        backend.change(&changes).await.expect("apply");
        // The best of three: other tests share the two cores.
        let mut took = Duration::MAX;
        for _ in 0..3 {
            let started = Instant::now();
            let matrix = backend.probe(&Probe::DEFAULTS).await.expect("probe");
            took = took.min(started.elapsed());
            assert_eq!(
                count(&matrix, |o| *o == Observed::Connected),
                0,
                "{matrix:?}"
            );
        }
        assert!(
            took < 2 * Timeouts::NETNS.probe,
            "full blocked matrix took {took:?}"
        );
        eprintln!("full blocked matrix (9×9, 4 probes): {took:?}");
        backend.teardown().await.expect("teardown");
    });
}

/// The folder of the run that `pid` owns, once its world exists.
fn run_folder_of(pid: u32, within: Duration) -> Option<PathBuf> {
    let deadline = Instant::now() + within;
    loop {
        let found = std::fs::read_dir(std::env::temp_dir())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                std::fs::read_to_string(p.join("owner.pid"))
                    .is_ok_and(|o| o.trim() == pid.to_string())
                    && p.join("state.json").exists()
            });
        if found.is_some() || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Namespaces and processes still there for the run in `folder`.
fn leftovers(folder: &std::path::Path) -> (Vec<String>, String) {
    let name = folder.file_name().and_then(|n| n.to_str()).expect("utf-8");
    let run_id = name.trim_start_matches("netpol-");
    let procs = Command::new("pgrep")
        .args(["-f", &format!("{}/", folder.display())])
        .output()
        .expect("pgrep");
    (
        run_namespaces(run_id),
        String::from_utf8_lossy(&procs.stdout).into_owned(),
    )
}

fn start_run(cases: &str) -> std::process::Child {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    Command::new(netpol_exe())
        .current_dir(&root)
        .args(["run", "--backend", "netns", "--cases", cases])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("netpol runs")
}

fn a_killed_run_is_removed_by_netpol_cleanup() {
    let mut child = start_run("cases");
    let folder =
        run_folder_of(child.id(), Duration::from_secs(30)).expect("the run built its world");
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let output = Command::new(netpol_exe())
        .arg("cleanup")
        .output()
        .expect("cleanup runs");
    assert!(output.status.success(), "{output:?}");
    assert!(!folder.exists(), "the run folder is still there");
    let (namespaces, processes) = leftovers(&folder);
    assert!(namespaces.is_empty(), "namespaces left: {namespaces:?}");
    assert!(processes.is_empty(), "processes left: {processes}");
}

fn sigterm_stops_a_run_and_removes_its_world() {
    let child = start_run("cases");
    let folder =
        run_folder_of(child.id(), Duration::from_secs(30)).expect("the run built its world");
    std::thread::sleep(Duration::from_millis(500));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    let output = child.wait_with_output().expect("reaped");
    assert_eq!(output.status.code(), Some(130), "{output:?}");
    assert!(!folder.exists(), "the run folder is still there");
    let (namespaces, processes) = leftovers(&folder);
    assert!(namespaces.is_empty(), "namespaces left: {namespaces:?}");
    assert!(processes.is_empty(), "processes left: {processes}");
}

fn a_killed_enforcer_leaves_its_rules_in_force_and_a_restarted_one_reconciles() {
    let model = Model::default();
    let mut backend = NetnsBackend::new(Cni::Reference, netpol_exe());
    runtime().block_on(async {
        backend.setup(&model).await.expect("setup");
        let deny = policy(serde_json::json!({
            "metadata": {"name": "deny", "namespace": "y"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}
        }));
        backend.change(&[deny]).await.expect("apply");
        let into_y = |matrix: &Matrix| {
            let table = &matrix[&TCP80];
            (0..3)
                .map(|from| table.get(from, 3).clone())
                .collect::<Vec<_>>()
        };
        let before = backend.probe(&[TCP80]).await.expect("probe");
        assert_eq!(into_y(&before), vec![Observed::Timeout; 3]);
        backend.kill_enforcers();
        let killed = backend.probe(&[TCP80]).await.expect("probe");
        assert_eq!(
            into_y(&killed),
            vec![Observed::Timeout; 3],
            "fail closed: the rules outlive the enforcer"
        );
        let delete = Change::Delete {
            namespace: "y".into(),
            name: "deny".into(),
        };
        backend
            .change(&[delete])
            .await
            .expect("written while the enforcers are down");
        let stale = backend.probe(&[TCP80]).await.expect("probe");
        assert_eq!(
            into_y(&stale),
            vec![Observed::Timeout; 3],
            "nobody applied the delete yet"
        );
        let restarted = Instant::now();
        backend.restart_enforcers().await.expect("restart");
        let after = backend.probe(&[TCP80]).await.expect("probe");
        assert_eq!(
            into_y(&after),
            vec![Observed::Connected; 3],
            "the restarted enforcer reconciled"
        );
        assert!(
            restarted.elapsed() < Timeouts::NETNS.enforce,
            "reconciled in {:?}",
            restarted.elapsed()
        );
        backend.teardown().await.expect("teardown");
    });
}

fn with_no_enforcement_exactly_the_cases_that_expect_a_block_fail() {
    use netpol_harness::report::json::Results;
    use netpol_harness::truth::Reach;
    use netpol_harness::verdict::Verdict;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let model = Model::default();
    let cases =
        netpol_harness::case::load_paths(&[root.join("cases")], &model).expect("the library loads");
    let out = std::env::temp_dir().join(format!("none-{}.json", std::process::id()));
    let output = Command::new(netpol_exe())
        .current_dir(&root)
        .args([
            "run",
            "--backend",
            "netns",
            "--cni",
            "none",
            "--ip-family",
            "dual",
            "--output",
        ])
        .arg(&out)
        .output()
        .expect("netpol runs");
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Results =
        serde_json::from_slice(&std::fs::read(&out).expect("written")).expect("results");
    let _ = std::fs::remove_file(&out);
    let sctp = netpol_probe::sctp_supported();
    for case in &cases {
        let carried = |p: &Probe| p.protocol != Protocol::Sctp || sctp;
        // A blocked cell off the diagonal, on a probe the backend carries,
        // in either family (the run is dual).
        let expects_block = case.steps.iter().any(|step| {
            case.probes
                .iter()
                .filter(|p| carried(p))
                .flat_map(|p| Family::ALL.map(|family| p.in_family(family)))
                .filter_map(|p| step.expect.table(&p))
                .any(|table| {
                    let n = table.pods().len();
                    (0..n).any(|f| (0..n).any(|t| f != t && table.get(f, t) == Reach::Denied))
                })
        });
        let verdict = results
            .cases
            .iter()
            .find(|c| c.name == case.name)
            .expect("every case has a result")
            .verdict;
        let wanted = if expects_block {
            Verdict::Failed
        } else if case.probes.iter().all(carried) {
            Verdict::Passed
        } else {
            Verdict::Skipped
        };
        assert_eq!(verdict, wanted, "{}", case.name);
    }
}

fn an_ordinary_user_runs_the_netns_backend_inside_a_user_namespace() {
    // A copy every user can read: the build folder may be private.
    let dir = std::env::temp_dir().join(format!("netpol-userns-test-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("cases")).expect("dir");
    std::fs::copy(netpol_exe(), dir.join("netpol")).expect("copy");
    let case = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../cases/default-deny/default-deny-ingress-namespace.yaml");
    std::fs::copy(&case, dir.join("cases/default-deny-ingress-namespace.yaml")).expect("copy");
    Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(&dir)
        .status()
        .expect("chmod");
    let output = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(dir.join("netpol"))
        .args(["run", "--backend", "netns", "--cases"])
        .arg(dir.join("cases"))
        .current_dir(&dir)
        .output()
        .expect("netpol runs");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let userns = Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "unshare",
            "--user",
            "--map-root-user",
            "true",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if userns {
        assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
        assert_eq!(
            stdout.lines().last(),
            Some("netpol: 1 passed, 0 failed, 0 skipped")
        );
    } else {
        assert_eq!(output.status.code(), Some(2), "{stdout}{stderr}");
        assert!(stderr.contains("needs root"), "{stderr}");
    }
}

fn a_udp_flow_allowed_before_a_deny_is_cut_by_it() {
    let model = Model::default();
    let mut backend = NetnsBackend::new(Cni::Reference, netpol_exe());
    runtime().block_on(async {
        backend.setup(&model).await.expect("setup");
        let y_a = backend.topology().expect("set up").pods[3].clone();
        // The same 5-tuple each time: to conntrack the second datagram belongs
        // to the flow the first one opened.
        let args = [
            "probe".to_owned(),
            "--timeout-ms".to_owned(),
            "300".to_owned(),
            "--source-port".to_owned(),
            "40001".to_owned(),
            "--target".to_owned(),
            format!("{}={}:udp/80", y_a.id, y_a.ip),
        ];
        let (program, args) = backend.agent_command(0, &args).expect("a pod");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let probe = || async {
            let out = netpol_harness::command::run(&program, &args, None, Duration::from_secs(5))
                .await
                .expect("probe runs");
            serde_json::from_str::<netpol_probe::Observation>(out.stdout.trim())
                .expect("one line")
                .result
        };
        assert_eq!(probe().await, netpol_probe::Outcome::Connected);
        let deny = policy(serde_json::json!({
            "metadata": {"name": "deny", "namespace": "y"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}
        }));
        backend.change(&[deny]).await.expect("apply");
        assert_eq!(
            probe().await,
            netpol_probe::Outcome::Timeout,
            "the old flow outlived the deny"
        );
        backend.teardown().await.expect("teardown");
    });
}

/// Each probing round's UDP probes leave from a port of its own, the next
/// of `probe::SOURCE_PORTS` (so no probe is a datagram of a flow conntrack
/// still holds): after two rounds the nodes' conntrack tables hold x/a →
/// y/a udp/80 from exactly two source ports, one after the other. With
/// kernel-picked ports they would be consecutive once in 28,232 runs.
fn two_probing_rounds_send_udp_from_two_consecutive_ports_of_the_range() {
    let model = Model::default();
    let mut backend = NetnsBackend::new(Cni::Reference, netpol_exe());
    runtime().block_on(async {
        backend.setup(&model).await.expect("setup");
        let (x_a, y_a, nodes) = {
            let topology = backend.topology().expect("set up");
            (
                topology.pods[0].ip,
                topology.pods[3].ip,
                topology.nodes.len(),
            )
        };
        let udp80 = Probe::new(Protocol::Udp, 80);
        for _ in 0..2 {
            let matrix = backend.probe(&[udp80]).await.expect("a round");
            assert_eq!(*matrix[&udp80].get(0, 3), Observed::Connected);
        }
        let flow = (format!("src={x_a} "), format!("dst={y_a} "));
        let mut ports = std::collections::BTreeSet::new();
        for node in 0..nodes {
            let cat = ["cat".to_owned(), "/proc/net/nf_conntrack".to_owned()];
            let (program, args) = backend.node_command(node, &cat).expect("a node");
            let out = Command::new(program).args(args).output().expect("cat runs");
            assert!(
                out.status.success(),
                "no /proc/net/nf_conntrack (CONFIG_NF_CONNTRACK_PROCFS): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                // The original direction comes first on a line.
                let original = line.split(" src=").nth(1).unwrap_or("");
                let original = format!("src={original} ");
                if line.contains(" udp ")
                    && original.starts_with(&flow.0)
                    && original.contains(&flow.1)
                    && original.contains(" dport=80 ")
                    && let Some(port) = original
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("sport="))
                {
                    ports.insert(port.parse::<u16>().expect("a port"));
                }
            }
        }
        let ports: Vec<u16> = ports.into_iter().collect();
        assert_eq!(ports.len(), 2, "source ports seen: {ports:?}");
        assert!(
            ports
                .iter()
                .all(|p| netpol_harness::probe::SOURCE_PORTS.contains(p))
        );
        let wrapped = [
            *netpol_harness::probe::SOURCE_PORTS.start(),
            *netpol_harness::probe::SOURCE_PORTS.end(),
        ];
        assert!(
            ports[1] - ports[0] == 1 || ports == wrapped,
            "not one after the other: {ports:?}"
        );
        backend.teardown().await.expect("teardown");
    });
}

fn main() -> std::process::ExitCode {
    env::run(vec![
        gated!(
            Needs::Netns,
            without_enforcement_every_pod_reaches_every_pod_and_nothing_is_left_behind
        ),
        gated!(
            Needs::Netns,
            the_reference_enforcer_blocks_and_unblocks_as_policies_come_and_go
        ),
        gated!(
            Needs::Netns,
            a_fully_blocked_matrix_takes_less_than_twice_the_probe_timeout
        ),
        gated!(
            Needs::Netns,
            every_pod_reaches_every_pod_over_ipv6_and_blocks_are_judged_per_family
        ),
        gated!(Needs::Netns, a_killed_run_is_removed_by_netpol_cleanup),
        gated!(Needs::Netns, sigterm_stops_a_run_and_removes_its_world),
        gated!(
            Needs::Netns,
            a_killed_enforcer_leaves_its_rules_in_force_and_a_restarted_one_reconciles
        ),
        gated!(
            Needs::Netns,
            with_no_enforcement_exactly_the_cases_that_expect_a_block_fail
        ),
        gated!(
            Needs::NetnsAndSetpriv,
            an_ordinary_user_runs_the_netns_backend_inside_a_user_namespace
        ),
        gated!(Needs::Netns, a_udp_flow_allowed_before_a_deny_is_cut_by_it),
        gated!(
            Needs::Netns,
            two_probing_rounds_send_udp_from_two_consecutive_ports_of_the_range
        ),
    ])
}
