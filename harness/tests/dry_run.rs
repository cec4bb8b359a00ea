//! `netpol run --backend kind --cni X --dry-run`: the complete plan of every
//! CNI, pinned. A version bump or a recipe change shows here as a diff of
//! URLs, images, kind config and steps.

use std::path::PathBuf;
use std::process::{Command, Output};

use netpol_harness::backend::kind::plan::{self, KindPlan};
use netpol_harness::backend::kind::{KindOptions, dry_run, plan_for};
use netpol_harness::backend::kube::ProbeVia;
use netpol_harness::cni::Cni;
use netpol_harness::model::Model;

/// A plan independent of the machine: fixed work folder, amd64, SCTP in the kernel.
fn plan(cni: Cni) -> KindPlan {
    let mut plan = KindPlan::new(
        cni.recipe(),
        plan::cluster_name(cni),
        false,
        ProbeVia::Pod,
        true,
        "000000",
    );
    plan.work_dir = PathBuf::from(format!("/tmp/netpol-{cni}.netpol"));
    plan.arch = "amd64";
    plan
}

/// The printed plan, with Dockerfiles relative to the workspace root.
fn render(cni: Cni) -> String {
    dry_run(&plan(cni), &Model::default(), std::path::Path::new("."))
}

fn options(cni: Cni, cluster_name: Option<&str>, keep: bool) -> KindOptions {
    KindOptions {
        cni,
        cluster_name: cluster_name.map(String::from),
        keep,
        via: ProbeVia::Pod,
        run_id: "000000".into(),
    }
}

#[test]
fn every_cni_has_a_complete_plan_pinned() {
    for cni in Cni::ALL {
        let text = render(cni);
        insta::assert_snapshot!(format!("kind-{cni}"), text);
    }
}

#[test]
fn every_plan_names_its_version_config_images_objects_and_steps() {
    for cni in Cni::ALL {
        let text = render(cni);
        let recipe = cni.recipe();
        for needle in [
            recipe.version.as_str(),
            "kind: Cluster",
            "kindest/node:v1.34.0@sha256:",
            "localhost/netpol-probe:dev",
            "namespace x [ns=x]",
            "pod z/c [pod=c]",
            "service z/c",
            "kind delete cluster --name",
        ] {
            assert!(text.contains(needle), "{cni}: no `{needle}` in\n{text}");
        }
        let disabled = format!("disableDefaultCNI: {}", cni != Cni::Kindnet);
        assert!(text.contains(&disabled), "{cni}: {disabled}");
    }
}

#[test]
fn only_the_reference_row_builds_the_enforcer_image() {
    for cni in Cni::ALL {
        let builds = render(cni).contains("reference-enforcer/Dockerfile");
        assert_eq!(builds, cni == Cni::Reference, "{cni}");
    }
}

#[test]
fn keeping_or_naming_a_cluster_never_deletes_it() {
    let kept = plan_for(&options(Cni::Calico, None, true));
    assert!(!kept.delete_after);
    let named = plan_for(&options(Cni::Calico, Some("mine"), false));
    assert!(!named.delete_after);
    assert_eq!(named.cluster, "mine");
    let text = dry_run(&named, &Model::default(), std::path::Path::new("."));
    assert!(
        !text.contains("kind delete cluster --name mine ("),
        "{text}"
    );
    assert!(text.contains(". keep cluster mine"), "{text}");
}

fn netpol(args: &[&str], path: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_netpol"));
    command
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."))
        .args(args);
    if let Some(path) = path {
        command.env("PATH", path);
    }
    command.output().expect("netpol runs")
}

#[test]
fn the_dry_run_of_every_cni_exits_0_from_the_command_line() {
    for cni in [
        "calico",
        "cilium",
        "flannel",
        "antrea",
        "kube-router",
        "kindnet",
        "reference",
    ] {
        // An empty PATH: a dry run needs none of kind, docker, curl or helm.
        let output = netpol(
            &["run", "--backend", "kind", "--cni", cni, "--dry-run"],
            Some(""),
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{cni}: {output:?}");
        assert!(stdout.contains("kind config"), "{cni}: {stdout}");
    }
}

#[test]
fn the_kubeconfig_dry_run_shows_prefixed_namespaces_only() {
    let output = netpol(
        &[
            "run",
            "--backend",
            "kubeconfig",
            "--dry-run",
            "--probe-image",
            "r.example/netpol-probe:1",
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        stdout.contains("namespace netpol-000000-x (model x)"),
        "{stdout}"
    );
    for line in [
        "permissions (the ClusterRole of deploy/kubeconfig-rbac.yaml",
        "  namespaces: get, list, create, patch, delete",
        "  pods/exec: get, create",
        "  networkpolicies (networking.k8s.io): create, patch, delete",
    ] {
        assert!(stdout.contains(line), "no `{line}` in {stdout}");
    }
    assert!(stdout.contains("delete the namespaces labelled app.kubernetes.io/managed-by=netpol,netpol/run=000000 (and nothing else)"), "{stdout}");
}

#[test]
fn a_reused_cluster_reapplies_and_restarts_the_enforcer_so_the_reloaded_image_runs() {
    use netpol_harness::backend::kind::steps::{Action, When};
    use netpol_harness::backend::kind::tools::Tools;
    let steps = plan(Cni::Reference).setup_steps(&Tools::by_name(), std::path::Path::new("."));
    let at = |wanted: &dyn Fn(&Action) -> bool| {
        steps
            .iter()
            .position(|s| wanted(&s.action))
            .expect("the step is in the plan")
    };
    let load = at(
        &|a| matches!(a, Action::Run(c) if c.iter().any(|c| c.argv.contains(&"image-archive".to_owned()))),
    );
    let apply = at(&|a| matches!(a, Action::ApplyBundled { .. }));
    let restart = at(&|a| {
        matches!(
            a,
            Action::RestartDaemonSet {
                name: "netpol-enforcer",
                ..
            }
        )
    });
    let wait = at(&|a| matches!(a, Action::AwaitWorkload(_)));
    assert!(
        load < apply && apply < restart && restart < wait,
        "{steps:#?}"
    );
    assert_eq!(
        steps[apply].when,
        When::Always,
        "re-applied on a reused cluster too"
    );
    assert_eq!(steps[restart].when, When::ReusedCluster);
    let text = render(Cni::Reference);
    assert!(
        text.contains("restart daemonset netpol-system/netpol-enforcer (annotate its pod template with netpol/restarted-by=000000)"),
        "{text}"
    );
    let other = plan(Cni::Calico).setup_steps(&Tools::by_name(), std::path::Path::new("."));
    assert!(
        !other
            .iter()
            .any(|s| matches!(s.action, Action::RestartDaemonSet { .. })),
        "a CNI whose images netpol does not build is left as it is"
    );
}

#[test]
fn a_cni_that_enforces_nothing_gets_a_short_enforce_deadline_and_the_plan_says_so() {
    use netpol_harness::timeouts::Timeouts;
    for cni in Cni::ALL {
        let deadline = plan(cni).capabilities().timeouts.enforce;
        if cni == Cni::Flannel {
            assert_eq!(deadline, Timeouts::CLUSTER_UNENFORCED.enforce);
            assert!(deadline.as_secs() <= 5, "{deadline:?}");
        } else {
            assert_eq!(deadline, Timeouts::CLUSTER.enforce, "{cni}");
        }
    }
    let text = render(Cni::Flannel);
    assert!(
        text.contains("enforce deadline: 5s per step, not the cluster's 60s"),
        "{text}"
    );
    assert!(render(Cni::Calico).contains("enforce deadline: 60s per step"));
}

#[test]
fn enforce_timeout_reaches_the_plan_and_the_dry_run_shows_it_beside_the_recipes() {
    let output = netpol(
        &[
            "run",
            "--backend",
            "kind",
            "--cni",
            "calico",
            "--dry-run",
            "--enforce-timeout",
            "20s",
        ],
        Some(""),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        stdout.contains("enforce deadline: 20s per step (--enforce-timeout; the recipe's is 60s)"),
        "{stdout}"
    );
    let output = netpol(
        &["run", "--backend", "kind", "--cni", "flannel", "--dry-run"],
        Some(""),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("enforce deadline: 5s per step, not the cluster's 60s")
            && stdout.contains(
                "early stop: a step fails once 3 probing rounds in a row saw every cell connected"
            ),
        "{stdout}"
    );
    let output = netpol(
        &[
            "run",
            "--backend",
            "kubeconfig",
            "--dry-run",
            "--probe-image",
            "r.example/netpol-probe:1",
            "--enforce-timeout",
            "500ms",
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("enforce deadline: 0.5s per step (--enforce-timeout)\n"),
        "{stdout}"
    );
    let output = netpol(
        &[
            "run",
            "--backend",
            "kind",
            "--dry-run",
            "--enforce-timeout",
            "soon",
        ],
        Some(""),
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("`soon` is not a duration"),
        "{output:?}"
    );
}

#[test]
fn kindnet_plans_a_dual_stack_and_an_ipv6_cluster_with_kinds_subnets() {
    use netpol_harness::model::IpFamily;
    let dual = plan(Cni::Kindnet)
        .with_ip_family(IpFamily::Dual)
        .expect("kindnet builds dual-stack clusters");
    let text = dry_run(&dual, &Model::default(), std::path::Path::new("."));
    insta::assert_snapshot!("kind-kindnet-dual", text);
    let config = dual.kind_config();
    assert!(config.contains("  ipFamily: dual\n"), "{config}");
    assert!(
        config.contains("  podSubnet: 10.244.0.0/16,fd00:10:244::/56\n"),
        "{config}"
    );
    let v6 = plan(Cni::Kindnet)
        .with_ip_family(IpFamily::Ipv6)
        .expect("and IPv6-only ones")
        .kind_config();
    assert!(v6.contains("  ipFamily: ipv6\n  disableDefaultCNI: false\n  podSubnet: fd00:10:244::/56\n  serviceSubnet: fd00:10:96::/112\n"), "{v6}");
    // IPv4 stays the config it was: no ipFamily line.
    assert!(!plan(Cni::Kindnet).kind_config().contains("ipFamily"));
}

#[test]
fn every_other_recipe_refuses_a_second_family_with_its_reason() {
    use netpol_harness::model::IpFamily;
    for cni in Cni::ALL.into_iter().filter(|c| *c != Cni::Kindnet) {
        for family in [IpFamily::Dual, IpFamily::Ipv6] {
            let refused = plan(cni).with_ip_family(family).unwrap_err();
            assert!(
                refused.starts_with(&format!("--ip-family {family} on kind with --cni {cni}: ")),
                "{refused}"
            );
            assert!(refused.contains("--cni kindnet"), "{refused}");
        }
        assert!(plan(cni).with_ip_family(IpFamily::Ipv4).is_ok());
    }
    let output = netpol(
        &[
            "run",
            "--backend",
            "kind",
            "--cni",
            "calico",
            "--ip-family",
            "dual",
            "--dry-run",
        ],
        Some(""),
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("FELIX_IPV6SUPPORT"));
    let shown = netpol(
        &[
            "run",
            "--backend",
            "kind",
            "--cni",
            "kindnet",
            "--ip-family",
            "dual",
            "--dry-run",
        ],
        Some(""),
    );
    assert_eq!(shown.status.code(), Some(0), "{shown:?}");
    assert!(String::from_utf8_lossy(&shown.stdout).contains("ipFamily: dual"));
}
