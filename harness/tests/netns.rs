//! The netns backend for real: namespaces, veths, probe agents and enforcers
//! on this kernel. Needs root; without it each test says why and passes,
//! unless `NETPOL_REQUIRE_NETNS=1` (CI) makes that a failure.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::networking::v1::NetworkPolicy;
use netpol_harness::backend::Backend;
use netpol_harness::backend::netns::{Cni, NetnsBackend};
use netpol_harness::model::{Change, Model, Probe, Protocol};
use netpol_harness::probe::{Matrix, Observed};
use netpol_harness::timeouts::Timeouts;

fn privileged() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false);
    let tools = which::which("ip").is_ok() && which::which("nft").is_ok();
    if root && tools {
        return true;
    }
    let reason = if root {
        "`ip` or `nft` missing"
    } else {
        "not root"
    };
    assert!(
        std::env::var("NETPOL_REQUIRE_NETNS").as_deref() != Ok("1"),
        "NETPOL_REQUIRE_NETNS=1 but {reason}"
    );
    eprintln!("skipped: the netns tests need root, iproute2 and nftables ({reason})");
    false
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn netpol_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_netpol"))
}

fn run_namespaces(run_id: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("netpol-{run_id}-")))
        .map(str::to_owned)
        .collect()
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

#[test]
fn without_enforcement_every_pod_reaches_every_pod_and_nothing_is_left_behind() {
    if !privileged() {
        return;
    }
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

#[test]
fn the_reference_enforcer_blocks_and_unblocks_as_policies_come_and_go() {
    if !privileged() {
        return;
    }
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

#[test]
fn a_fully_blocked_matrix_takes_less_than_twice_the_probe_timeout() {
    if !privileged() {
        return;
    }
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
        let started = Instant::now();
        let matrix = backend.probe(&Probe::DEFAULTS).await.expect("probe");
        let took = started.elapsed();
        assert_eq!(
            count(&matrix, |o| *o == Observed::Connected),
            0,
            "{matrix:?}"
        );
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

#[test]
fn a_killed_run_is_removed_by_netpol_cleanup() {
    if !privileged() {
        return;
    }
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

#[test]
fn sigterm_stops_a_run_and_removes_its_world() {
    if !privileged() {
        return;
    }
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
