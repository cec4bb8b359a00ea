//! The kind backend's refusals, from the command line: what is missing and
//! how to get it (exit 2), before anything is created.

use std::path::PathBuf;
use std::process::{Command, Output};

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
        ("HELM", HELM),
        ("HELM_SHA256", HELM_SHA256),
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
