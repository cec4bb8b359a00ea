use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::*;

/// `from => to version`.
type Replace<'a> = (&'a str, &'a str, &'a str);

/// `module version` pairs of a go.mod's require lines, and its replace lines.
fn parse_go_mod(text: &str) -> (BTreeMap<&str, &str>, Vec<Replace<'_>>) {
    let mut requires = BTreeMap::new();
    let mut replaces = Vec::new();
    let mut block = "";
    for line in text
        .lines()
        .map(|l| l.split("//").next().unwrap_or("").trim())
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["require", "("] => block = "require",
            ["replace", "("] => block = "replace",
            [")"] => block = "",
            ["require", module, version] => {
                requires.insert(*module, *version);
            }
            [module, version] if block == "require" => {
                requires.insert(*module, *version);
            }
            [from, "=>", to, version] if block == "replace" => {
                replaces.push((*from, *to, *version))
            }
            _ => {}
        }
    }
    (requires, replaces)
}

fn tools(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("tool "))
        .map(str::trim)
        .collect()
}

#[test]
fn every_wrapper_module_requires_exactly_the_pinned_version_and_names_the_package_as_a_tool() {
    for component in COMPONENTS {
        let (requires, _) = parse_go_mod(component.wrapper.go_mod);
        assert_eq!(
            requires.get(component.module),
            Some(&component.version),
            "engines/{}/go.mod and versions.rs disagree on {}",
            component.wrapper.name,
            component.module
        );
        assert!(
            tools(component.wrapper.go_mod).contains(&component.package),
            "engines/{}/go.mod has no `tool {}` line",
            component.wrapper.name,
            component.package
        );
        assert!(
            component
                .wrapper
                .go_sum
                .contains(&format!("{} {} h1:", component.module, component.version)),
            "engines/{}/go.sum lacks {}",
            component.wrapper.name,
            component.label()
        );
    }
}

#[test]
fn kube_apiserver_replaces_each_staging_module_by_its_own_release_of_the_same_version() {
    let (requires, replaces) = parse_go_mod(KUBE_APISERVER.wrapper.go_mod);
    assert!(replaces.len() >= 30, "{replaces:?}");
    for (from, to, version) in &replaces {
        assert!(from.starts_with("k8s.io/"), "{from}");
        assert_eq!(
            from, to,
            "a staging module is replaced by itself, published"
        );
        assert_eq!(*version, versions::KUBERNETES_STAGING, "{from}");
    }
    // What the build needs at v0.0.0 (k8s.io/kubernetes's own tree) is replaced.
    for (module, version) in &requires {
        if *version == "v0.0.0" {
            assert!(
                replaces.iter().any(|(from, _, _)| from == module),
                "{module} v0.0.0 is required but not replaced"
            );
        }
    }
    let staging = versions::KUBERNETES.replacen("v1.", "v0.", 1);
    assert_eq!(versions::KUBERNETES_STAGING, staging);
}

#[test]
fn kube_apiserver_is_stamped_with_the_release_version_as_kubernetes_release_builds_are() {
    let stamps = (KUBE_APISERVER.stamps)("v1.37.2");
    let get = |name: &str| {
        stamps
            .iter()
            .find(|(n, _)| n.ends_with(name))
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get(".gitVersion"), Some("v1.37.2"));
    assert_eq!(get(".gitMajor"), Some("1"));
    assert_eq!(get(".gitMinor"), Some("37"));
    assert_eq!(get(".buildDate"), Some(versions::KUBERNETES_DATE));
    assert!((ETCD.stamps)(ETCD.version).is_empty());
}

#[test]
fn a_binary_is_the_pin_only_when_its_version_output_has_the_exact_line() {
    let etcd = "etcd Version: 3.6.16\nGit SHA: Not provided (use ./build instead of go build)\nGo Version: go1.26.8\n";
    assert!(cache::reports_version(&ETCD, etcd));
    assert!(!cache::reports_version(
        &ETCD,
        "etcd Version: 3.6.160\nGit SHA: x\n"
    ));
    assert!(cache::reports_version(
        &KUBE_APISERVER,
        "Kubernetes v1.37.2\n"
    ));
    assert!(!cache::reports_version(
        &KUBE_APISERVER,
        "Kubernetes v0.0.0-master+$Format:%H$\n"
    ));
}

#[test]
fn the_engines_folder_is_the_override_else_the_xdg_cache_else_home() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        }
    };
    assert_eq!(
        engines_dir_from(env(&[
            ("NETPOL_ENGINES_DIR", "/opt/e"),
            ("XDG_CACHE_HOME", "/c"),
            ("HOME", "/h")
        ])),
        Ok(PathBuf::from("/opt/e"))
    );
    assert_eq!(
        engines_dir_from(env(&[("XDG_CACHE_HOME", "/c"), ("HOME", "/h")])),
        Ok(PathBuf::from("/c/netpol/engines"))
    );
    // A relative or empty XDG_CACHE_HOME is ignored, as the XDG spec says.
    assert_eq!(
        engines_dir_from(env(&[
            ("NETPOL_ENGINES_DIR", ""),
            ("XDG_CACHE_HOME", "rel"),
            ("HOME", "/h")
        ])),
        Ok(PathBuf::from("/h/.cache/netpol/engines"))
    );
    let none = engines_dir_from(env(&[])).unwrap_err();
    assert!(none.contains("NETPOL_ENGINES_DIR"), "{none}");
}

#[test]
fn each_engine_has_its_own_versioned_folder() {
    let dir = Path::new("/e");
    assert_eq!(
        KUBE_APISERVER.binary(dir),
        Path::new("/e/kube-apiserver-v1.37.2/kube-apiserver")
    );
    assert_eq!(ETCD.binary(dir), Path::new("/e/etcd-v3.6.16/etcd"));
}

#[test]
fn unknown_engine_names_are_all_listed_with_the_known_ones() {
    assert_eq!(select(&[]).unwrap().len(), COMPONENTS.len());
    let one = select(&["kube-apiserver".to_owned()]).unwrap();
    assert_eq!(
        one.iter().map(|c| c.name).collect::<Vec<_>>(),
        ["kube-apiserver"]
    );
    assert_eq!(
        select(&["etc".to_owned(), "kubelet".to_owned()]).unwrap_err(),
        "unknown engine `etc`, `kubelet` (engines are etcd, kube-apiserver)"
    );
}

#[test]
fn the_go_build_command_reads_as_a_pasteable_line() {
    let args = build::go_build_args(
        &KUBE_APISERVER,
        Path::new("/usr/local/go/bin/go"),
        Path::new("/e/kube-apiserver-v1.37.2/.module-1"),
        Path::new("/e/kube-apiserver-v1.37.2/kube-apiserver.partial"),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    insta::assert_snapshot!(crate::command::shell_line("env", &args));
}

#[test]
fn without_go_the_message_says_how_to_get_it_or_where_release_binaries_go() {
    let message = go_missing_message(Path::new("/e"));
    assert!(message.contains("go.dev/dl"), "{message}");
    assert!(
        message.contains("/e/etcd-v3.6.16/etcd (`etcd v3.6.16`)"),
        "{message}"
    );
    assert!(
        message.contains("/e/kube-apiserver-v1.37.2/kube-apiserver (`kube-apiserver v1.37.2`)"),
        "{message}"
    );
}
