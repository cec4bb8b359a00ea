//! The kind backend's refusals, from the command line: what is missing and
//! how to get it (exit 2), before anything is created.

use std::path::PathBuf;
use std::process::{Command, Output};

mod stand_in;
use stand_in::{run_logged, stand_in_program};

fn netpol(args: &[&str], path: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netpol"))
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."))
        .env("PATH", path)
        .args(args)
        .output()
        .expect("netpol runs")
}

#[test]
fn without_kind_or_docker_a_real_run_exits_2_with_install_instructions() {
    let output = netpol(&["run", "--backend", "kind", "--cni", "calico"], "");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        stderr.contains("the kind backend needs, on PATH:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`kind` (v0.30.0): `scripts/install-kind`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`docker` (https://docs.docker.com/engine/install/)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`--dry-run` prints the whole plan"),
        "{stderr}"
    );
}

#[test]
fn a_workspace_without_the_dockerfiles_is_refused_with_every_other_problem() {
    let output = netpol(
        &[
            "run",
            "--backend",
            "kind",
            "--cni",
            "reference",
            "--workspace",
            "/nonexistent/netpol",
        ],
        "",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    for needle in [
        "probe-image/Dockerfile is not in /nonexistent/netpol (pass the netpol source tree with --workspace DIR)",
        "reference-enforcer/Dockerfile is not in /nonexistent/netpol",
        "the kind backend needs, on PATH:",
    ] {
        assert!(stderr.contains(needle), "no `{needle}` in {stderr}");
    }
}

#[test]
fn flannel_on_a_machine_its_plugins_archive_is_not_for_is_refused_before_anything() {
    use netpol_harness::backend::kind::{self, plan};
    use netpol_harness::backend::kube::ProbeVia;
    use netpol_harness::cni::Cni;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut arm = plan::KindPlan::new(
        Cni::Flannel.recipe(),
        plan::cluster_name(Cni::Flannel),
        false,
        ProbeVia::Pod,
        false,
        "000000",
    );
    arm.arch = "arm64";
    let error = match kind::prepare(arm, root.clone()) {
        Err(error) => error,
        Ok(_) => panic!("an arm64 host was accepted for amd64 plugins"),
    };
    assert!(
        error.contains("bridge comes from a linux/amd64 archive pinned by its checksum")
            && error.contains("this machine is linux/arm64"),
        "{error}"
    );
    let mut amd = plan::KindPlan::new(
        Cni::Flannel.recipe(),
        plan::cluster_name(Cni::Flannel),
        false,
        ProbeVia::Pod,
        false,
        "000000",
    );
    amd.arch = "amd64";
    if let Err(error) = kind::prepare(amd, root) {
        assert!(!error.contains("archive pinned"), "{error}");
    }
}

#[test]
fn the_probe_image_builds_for_the_builders_own_architecture() {
    let dockerfile = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../probe-image/Dockerfile"),
    )
    .expect("the Dockerfile");
    let build: Vec<&str> = dockerfile
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    let build = build.join("\n");
    for arch in ["x86_64", "amd64", "aarch64", "arm64"] {
        assert!(!build.contains(arch), "`{arch}` hard-coded in\n{build}");
    }
    assert!(
        build.contains(r#"target="$(rustc -vV | sed -n 's/^host: //p')""#),
        "{build}"
    );
}

/// Runs an install script on a stand-in machine: `uname -m` says `machine`,
/// `curl` logs its URL and writes `content` to its `-o` file. Returns the
/// exit code, stderr and the URLs fetched.
fn install_on(script: &str, machine: &str, content: &str) -> (Option<i32>, String, String) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let work = std::env::temp_dir().join(format!(
        "netpol-install-{script}-{machine}-{}",
        std::process::id()
    ));
    let bin = work.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = work.join("urls");
    let stub = |name: &str, body: String| stand_in_program(&bin.join(name), &body);
    stub(
        "uname",
        format!(r#"case "$1" in -s) echo Linux ;; -m) echo {machine} ;; *) echo Linux ;; esac"#),
    );
    stub(
        "curl",
        format!(
            r#"for a in "$@"; do case "$a" in https://*) echo "$a" >> '{log}' ;; esac; done
while [ "$#" -gt 0 ]; do if [ "$1" = -o ]; then printf '%s' '{content}' > "$2"; fi; shift; done"#,
            log = log.display()
        ),
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new(root.join("scripts").join(script));
    command.arg(work.join("dest"));
    run_logged(command, &path, &log, &work)
}

#[test]
fn the_install_scripts_fetch_this_machines_binary_and_refuse_a_wrong_checksum() {
    for (script, arm64_url) in [
        ("install-kind", "/kind-linux-arm64"),
        ("install-helm", "-linux-arm64.tar.gz"),
    ] {
        // A stand-in download never has the pinned checksum: the script stops there.
        let (code, stderr, urls) = install_on(script, "aarch64", "not the release binary");
        assert!(urls.trim_end().ends_with(arm64_url), "{script}: {urls}");
        assert_ne!(code, Some(0), "{script}: {stderr}");
        assert!(stderr.contains("did NOT match"), "{script}: {stderr}");
        let (_, _, urls) = install_on(script, "x86_64", "not the release binary");
        assert!(urls.contains("amd64"), "{script}: {urls}");
        let (code, stderr, urls) = install_on(script, "riscv64", "");
        assert_eq!(code, Some(2), "{script}: {stderr}");
        assert!(
            urls.is_empty() && stderr.contains("only linux/amd64 and linux/arm64"),
            "{script}: {stderr}"
        );
    }
}

#[test]
fn weave_is_refused_as_archived_on_every_backend() {
    for backend in ["kind", "netns", "kubeconfig"] {
        let output = netpol(&["run", "--backend", backend, "--cni", "weave"], "");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{backend}: {output:?}");
        assert!(
            stderr.contains("Weave Net is archived upstream"),
            "{backend}: {stderr}"
        );
    }
}

#[test]
fn a_cni_on_the_wrong_backend_is_a_usage_error_that_names_the_right_one() {
    let output = netpol(&["run", "--backend", "netns", "--cni", "calico"], "");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("use `--backend kind --cni calico`"));
    let output = netpol(&["run", "--backend", "kind", "--cni", "none"], "");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("--cni none exists only on the netns backend")
    );
}

#[test]
fn the_kubeconfig_backend_needs_a_probe_image_it_can_pull() {
    let output = netpol(&["run", "--backend", "kubeconfig"], "");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs --probe-image IMAGE"));
}

#[test]
fn the_scripts_read_the_same_pins_as_the_harness() {
    use netpol_harness::cni::versions::*;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    for (name, value) in [
        ("KIND", KIND),
        ("KIND_SHA256", KIND_SHA256),
        ("KIND_SHA256_ARM64", KIND_SHA256_ARM64),
        ("HELM", HELM),
        ("HELM_SHA256", HELM_SHA256),
        ("HELM_SHA256_ARM64", HELM_SHA256_ARM64),
        ("NODE_IMAGE", NODE_IMAGE),
        ("CNI_PLUGINS_SHA256", CNI_PLUGINS_SHA256),
        ("PROBE_IMAGE", PROBE_IMAGE),
        ("ENFORCER_IMAGE", ENFORCER_IMAGE),
    ] {
        let output = Command::new(root.join("scripts/pinned"))
            .arg(name)
            .output()
            .expect("scripts/pinned runs");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            value,
            "{name}"
        );
    }
}
