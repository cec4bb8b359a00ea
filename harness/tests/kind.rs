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

/// Runs `script` with `PATH` and returns its exit code, its stderr and what
/// the stand-ins logged in `log`; removes `work` afterwards.
fn run_logged(
    mut script: Command,
    path: &str,
    log: &std::path::Path,
    work: &std::path::Path,
) -> (Option<i32>, String, String) {
    let output = script.env("PATH", path).output().expect("the script runs");
    let logged = std::fs::read_to_string(log).unwrap_or_default();
    let _ = std::fs::remove_dir_all(work);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        logged,
    )
}

/// Writes an executable shell script: a stand-in for a program.
fn stand_in_program(path: &std::path::Path, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
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

mod one_list_of_steps {
    //! The dry run is the real plan: the commands a kind setup runs, run
    //! here against stand-in programs that log their argv, are the lines
    //! the plan prints, in the same order.

    use std::path::{Path, PathBuf};

    use netpol_harness::backend::kind::cluster::{self, Progress, sha256_hex};
    use netpol_harness::backend::kind::plan::{self, KindPlan};
    use netpol_harness::backend::kind::steps::Action;
    use netpol_harness::backend::kind::tools::{Engine, Tools};
    use netpol_harness::backend::kube::ProbeVia;
    use netpol_harness::cni::Cni;
    use netpol_harness::cni::versions::KIND;
    use netpol_harness::command::shell_line;

    const ARCHIVE: &str = "a stand-in for the plugins archive\n";

    /// A program that logs its argv (one line, arguments separated by
    /// U+001F) and answers what the kind backend reads from it.
    fn stand_in(dir: &Path, name: &str, log: &Path) -> PathBuf {
        let path = dir.join(name);
        let script = format!(
            r#"{{ printf '%s' "$0"; for a in "$@"; do printf '\037%s' "$a"; done; echo; }} >> '{log}'
case "{name} $1 $2" in
  "kind version "*) echo "kind {KIND} go1.25 linux/amd64" ;;
  "kind get kubeconfig") printf 'apiVersion: v1\nkind: Config\nclusters: [{{name: k, cluster: {{server: "http://127.0.0.1:9"}}}}]\ncontexts: [{{name: k, context: {{cluster: k, user: u}}}}]\ncurrent-context: k\nusers: [{{name: u, user: {{}}}}]\n' ;;
  "curl -fsSL --retry") shift 4; printf '{archive}' > "$1" ;;
esac
"#,
            log = log.display(),
            archive = ARCHIVE.replace('\n', "\\n"),
        );
        super::stand_in_program(&path, &script);
        path
    }

    #[tokio::test]
    async fn the_commands_a_kind_setup_runs_are_the_lines_its_dry_run_prints() {
        let root = std::env::temp_dir().join(format!("netpol-kind-steps-{}", std::process::id()));
        let bin = root.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let log = root.join("argv.log");
        let tools = Tools {
            kind: stand_in(&bin, "kind", &log),
            engine: Engine::Docker(stand_in(&bin, "docker", &log)),
            curl: Some(stand_in(&bin, "curl", &log)),
            tar: Some(stand_in(&bin, "tar", &log)),
            chart: None,
        };
        let mut recipe = Cni::Flannel.recipe();
        let digest: &'static str = Box::leak(sha256_hex(ARCHIVE.as_bytes()).into_boxed_str());
        recipe.downloads[0].sha256 = digest;
        let mut plan = KindPlan::new(
            recipe,
            plan::cluster_name(Cni::Flannel),
            false,
            ProbeVia::Pod,
            false,
            "000000",
        );
        plan.work_dir = root.join("work");
        std::fs::create_dir_all(&plan.work_dir).unwrap();
        let workspace = Path::new(".");

        // Every step up to the first that needs a live API server.
        let mut progress = Progress::default();
        let mut expected = Vec::new();
        for step in plan.setup_steps(&tools, workspace) {
            let commands = match &step.action {
                Action::CheckKind(c) | Action::FindCluster(c) => vec![c.clone()],
                Action::Download { fetch, unpack, .. } => vec![fetch.clone(), unpack.clone()],
                Action::CreateCluster { create, .. } => vec![create.clone()],
                Action::Kubeconfig { get, .. } => vec![get.clone()],
                Action::Run(cmds) => cmds.clone(),
                _ => break,
            };
            cluster::execute(&plan, &step.action, &mut progress)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", step.title));
            expected.extend(commands.into_iter().map(|c| c.argv));
        }
        assert!(progress.client.is_some(), "the kubeconfig step connected");
        let logged: Vec<Vec<String>> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(|l| l.split('\u{1f}').map(String::from).collect())
            .collect();
        assert_eq!(
            logged, expected,
            "the executor ran every command of the plan, in order"
        );
        let printed = plan.numbered_steps(&tools, workspace).join("\n");
        let mut from = 0;
        for argv in &logged {
            let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
            let line = shell_line(&argv[0], &args);
            let at = printed[from..].find(&line).unwrap_or_else(|| {
                panic!("`{line}` ran but is not printed (after byte {from}) in\n{printed}")
            });
            from += at + line.len();
        }
        assert!(
            logged
                .iter()
                .any(|a| a.get(1..3) == Some(&["load".to_owned(), "image-archive".to_owned()][..])),
            "images are loaded from an archive: {logged:?}"
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}

mod workflow {
    //! .github/workflows/kind.yml: its kernel-module step and its path filter.

    use std::path::{Path, PathBuf};
    use std::process::Command;

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// Runs scripts/load-kernel-modules with stand-in `modprobe`, `apt-get`
    /// and `uname`: modprobe fails for the modules in `missing` (sctp loads
    /// once apt-get has "installed" the extra modules, when `extra` is true).
    fn load_modules(missing: &[&str], extra: bool) -> (Option<i32>, String, String) {
        let work = std::env::temp_dir().join(format!(
            "netpol-modules-{}-{}-{extra}",
            std::process::id(),
            missing.join("-")
        ));
        let bin = work.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let log = work.join("calls");
        let installed = work.join("installed");
        let stub = |name: &str, body: String| {
            let script = format!("echo \"{name} $*\" >> '{}'\n{body}", log.display());
            super::stand_in_program(&bin.join(name), &script);
        };
        let fails: Vec<String> = missing
            .iter()
            .map(|m| format!("*{m}*) [ -e '{}' ] || exit 1 ;;", installed.display()))
            .collect();
        stub(
            "modprobe",
            format!("case \"$*\" in {} esac", fails.join(" ")),
        );
        stub(
            "apt-get",
            if extra {
                format!(
                    "case \"$1\" in install) touch '{}' ;; esac",
                    installed.display()
                )
            } else {
                "case \"$1\" in install) exit 100 ;; esac".into()
            },
        );
        stub("uname", "echo 6.8.0-1021-azure".into());
        let path = format!("{}:/usr/bin:/bin", bin.display());
        let script = Command::new(root().join("scripts/load-kernel-modules"));
        super::run_logged(script, &path, &log, &work)
    }

    #[test]
    fn a_kernel_without_sctp_only_warns_and_the_required_modules_still_fail_the_step() {
        let (code, stderr, calls) = load_modules(&["sctp"], false);
        assert_eq!(code, Some(0), "{stderr}");
        assert!(
            stderr.contains("::warning::sctp is not available"),
            "{stderr}"
        );
        assert!(
            calls.contains("modprobe -a br_netfilter nfnetlink_queue")
                && calls.contains("apt-get install -y -qq linux-modules-extra-6.8.0-1021-azure"),
            "{calls}"
        );
        let (code, stderr, _) = load_modules(&["sctp"], true);
        assert_eq!(code, Some(0), "{stderr}");
        assert!(
            !stderr.contains("warning"),
            "sctp came with the extra modules: {stderr}"
        );
        let (code, _, calls) = load_modules(&["br_netfilter"], false);
        assert_ne!(code, Some(0), "a missing required module fails: {calls}");
        let workflow = std::fs::read_to_string(root().join(".github/workflows/kind.yml")).unwrap();
        assert!(
            workflow.contains("run: sudo scripts/load-kernel-modules"),
            "{workflow}"
        );
    }

    /// `**` any path, `*` anything within one segment.
    fn glob(pattern: &str, path: &str) -> bool {
        match pattern.strip_suffix("/**") {
            Some(prefix) => path.starts_with(&format!("{prefix}/")),
            None => {
                let (p, t): (Vec<&str>, Vec<&str>) =
                    (pattern.split('/').collect(), path.split('/').collect());
                p.len() == t.len()
                    && p.iter().zip(&t).all(|(p, t)| match p.split_once('*') {
                        Some((a, b)) => t.starts_with(a) && t.ends_with(b),
                        None => p == t,
                    })
            }
        }
    }

    fn files(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files(&path, root, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }

    #[test]
    fn the_workflow_runs_on_every_change_to_what_a_kind_run_is_built_from() {
        let text = std::fs::read_to_string(root().join(".github/workflows/kind.yml")).unwrap();
        let paths: Vec<String> = text
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("paths:"))
            .skip(1)
            .take_while(|l| l.trim_start().starts_with("- "))
            .map(|l| l.trim_start()[2..].trim_matches('"').to_owned())
            .collect();
        assert!(!paths.is_empty(), "no paths filter found");
        let root = root();
        let mut sources = vec![
            "Cargo.lock".to_owned(),
            "Cargo.toml".to_owned(),
            "harness/Cargo.toml".to_owned(),
        ];
        for dir in [
            "cases",
            "harness/src",
            "probe-image/src",
            "reference-enforcer/src",
            "deploy",
            "scripts",
        ] {
            files(&root.join(dir), &root, &mut sources);
        }
        let uncovered: Vec<&String> = sources
            .iter()
            .filter(|f| !paths.iter().any(|p| glob(p, f)))
            .collect();
        assert!(
            uncovered.is_empty(),
            "not in the workflow's paths: {uncovered:?}"
        );
    }
}
