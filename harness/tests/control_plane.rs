//! The control-plane tier: etcd and kube-apiserver (built by `netpol engines
//! build`) started in a control-plane namespace on a netns fabric this test
//! builds, reached through sockets opened in that namespace.
//!
//! Each trial reports `ignored` with the reason when it cannot run here:
//! without root or iproute2, or without the built engines; with
//! `NETPOL_REQUIRE_ENV=1` (CI, which builds them) either is a failure.
//! Trials run one at a time: each builds a world.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Mutex;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, PostParams};
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use netpol_harness::backend::netns::{plan, topology::Topology};
use netpol_harness::controlplane::fabric::Attachment;
use netpol_harness::controlplane::sockets::{NetnsSockets, netns_path};
use netpol_harness::controlplane::{self, Binaries, ControlPlane, Spec};
use netpol_harness::model::Model;

/// Set in the environment of this binary re-run as a helper that starts a
/// control plane, says so, and waits to be killed.
const HELPER: &str = "NETPOL_CONTROL_PLANE_HELPER";

/// The one switch of every environment test (tests/common/env.rs).
const REQUIRE_ENV: &str = "NETPOL_REQUIRE_ENV";

/// One world at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn netpol_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_netpol"))
}

fn root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// `Ok(binaries)` when the tier can run here, else why not (or a failure
/// when the switch for that reason is set).
fn gate() -> Result<Result<Binaries, String>, String> {
    let required = |var: &str| std::env::var(var).as_deref() == Ok("1");
    if !root() || which::which("ip").is_err() {
        let reason = "the control-plane tests need root and iproute2".to_owned();
        return if required(REQUIRE_ENV) {
            Err(format!("{REQUIRE_ENV}=1 but {reason}"))
        } else {
            Ok(Err(reason))
        };
    }
    match runtime().block_on(Binaries::find()) {
        Ok(binaries) => Ok(Ok(binaries)),
        Err(reason) if required(REQUIRE_ENV) => Err(format!("{REQUIRE_ENV}=1 but {reason}")),
        Err(reason) => Ok(Err(reason)),
    }
}

/// A netns fabric with its nodes and pods (the netns backend's own plan),
/// its run folder, and nothing running; removed on drop.
struct World {
    topology: Topology,
    run_dir: PathBuf,
}

impl World {
    fn build() -> World {
        let run_id = format!(
            "{:06x}",
            (std::process::id() ^ std::time::UNIX_EPOCH.elapsed().unwrap().subsec_nanos())
                & 0xff_ffff
        );
        let topology = Topology::plan(&Model::default(), &run_id);
        let run_dir = std::env::temp_dir().join(format!("netpol-{run_id}"));
        std::fs::create_dir_all(&run_dir).expect("run folder");
        std::fs::write(run_dir.join("owner.pid"), std::process::id().to_string()).expect("owner");
        let world = World { topology, run_dir };
        for command in plan::build(&world.topology) {
            let status = Command::new("ip").args(&command).status().expect("ip");
            assert!(status.success(), "ip {command:?}");
        }
        world
    }

    fn run_id(&self) -> &str {
        &self.topology.run_id
    }

    fn spec(&self, binaries: Binaries) -> Spec {
        Spec {
            run_dir: self.run_dir.clone(),
            attachment: Attachment {
                netns: format!("netpol-{}-cp", self.run_id()),
                fabric: self.topology.fabric.clone(),
                bridge: "br0".into(),
                address: controlplane::ADDRESS,
                prefix_len: 24,
            },
            binaries,
        }
    }

    /// The run's namespaces still listed by `ip netns`.
    fn namespaces(&self) -> Vec<String> {
        run_namespaces(self.run_id())
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for command in plan::remove(&self.topology) {
            let _ = Command::new("ip").args(&command).status();
        }
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
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

/// The network namespace a process (or this one, `self`) is in.
fn netns_of(pid: &str) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/net")).map(|m| m.ino())
}

/// Processes whose command line names `folder`.
fn processes_naming(folder: &Path) -> Vec<String> {
    let needle = format!("{}/", folder.display());
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let raw = std::fs::read(e.path().join("cmdline")).ok()?;
            let line = String::from_utf8_lossy(&raw).replace('\0', " ");
            line.contains(&needle).then(|| format!("{pid}: {line}"))
        })
        .collect()
}

fn check(condition: bool, message: impl Into<String>) -> Result<(), Failed> {
    if condition {
        Ok(())
    } else {
        Err(message.into().into())
    }
}

fn policy(name: &str, spec: serde_json::Value) -> NetworkPolicy {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "x"},
        "spec": spec,
    }))
    .expect("a NetworkPolicy")
}

/// A world with a running control plane, and the runtime it started on
/// (bind them in this order: they are dropped plane first, world last).
fn started(binaries: Binaries) -> Result<(World, tokio::runtime::Runtime, ControlPlane), Failed> {
    let world = World::build();
    let rt = runtime();
    let plane = rt
        .block_on(ControlPlane::start(&world.spec(binaries)))
        .map_err(|e| netpol_harness::error::chain(&e))?;
    Ok((world, rt, plane))
}

fn the_api_server_defaults_policies_created_through_sockets_of_the_control_plane_namespace(
    binaries: Binaries,
) -> Result<(), Failed> {
    let (_world, rt, plane) = started(binaries)?;
    rt.block_on(async {
        let times = plane.start_times();
        eprintln!(
            "control plane ready in {:.1?} (prepare {:.1?}, etcd {:.1?}, kube-apiserver {:.1?})",
            times.total, times.prepare, times.etcd, times.apiserver
        );
        // Both processes live in the control-plane namespace, not in ours.
        let ours = netns_of("self")?;
        let theirs = std::fs::metadata(netns_path(plane.netns()))
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))?;
        check(ours != theirs, "the control plane shares our namespace")?;
        for (name, pid) in plane.pids() {
            check(
                netns_of(&pid.to_string())? == theirs,
                format!("{name} runs outside the control-plane namespace"),
            )?;
        }
        let client = plane.client()?;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let x: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "x", "labels": {"ns": "x"}}
        }))?;
        namespaces.create(&PostParams::default(), &x).await?;
        let policies: Api<NetworkPolicy> = Api::namespaced(client, "x");
        let ingress_only = policy(
            "allow-b",
            serde_json::json!({
                "podSelector": {"matchLabels": {"pod": "a"}},
                "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]
            }),
        );
        let with_egress = policy(
            "egress-to-b",
            serde_json::json!({
                "podSelector": {},
                "egress": [{"to": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]
            }),
        );
        for p in [&ingress_only, &with_egress] {
            policies.create(&PostParams::default(), p).await?;
        }
        let types = |p: NetworkPolicy| p.spec.and_then(|s| s.policy_types).unwrap_or_default();
        let read = types(policies.get("allow-b").await?);
        check(
            read == ["Ingress"],
            format!("allow-b: policyTypes {read:?}"),
        )?;
        let read = types(policies.get("egress-to-b").await?);
        check(
            read == ["Ingress", "Egress"],
            format!("egress-to-b: policyTypes {read:?}"),
        )?;
        // The server validates: a port name of 16 characters is refused.
        let invalid = policy(
            "bad-port",
            serde_json::json!({
                "podSelector": {},
                "ingress": [{"ports": [{"port": "a-very-long-name"}]}]
            }),
        );
        let refused = policies.create(&PostParams::default(), &invalid).await;
        check(
            matches!(&refused, Err(kube::Error::Api(s)) if s.code == 422),
            format!("an invalid port name was not refused with 422: {refused:?}"),
        )?;
        Ok::<(), Failed>(())
    })?;
    Ok(())
}

fn a_node_namespace_reaches_the_api_with_the_kubeconfig_of_the_run_folder(
    binaries: Binaries,
) -> Result<(), Failed> {
    let (world, rt, plane) = started(binaries)?;
    rt.block_on(async {
        let text = std::fs::read_to_string(plane.kubeconfig())?;
        check(
            text.contains(&plane.server()),
            format!("the kubeconfig does not point at {}", plane.server()),
        )?;
        let kubeconfig = kube::config::Kubeconfig::read_from(plane.kubeconfig())?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        let node = &world.topology.nodes[0].netns;
        let client = controlplane::client(&config, NetnsSockets::enter(node)?)?;
        let namespaces: Api<Namespace> = Api::all(client);
        let names: Vec<String> = namespaces
            .list(&Default::default())
            .await?
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect();
        check(
            names.iter().any(|n| n == "default"),
            format!("namespaces seen from {node}: {names:?}"),
        )?;
        Ok::<(), Failed>(())
    })?;
    Ok(())
}

fn stopping_the_control_plane_leaves_no_process_namespace_or_file(
    binaries: Binaries,
) -> Result<(), Failed> {
    let (world, _rt, mut plane) = started(binaries)?;
    let pids = plane.pids();
    let folder = plane.folder().to_owned();
    let netns = plane.netns().to_owned();
    check(pids.len() == 2, format!("{pids:?}"))?;
    let problems = plane.stop();
    check(problems.is_empty(), format!("{problems:?}"))?;
    for (name, pid) in &pids {
        check(
            !Path::new(&format!("/proc/{pid}")).exists(),
            format!("{name} (pid {pid}) is still there"),
        )?;
    }
    check(
        !folder.exists(),
        format!("{} is still there", folder.display()),
    )?;
    check(
        !world.namespaces().contains(&netns),
        format!("{netns} is still there"),
    )?;
    check(
        processes_naming(&world.run_dir).is_empty(),
        format!("{:?}", processes_naming(&world.run_dir)),
    )?;
    check(
        plane.stop().is_empty(),
        "a second stop found something to do",
    )?;
    Ok(())
}

fn a_control_plane_that_fails_to_start_removes_what_it_had_started(
    binaries: Binaries,
) -> Result<(), Failed> {
    let world = World::build();
    // etcd starts; the "API server" exits at once.
    let broken = Binaries {
        kube_apiserver: PathBuf::from("/bin/false"),
        ..binaries
    };
    let spec = world.spec(broken);
    let result = runtime().block_on(ControlPlane::start(&spec));
    let error = match result {
        Ok(_) => return Err("a control plane without an API server started".into()),
        Err(e) => netpol_harness::error::chain(&e),
    };
    check(
        error.contains("kube-apiserver exited"),
        format!("the error does not say what failed: {error}"),
    )?;
    check(
        !world.run_dir.join("control-plane").exists(),
        "the control-plane folder is still there",
    )?;
    check(
        !world.namespaces().contains(&spec.attachment.netns),
        "the control-plane namespace is still there",
    )?;
    let left = processes_naming(&world.run_dir);
    check(left.is_empty(), format!("processes left: {left:?}"))?;
    Ok(())
}

fn after_a_sigkill_of_its_owner_netpol_cleanup_leaves_no_process_namespace_or_folder()
-> Result<(), Failed> {
    let (mut helper, run_dir) = start_helper(Command::new(std::env::current_exe()?))?;
    let run_id = run_dir
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("netpol-"))
        .expect("a run folder")
        .to_owned();
    check(
        processes_naming(&run_dir).len() >= 2,
        "etcd and kube-apiserver are not running",
    )?;
    helper.kill()?;
    helper.wait()?;
    let output = Command::new(netpol_exe()).arg("cleanup").output()?;
    check(output.status.success(), format!("{output:?}"))?;
    check(
        !run_dir.exists(),
        format!("{} is still there", run_dir.display()),
    )?;
    let left = run_namespaces(&run_id);
    check(left.is_empty(), format!("namespaces left: {left:?}"))?;
    let left = processes_naming(&run_dir);
    check(left.is_empty(), format!("processes left: {left:?}"))?;
    Ok(())
}

/// The helper: a world and a control plane, then `ready <run folder>`; when
/// its stdin closes it removes both and exits 0 (unless killed first).
fn helper() -> ExitCode {
    use std::io::Read as _;
    let binaries = match runtime().block_on(Binaries::find()) {
        Ok(b) => b,
        Err(e) => {
            println!("error {e}");
            return ExitCode::FAILURE;
        }
    };
    match started(binaries) {
        Ok((world, _rt, mut plane)) => {
            println!("ready {}", world.run_dir.display());
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            let problems = plane.stop();
            if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                eprintln!("cleanup problems: {problems:?}");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            println!("error {}", e.message().unwrap_or("no message"));
            ExitCode::FAILURE
        }
    }
}

/// Starts the helper with `command` (already naming the program), and
/// returns it with the run folder of its ready line.
fn start_helper(mut command: Command) -> Result<(std::process::Child, PathBuf), Failed> {
    let mut helper = command
        .env(HELPER, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(helper.stdout.take().expect("piped")).read_line(&mut line)?;
    match line.strip_prefix("ready ") {
        Some(dir) => Ok((helper, PathBuf::from(dir.trim()))),
        None => {
            let _ = helper.kill();
            let _ = helper.wait();
            Err(format!("the helper did not start a control plane: {line:?}").into())
        }
    }
}

/// Hard links (or copies) `from` to `to`, for files an unprivileged user
/// must reach (`/root` is not searchable by others).
fn link_or_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::hard_link(from, to).or_else(|_| std::fs::copy(from, to).map(drop))
}

/// The user-namespace mode of `netpol run` (backend/netns/preflight.rs):
/// an ordinary user, root only over a new user, mount and network namespace,
/// with a private tmpfs on /run for `ip netns`.
fn the_control_plane_runs_for_an_unprivileged_user_in_a_user_namespace(
    binaries: Binaries,
) -> Result<Completion, Failed> {
    const NOBODY: &str = "65534";
    let tools = ["setpriv", "unshare"];
    if let Some(missing) = tools.iter().find(|t| which::which(t).is_err()) {
        return Ok(Completion::ignored_with(format!("`{missing}` is missing")));
    }
    let allowed = Command::new("setpriv")
        .args(["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups"])
        .args(["unshare", "--user", "--map-root-user", "--net", "true"])
        .status()?;
    if !allowed.success() {
        return Ok(Completion::ignored_with(
            "this kernel does not let an ordinary user create user namespaces",
        ));
    }
    // The engines and this binary where user 65534 can reach them.
    let shared = std::env::temp_dir().join(format!("netpol-test-userns-{}", std::process::id()));
    let engines = shared.join("engines");
    let exe = shared.join("control_plane");
    let result = (|| {
        for (binary, component) in [
            (&binaries.etcd, &netpol_harness::engines::ETCD),
            (
                &binaries.kube_apiserver,
                &netpol_harness::engines::KUBE_APISERVER,
            ),
        ] {
            link_or_copy(binary, &component.binary(&engines))?;
        }
        link_or_copy(&std::env::current_exe()?, &exe)?;
        Command::new("chmod")
            .arg("-R")
            .arg("a+rX")
            .arg(&shared)
            .status()?;
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid", NOBODY, "--regid", NOBODY, "--clear-groups"])
            .args(["unshare", "--user", "--map-root-user", "--mount", "--net"])
            .args([
                "sh",
                "-c",
                r#"mount -t tmpfs netpol-run /run && exec "$@""#,
                "sh",
            ])
            .arg(&exe)
            .env("NETPOL_ENGINES_DIR", &engines)
            .env("HOME", std::env::temp_dir());
        let (mut helper, run_dir) = start_helper(command)?;
        let running = processes_naming(&run_dir);
        check(running.len() >= 2, format!("not running: {running:?}"))?;
        // On the host they are user 65534's processes, not root's.
        for process in &running {
            let pid = process.split(':').next().unwrap_or_default();
            let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
            let uid = status
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .unwrap_or_default();
            check(
                uid.split_whitespace().nth(1) == Some(NOBODY),
                format!("{process} runs as {uid}"),
            )?;
        }
        drop(helper.stdin.take());
        let status = helper.wait()?;
        check(
            status.success(),
            format!("the helper's cleanup failed: {status}"),
        )?;
        check(
            !run_dir.exists(),
            format!("{} is still there", run_dir.display()),
        )?;
        let left = processes_naming(&run_dir);
        check(left.is_empty(), format!("processes left: {left:?}"))?;
        Ok::<(), Failed>(())
    })();
    let _ = std::fs::remove_dir_all(&shared);
    result.map(|()| Completion::Completed)
}

type Body = fn(Binaries) -> Result<Completion, Failed>;

/// A trial body that either passes or fails.
fn done(result: Result<(), Failed>) -> Result<Completion, Failed> {
    result.map(|()| Completion::Completed)
}

fn main() -> ExitCode {
    if std::env::var_os(HELPER).is_some() {
        return helper();
    }
    let args = Arguments::from_args();
    let gate = gate();
    let trial = |name: &'static str, body: Body| {
        let gate = gate.clone();
        Trial::ignorable_test(name, move || {
            let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
            match gate {
                Err(failure) => Err(failure.into()),
                Ok(Err(reason)) => Ok(Completion::ignored_with(reason)),
                Ok(Ok(binaries)) => body(binaries),
            }
        })
    };
    let mut trials = vec![
        trial(
            "the_api_server_defaults_policies_created_through_sockets_of_the_control_plane_namespace",
            |b| {
                done(the_api_server_defaults_policies_created_through_sockets_of_the_control_plane_namespace(b))
            },
        ),
        trial(
            "a_node_namespace_reaches_the_api_with_the_kubeconfig_of_the_run_folder",
            |b| done(a_node_namespace_reaches_the_api_with_the_kubeconfig_of_the_run_folder(b)),
        ),
        trial(
            "stopping_the_control_plane_leaves_no_process_namespace_or_file",
            |b| done(stopping_the_control_plane_leaves_no_process_namespace_or_file(b)),
        ),
        trial(
            "a_control_plane_that_fails_to_start_removes_what_it_had_started",
            |b| done(a_control_plane_that_fails_to_start_removes_what_it_had_started(b)),
        ),
        trial(
            "after_a_sigkill_of_its_owner_netpol_cleanup_leaves_no_process_namespace_or_folder",
            |_| {
                done(after_a_sigkill_of_its_owner_netpol_cleanup_leaves_no_process_namespace_or_folder())
            },
        ),
        trial(
            "the_control_plane_runs_for_an_unprivileged_user_in_a_user_namespace",
            the_control_plane_runs_for_an_unprivileged_user_in_a_user_namespace,
        ),
    ];
    trials.sort_by(|a, b| a.name().cmp(b.name()));
    libtest_mimic::run(&args, trials).exit_code()
}
