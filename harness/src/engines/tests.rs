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
fn kube_router_is_the_pin_when_its_version_line_names_the_release_and_its_build_date() {
    // pkg/version/version.go PrintVersion, with whatever argv[0] and Go release.
    let line = "Running /e/kube-router-v2.10.0/kube-router version v2.10.0, built on 2026-05-27T14:23:58Z, go1.26.8\n";
    assert!(cache::reports_version(&KUBE_ROUTER, line));
    // An unstamped `go build` prints an empty version and date.
    assert!(!cache::reports_version(
        &KUBE_ROUTER,
        "Running ./kube-router version , built on , go1.26.8\n"
    ));
    assert!(!cache::reports_version(
        &KUBE_ROUTER,
        "Running kube-router version v2.10.1, built on 2026-05-27T14:23:58Z, go1.26.8\n"
    ));
}

#[test]
fn felix_is_the_pin_when_it_reports_the_commit_its_pseudo_version_names() {
    assert!(versions::CALICO.ends_with(&versions::CALICO_COMMIT[..12]));
    assert!(
        versions::CALICO.contains(&versions::CALICO_DATE.replace(['-', 'T', ':', 'Z'], "")),
        "the pseudo-version's time is the commit's"
    );
    let output = "Version:            v3.31.0\nFull git commit ID: b1f3c43f84370504e218eb5be8a34c81348f866a\nBuild date:         2025-10-21T21:38:02Z\n";
    assert!(cache::reports_version(&CALICO_FELIX, output));
    assert!(!cache::reports_version(
        &CALICO_FELIX,
        "Version:            v3.31.0\nFull git commit ID: \nBuild date:         \n"
    ));
}

#[test]
fn kube_network_policies_is_the_pin_when_its_go_build_info_lists_the_module_at_the_pin() {
    // What `go version -m` prints for the build of its wrapper module.
    let output = "/e/kube-network-policies: go1.26.8\n\tpath\tsigs.k8s.io/kube-network-policies/cmd/kube-network-policies/standard\n\tmod\tsigs.k8s.io/kube-network-policies\tv1.1.1\th1:ExnSqFxMUe8eQesK2ue5BM2pdZ6Z5d4MvJywDHJ6wqo=\n\tdep\tgithub.com/beorn7/perks\tv1.0.1\th1:x=\n";
    assert!(cache::reports_version(&KUBE_NETWORK_POLICIES, output));
    let other = output.replace("v1.1.1", "v1.1.10");
    assert!(!cache::reports_version(&KUBE_NETWORK_POLICIES, &other));
    // A module replaced by another version is listed with `=>`: not the pin.
    let replaced = output.replace(
        "\tv1.1.1\th1:ExnSqFxMUe8eQesK2ue5BM2pdZ6Z5d4MvJywDHJ6wqo=",
        "\tv1.1.1\n\t=>\tsigs.k8s.io/kube-network-policies\tv1.0.0\th1:x=",
    );
    assert!(!cache::reports_version(&KUBE_NETWORK_POLICIES, &replaced));
    // The module only as a dependency of another main module: not this build.
    let dependency = output.replace("\tmod\tsigs.k8s.io", "\tdep\tsigs.k8s.io");
    assert!(!cache::reports_version(&KUBE_NETWORK_POLICIES, &dependency));
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
        "unknown engine `etc`, `kubelet` (engines are etcd, kube-apiserver, kube-router, \
         calico-felix, kube-network-policies)"
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
    assert!(
        message.contains("/e/kube-router-v2.10.0/kube-router (`kube-router v2.10.0`)"),
        "{message}"
    );
}

#[test]
fn the_policy_engines_are_built_from_their_release_packages_with_release_stamps() {
    let args = |c: &Component| {
        build::go_build_args(
            c,
            Path::new("/usr/local/go/bin/go"),
            Path::new("/e/m"),
            Path::new("/e/out"),
        )
        .join(" ")
    };
    let kube_router = args(&KUBE_ROUTER);
    assert!(
        kube_router.contains("pkg/version.Version=v2.10.0 "),
        "{kube_router}"
    );
    assert!(kube_router.ends_with(" github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"));
    let felix = args(&CALICO_FELIX);
    assert!(felix.contains("buildinfo.Version=v3.31.0 "), "{felix}");
    assert!(felix.contains("buildinfo.GitRevision=b1f3c43f84370504e218eb5be8a34c81348f866a"));
    let knp = args(&KUBE_NETWORK_POLICIES);
    assert!(!knp.contains("-ldflags"), "{knp}");
}
