//! `netpol engines` as a user meets it, without Go and without building
//! anything: what it lists, what it says without `go`, and that prebuilt
//! binaries of exactly the pinned versions are taken as built.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn netpol_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_netpol"))
}

/// A fresh folder under the target dir, removed first if a run left it.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("empty-path")).expect("scratch folder");
    dir
}

/// `netpol engines ARGS` with the engines in `dir/engines` and a PATH with no `go`.
fn engines(dir: &Path, args: &[&str]) -> Output {
    Command::new(netpol_exe())
        .arg("engines")
        .args(args)
        .env("NETPOL_ENGINES_DIR", dir.join("engines"))
        .env("PATH", dir.join("empty-path"))
        .output()
        .expect("netpol runs")
}

/// A stand-in binary that prints `version` for `--version`.
fn prebuilt(dir: &Path, folder: &str, name: &str, version: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("engines").join(folder).join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, format!("#!/bin/sh\necho '{version}'\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn without_go_build_exits_2_saying_how_to_get_it_or_where_release_binaries_go() {
    let dir = scratch("engines-no-go");
    let output = engines(&dir, &["build"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`go` not found on PATH"), "{stderr}");
    assert!(stderr.contains("go.dev/dl"), "{stderr}");
    for binary in [
        "etcd-v3.6.16/etcd (`etcd v3.6.16`)",
        "kube-apiserver-v1.37.2/kube-apiserver (`kube-apiserver v1.37.2`)",
        "kube-router-v2.10.0/kube-router (`kube-router v2.10.0`)",
        "calico-felix-v0.0.0-20251021213802-b1f3c43f8437/calico-felix",
        "kube-network-policies-v1.1.1/kube-network-policies (`kube-network-policies v1.1.1`)",
    ] {
        assert!(stderr.contains(binary), "{stderr}");
    }
    assert!(
        !dir.join("engines").exists(),
        "nothing is created when nothing can be built"
    );
}

#[test]
fn list_shows_each_engine_its_module_and_whether_it_is_built() {
    let dir = scratch("engines-list");
    let output = engines(&dir, &["list", "--format", "json"]);
    assert!(output.status.success(), "{output:?}");
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let rows = rows.as_array().expect("a list");
    let names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "etcd",
            "kube-apiserver",
            "kube-router",
            "calico-felix",
            "kube-network-policies"
        ]
    );
    assert_eq!(
        rows[2]["package"],
        "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
    );
    assert_eq!(rows[3]["module"], "github.com/projectcalico/calico");
    assert_eq!(rows[1]["module"], "k8s.io/kubernetes");
    assert_eq!(rows[1]["version"], "v1.37.2");
    assert!(
        rows.iter()
            .all(|r| r["built"] == false && r["status"] == "not built")
    );
}

#[test]
fn prebuilt_binaries_of_exactly_the_pins_count_as_built_and_others_do_not() {
    let dir = scratch("engines-prebuilt");
    prebuilt(&dir, "etcd-v3.6.16", "etcd", "etcd Version: 3.6.16");
    prebuilt(
        &dir,
        "kube-apiserver-v1.37.2",
        "kube-apiserver",
        "Kubernetes v1.36.3",
    );
    let output = engines(&dir, &["list"]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line("etcd ").contains(" built "), "{stdout}");
    assert!(
        line("kube-apiserver").contains("wrong version")
            && line("kube-apiserver").contains("Kubernetes v1.36.3"),
        "{stdout}"
    );
    // The pinned one is kept without Go; the wrong one would need a build.
    let kept = engines(&dir, &["build", "etcd"]);
    assert!(kept.status.success(), "{kept:?}");
    assert!(text(&kept.stderr).contains("etcd v3.6.16 already built"));
    let rebuild = engines(&dir, &["build", "kube-apiserver"]);
    assert_eq!(rebuild.status.code(), Some(2), "{rebuild:?}");
}

#[test]
fn a_felix_binary_without_the_calico_crds_beside_it_is_not_built() {
    let dir = scratch("engines-felix-assets");
    let folder = "calico-felix-v0.0.0-20251021213802-b1f3c43f8437";
    prebuilt(
        &dir,
        folder,
        "calico-felix",
        "Full git commit ID: b1f3c43f84370504e218eb5be8a34c81348f866a",
    );
    let felix = |output: &Output| {
        text(&output.stdout)
            .lines()
            .find(|l| l.starts_with("calico-felix"))
            .unwrap_or_default()
            .to_owned()
    };
    let line = felix(&engines(&dir, &["list"]));
    assert!(
        line.contains("not built") && line.ends_with("crds.yaml"),
        "{line}"
    );
    std::fs::write(dir.join("engines").join(folder).join("crds.yaml"), "").unwrap();
    let line = felix(&engines(&dir, &["list"]));
    assert!(line.contains(" built "), "{line}");
}

#[test]
fn kube_router_is_taken_as_built_by_the_version_line_it_prints_on_stderr() {
    let dir = scratch("engines-kube-router");
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("engines/kube-router-v2.10.0/kube-router");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        "#!/bin/sh\necho \"Running $0 version v2.10.0, built on 2026-05-27T14:23:58Z, go1.26.8\" >&2\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = engines(&dir, &["build", "kube-router"]);
    assert!(output.status.success(), "{output:?}");
    assert!(text(&output.stderr).contains("kube-router v2.10.0 already built"));
}

#[test]
fn unknown_engine_names_are_refused_with_the_known_ones() {
    let dir = scratch("engines-unknown");
    let output = engines(&dir, &["build", "kubelet"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr)
            .contains("unknown engine `kubelet` (engines are etcd, kube-apiserver, kube-router, calico-felix, kube-network-policies)"),
        "{output:?}"
    );
}
