//! The control-plane tier: etcd and kube-apiserver (built by `netpol engines
//! build`) started in a control-plane namespace on a netns fabric this test
//! builds, reached through sockets opened in that namespace.
//!
//! Each trial reports `ignored` with the reason when it cannot run here:
//! without root or iproute2, or without the built engines; with
//! `NETPOL_REQUIRE_ENV=1` (CI, which builds them) either is a failure.
//! Trials run one at a time: each builds a world.

#[path = "common/leftovers.rs"]
mod leftovers;
use leftovers::{run_folder_of, run_namespaces};

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

/// Why the loader refuses each file of `tests/invalid-cases/`: `Api` where
/// the defect is in a policy the API server validates too (it must refuse
/// it), the others loader-only: the model (namespaces, pods, steps), the
/// truth tables, the case format (YAML, fields of the case itself, templates
/// that exist only in cases). A new file must be listed here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Why {
    Api,
    Model,
    TruthTable,
    Format,
}

const INVALID: &[(&str, Why)] = &[
    ("annotation-key-invalid", Why::Api),
    ("api-version-v1beta1", Why::Api),
    ("bad-pattern-three-parts", Why::TruthTable),
    ("both-policies-and-steps", Why::Format),
    ("cidr-host-bits-set", Why::Api),
    ("cidr-ipv4-mapped-ipv6", Why::Api),
    ("cidr-leading-zeros", Why::Api),
    ("cidr-octet-out-of-range", Why::Api),
    ("cidr-prefix-too-long", Why::Api),
    ("default-maybe", Why::TruthTable),
    ("delete-step-never-applied", Why::Model),
    ("duplicate-key-podselector", Why::Format),
    ("empty-file", Why::Format),
    ("endport-less-than-port", Why::Api),
    ("endport-with-named-port", Why::Api),
    ("endport-without-port", Why::Api),
    ("except-equal-to-cidr", Why::Api),
    ("except-other-ip-family", Why::Api),
    ("except-outside-cidr", Why::Api),
    ("expect-family-mixed-with-ports", Why::Format),
    ("expect-one-family-only", Why::Format),
    ("expect-oracle-misspelled", Why::Format),
    ("expect-oracle-without-differential", Why::Format),
    ("expect-unprobed-port", Why::TruthTable),
    ("kind-service-under-policies", Why::Api),
    ("label-key-leading-dash", Why::Api),
    ("label-step-unknown-pod", Why::Model),
    ("label-value-too-long", Why::Api),
    ("metadata-without-name", Why::Api),
    ("metadata-without-namespace", Why::Model),
    ("name-differs-from-file-name", Why::Format),
    ("name-has-uppercase", Why::Format),
    ("named-port-invalid-iana", Why::Api),
    ("named-port-too-long", Why::Api),
    ("not-utf8-latin1", Why::Format),
    ("nul-character", Why::Format),
    ("operator-exists-with-values", Why::Api),
    ("operator-in-without-values", Why::Api),
    ("operator-unknown-equals", Why::Api),
    ("peer-empty", Why::Api),
    ("peer-ipblock-and-podselector", Why::Api),
    ("policy-in-unknown-namespace", Why::Model),
    ("policy-type-both", Why::Api),
    ("port-65536", Why::Api),
    ("port-zero", Why::Api),
    ("probe-icmp", Why::Format),
    ("probe-port-zero", Why::Format),
    ("probe-unserved-port", Why::Model),
    ("probed-port-without-expectation", Why::TruthTable),
    ("protocol-icmp", Why::Api),
    ("protocol-lowercase-tcp", Why::Api),
    ("step-without-expect", Why::Format),
    ("tab-indentation", Why::Format),
    ("template-outside-ipblock", Why::Format),
    ("top-level-list", Why::Format),
    ("truth-table-bad-cell", Why::TruthTable),
    ("truth-table-missing-row", Why::TruthTable),
    ("truth-table-unknown-column", Why::TruthTable),
    ("two-yaml-documents", Why::Format),
    ("undefined-alias", Why::Format),
    ("unknown-field-ipblock-exceptions", Why::Api),
    ("unknown-field-namespaceselecter", Why::Api),
    ("unknown-field-podselecter", Why::Api),
    ("unknown-field-port-endport-lowercase", Why::Api),
    ("unknown-keys-by-the-hundred", Why::Format),
    ("unknown-pod-in-rule", Why::TruthTable),
    ("unknown-pod-in-template", Why::Format),
    ("unknown-template-function", Why::Format),
    ("unknown-top-level-key-tag", Why::Format),
    ("utf16-with-bom", Why::Format),
    ("yaml-alias-bomb", Why::Format),
    ("yaml-flow-nesting-too-deep", Why::Format),
    ("yaml-nesting-too-deep", Why::Format),
    ("yaml-syntax-bad-indentation", Why::Format),
    ("yaml-syntax-unclosed-bracket", Why::Format),
];

fn to_json(node: &netpol_harness::case::yaml::Node) -> serde_json::Value {
    use netpol_harness::case::yaml::Value;
    match &node.value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Float(f) => (*f).into(),
        Value::Str(s) => s.clone().into(),
        Value::Seq(items) => items.iter().map(to_json).collect(),
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| (k.name.clone(), to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

/// The policies a case file holds as written (`policies`, and each step's
/// `apply`), for files that are YAML at all; templated ones are left out:
/// they are not API objects until a backend gives addresses.
fn raw_policies(path: &Path) -> Vec<serde_json::Value> {
    // Deeply nested files recurse deeply: a stack as large as the loader's.
    let path = path.to_owned();
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || policies_of(&path))
        .expect("a thread")
        .join()
        .expect("no panic")
}

fn policies_of(path: &Path) -> Vec<serde_json::Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let Ok(node) = netpol_harness::case::yaml::parse(&text) else {
        return Vec::new();
    };
    let document = to_json(&node);
    let mut found: Vec<serde_json::Value> = Vec::new();
    if let Some(list) = document.get("policies").and_then(|p| p.as_array()) {
        found.extend(list.iter().cloned());
    }
    for step in document
        .get("steps")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
    {
        if let Some(list) = step.get("apply").and_then(|p| p.as_array()) {
            found.extend(list.iter().cloned());
        }
    }
    found
        .into_iter()
        .filter(|p| !p.to_string().contains("{{"))
        .collect()
}

/// Sends one policy as written with `dryRun=All` and strict field
/// validation (server-side apply as the driver does; a create when it has
/// no name to apply to); `Some(message)` when the server refuses it as
/// invalid. Its namespace is created first when it has none yet.
async fn judged_by_the_server(
    client: &kube::Client,
    policy: &serde_json::Value,
) -> Result<Option<String>, Failed> {
    use kube::api::{DynamicObject, Patch, PatchParams};
    let namespace = policy
        .pointer("/metadata/namespace")
        .and_then(|n| n.as_str())
        .unwrap_or("default")
        .to_owned();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    if namespaces.get_opt(&namespace).await?.is_none() {
        let object: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": namespace}}))?;
        namespaces.create(&PostParams::default(), &object).await?;
    }
    let resource = kube::api::ApiResource::erase::<NetworkPolicy>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &resource);
    let name = policy.pointer("/metadata/name").and_then(|n| n.as_str());
    let result = match name {
        Some(name) => {
            let params = PatchParams::apply("netpol")
                .force()
                .dry_run()
                .validation_strict();
            api.patch(name, &params, &Patch::Apply(policy))
                .await
                .map(drop)
        }
        None => {
            let object: DynamicObject = serde_json::from_value(policy.clone())?;
            let params = PostParams {
                dry_run: true,
                ..PostParams::default()
            };
            api.create(&params, &object).await.map(drop)
        }
    };
    match result {
        Ok(()) => Ok(None),
        // Server-side apply refuses a field the schema lacks with a 500
        // ("failed to create typed patch object … field not declared in schema").
        Err(kube::Error::Api(status))
            if status.code == 422
                || status.code == 400
                || status.message.contains("field not declared in schema") =>
        {
            Ok(Some(status.message))
        }
        Err(other) => Err(format!("{namespace}/{name:?}: {other}").into()),
    }
}

fn the_api_server_refuses_exactly_the_invalid_cases_the_loader_refuses_for_api_reasons(
    binaries: Binaries,
) -> Result<(), Failed> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid-cases");
    let mut files: Vec<String> = std::fs::read_dir(&root)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".yaml").map(str::to_owned))
        .collect();
    files.sort();
    let listed: Vec<String> = INVALID.iter().map(|(n, _)| (*n).to_owned()).collect();
    check(
        files == listed,
        format!("tests/invalid-cases/ and INVALID differ: files {files:?}, listed {listed:?}"),
    )?;
    let (_world, rt, plane) = started(binaries)?;
    let mut disagreements = Vec::new();
    rt.block_on(async {
        let client = plane.client()?;
        for (name, why) in INVALID {
            let policies = raw_policies(&root.join(format!("{name}.yaml")));
            let mut refusals = Vec::new();
            for policy in &policies {
                if let Some(message) = judged_by_the_server(&client, policy).await? {
                    refusals.push(message);
                }
            }
            eprintln!("{name} ({why:?}): {} policies, refused: {refusals:?}", policies.len());
            match (why, refusals.is_empty()) {
                (Why::Api, true) => disagreements.push(format!(
                    "{name}: the loader refuses it for an API reason, the server accepts its {} policies",
                    policies.len()
                )),
                (Why::Api, false) => {}
                (_, false) => disagreements.push(format!(
                    "{name}: loader-only ({why:?}), but the server refuses: {refusals:?}"
                )),
                (_, true) => {}
            }
        }
        Ok::<(), Failed>(())
    })?;
    check(
        disagreements.is_empty(),
        format!(
            "the loader and the API server disagree:\n{}",
            disagreements.join("\n")
        ),
    )
}

fn the_api_server_accepts_every_policy_of_the_case_library(
    binaries: Binaries,
) -> Result<(), Failed> {
    use netpol_harness::backend::kube::{Driver, Names};
    let model = Model::default();
    let library = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let cases = netpol_harness::case::load_paths(&[library], &model)
        .map_err(|e| format!("the library does not load: {e}"))?;
    let (world, rt, plane) = started(binaries)?;
    let mut addresses = netpol_harness::model::Addresses::default();
    for pod in &world.topology.pods {
        addresses.ips.insert(
            pod.id.clone(),
            netpol_harness::model::PodIps {
                v4: pod.ip,
                v6: None,
            },
        );
    }
    let mut refused = Vec::new();
    let mut sent = 0;
    rt.block_on(async {
        let driver = Driver::new(plane.client()?, Names::plain(world.run_id()));
        let namespaces: Api<Namespace> = Api::all(plane.client()?);
        for ns in &model.namespaces {
            let object: Namespace =
                serde_json::from_value(serde_json::json!({"metadata": {"name": ns.name}}))?;
            namespaces.create(&PostParams::default(), &object).await?;
        }
        for case in &cases {
            for step in &case.steps {
                for action in &step.actions {
                    let Ok(netpol_harness::model::Change::Apply(policy)) =
                        action.resolve(&model, &addresses)
                    else {
                        continue;
                    };
                    sent += 1;
                    if let Err(e) = driver.dry_run_policy(&policy).await {
                        refused.push(format!(
                            "{}: {}",
                            case.file.display(),
                            netpol_harness::error::chain(&e)
                        ));
                    }
                }
            }
        }
        Ok::<(), Failed>(())
    })?;
    eprintln!("{sent} policies of {} cases sent", cases.len());
    check(sent > 100, format!("only {sent} policies"))?;
    check(refused.is_empty(), refused.join("\n"))
}

fn wait_for<T>(within: std::time::Duration, mut found: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(value) = found() {
            return Some(value);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `netpol run --control-plane` over `filter`'s cases, stderr piped.
fn netpol_run(filter: &str) -> std::process::Child {
    netpol_run_with(filter, &[])
}

/// The same with more arguments (`--ip-family dual`).
fn netpol_run_with(filter: &str, more: &[&str]) -> std::process::Child {
    Command::new(netpol_exe())
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .args(["run", "--control-plane", "--filter", filter])
        .args(more)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("netpol runs")
}

/// The run's folder once its controllers are in force (cases are running);
/// when they never are, the run is killed and reaped.
fn folder_once_judging(child: &mut std::process::Child) -> Result<PathBuf, Failed> {
    let pid = child.id();
    let found = wait_for(std::time::Duration::from_secs(120), || {
        run_folder_of(pid).filter(|f| f.join("controller-ready-node2").exists())
    });
    found.ok_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        "the run's controllers never became ready".into()
    })
}

/// What a run left: namespaces of its id, processes naming its folder, the folder.
fn left_by(folder: &Path) -> Vec<String> {
    let id = folder
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("netpol-"))
        .unwrap_or_default();
    let mut left: Vec<String> = run_namespaces(id)
        .into_iter()
        .map(|n| format!("namespace {n}"))
        .collect();
    left.extend(processes_naming(folder));
    if folder.exists() {
        left.push(format!("folder {}", folder.display()));
    }
    left
}

fn netpol_run_with_the_control_plane_passes_judges_through_controllers_and_leaves_nothing(
    _binaries: Binaries,
) -> Result<(), Failed> {
    let mut child = netpol_run("default-deny");
    let folder = folder_once_judging(&mut child)?;
    let controllers: Vec<String> = processes_naming(&folder)
        .into_iter()
        .filter(|p| p.contains("bin/netpol-enforcer controller --node"))
        .collect();
    check(
        controllers.len() == 2,
        format!("not one controller per node: {controllers:?}"),
    )?;
    let output = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    check(
        output.status.code() == Some(0),
        format!("{:?}\n{stdout}\n{stderr}", output.status),
    )?;
    check(
        stderr.contains("control plane ready in"),
        format!("no start time: {stderr}"),
    )?;
    check(stdout.contains(" passed, 0 failed"), stdout.to_string())?;
    let left = left_by(&folder);
    check(left.is_empty(), format!("left behind: {left:?}"))
}

/// The API carries both families (`podIPs`, `podCIDRs`) and the controllers
/// enforce both: the dual cases pass with each probe made over IPv4 and IPv6.
fn netpol_run_with_the_control_plane_in_dual_passes_the_ipv6_default_deny_cases(
    _binaries: Binaries,
) -> Result<(), Failed> {
    let child = netpol_run_with("ipv6-default-deny", &["--ip-family", "dual"]);
    let output = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    check(
        output.status.code() == Some(0),
        format!("{:?}\n{stdout}\n{stderr}", output.status),
    )?;
    check(stdout.contains("2 passed, 0 failed"), stdout.to_string())
}

fn sigint_mid_run_with_the_control_plane_leaves_no_namespace_process_or_folder(
    _binaries: Binaries,
) -> Result<(), Failed> {
    let mut child = netpol_run("");
    let folder = folder_once_judging(&mut child)?;
    std::thread::sleep(std::time::Duration::from_secs(2));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()?;
    check(status.success(), "kill -INT")?;
    let ended = wait_for(std::time::Duration::from_secs(60), || {
        child.try_wait().ok().flatten()
    })
    .ok_or("the run did not stop within 60 s")?;
    check(ended.code() == Some(130), format!("exit {ended:?}"))?;
    let left = left_by(&folder);
    check(left.is_empty(), format!("left behind: {left:?}"))
}

fn after_sigkill_mid_run_netpol_cleanup_removes_the_control_plane_and_the_world(
    _binaries: Binaries,
) -> Result<(), Failed> {
    let mut child = netpol_run("");
    let folder = folder_once_judging(&mut child)?;
    child.kill()?;
    child.wait()?;
    let output = Command::new(netpol_exe()).arg("cleanup").output()?;
    check(output.status.success(), format!("{output:?}"))?;
    // Children killed by their parent's death may take a moment to be reaped.
    let left = wait_for(std::time::Duration::from_secs(10), || {
        let left = left_by(&folder);
        left.is_empty().then_some(())
    });
    check(
        left.is_some(),
        format!("left behind: {:?}", left_by(&folder)),
    )
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
            "the_api_server_refuses_exactly_the_invalid_cases_the_loader_refuses_for_api_reasons",
            |b| {
                done(the_api_server_refuses_exactly_the_invalid_cases_the_loader_refuses_for_api_reasons(b))
            },
        ),
        trial(
            "the_api_server_accepts_every_policy_of_the_case_library",
            |b| done(the_api_server_accepts_every_policy_of_the_case_library(b)),
        ),
        trial(
            "netpol_run_with_the_control_plane_in_dual_passes_the_ipv6_default_deny_cases",
            |b| {
                done(
                    netpol_run_with_the_control_plane_in_dual_passes_the_ipv6_default_deny_cases(b),
                )
            },
        ),
        trial(
            "netpol_run_with_the_control_plane_passes_judges_through_controllers_and_leaves_nothing",
            |b| {
                done(netpol_run_with_the_control_plane_passes_judges_through_controllers_and_leaves_nothing(b))
            },
        ),
        trial(
            "sigint_mid_run_with_the_control_plane_leaves_no_namespace_process_or_folder",
            |b| {
                done(sigint_mid_run_with_the_control_plane_leaves_no_namespace_process_or_folder(b))
            },
        ),
        trial(
            "after_sigkill_mid_run_netpol_cleanup_removes_the_control_plane_and_the_world",
            |b| {
                done(
                    after_sigkill_mid_run_netpol_cleanup_removes_the_control_plane_and_the_world(b),
                )
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
