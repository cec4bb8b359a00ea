//! .github/workflows/kind.yml: its kernel-module step and its path filter.

use std::path::{Path, PathBuf};
use std::process::Command;

mod stand_in;
use stand_in::{run_logged, stand_in_program};

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
        stand_in_program(&bin.join(name), &script);
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
    run_logged(script, &path, &log, &work)
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
