use std::path::{Path, PathBuf};

use super::*;

fn node() -> NodeEnv {
    NodeEnv {
        node: "node1".into(),
        node_ip: Ipv4Addr::new(10, 255, 0, 1),
        kubeconfig: PathBuf::from("/run/r/control-plane/kubeconfig"),
        dir: PathBuf::from("/run/r/engine-node1"),
    }
}

#[test]
fn calico_names_a_pods_host_veth_cali_and_eleven_hex_digits_of_the_sha1_of_namespace_dot_pod() {
    // `printf x.a | sha1sum` = 456b416f2bf83c71893c409798ad8b7d688a679e
    let name = calico_veth_name("x", "a");
    assert_eq!(name, "cali456b416f2bf");
    assert_eq!(name.len(), 15, "IFNAMSIZ - 1");
    assert_ne!(calico_veth_name("x", "b"), name);
}

#[test]
fn kube_router_runs_only_its_firewall_for_its_node_with_the_runs_kubeconfig() {
    let launch = Engine::KubeRouter.launch(&node(), Path::new("/e"));
    assert_eq!(
        launch.program,
        Path::new("/e/kube-router-v2.10.0/kube-router")
    );
    for flag in [
        "--kubeconfig=/run/r/control-plane/kubeconfig",
        "--hostname-override=node1",
        "--run-firewall=true",
        "--run-router=false",
        "--run-service-proxy=false",
    ] {
        assert!(launch.args.iter().any(|a| a == flag), "{flag}: {launch:?}");
    }
    assert!(launch.shims.contains(&("iptables", "iptables-nft")));
    assert_eq!(Engine::KubeRouter.world(), WorldShape::default());
}

#[test]
fn felix_is_told_its_node_datastore_and_kubeconfig_and_keeps_its_state_in_its_own_tmpfs() {
    let launch = Engine::CalicoFelix.launch(&node(), Path::new("/e"));
    let env: std::collections::BTreeMap<&str, &str> = launch
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(env["FELIX_DATASTORETYPE"], "kubernetes");
    assert_eq!(env["FELIX_FELIXHOSTNAME"], "node1");
    assert_eq!(env["KUBECONFIG"], "/run/r/control-plane/kubeconfig");
    assert_eq!(env["FELIX_IPTABLESBACKEND"], "NFT");
    assert_eq!(env["FELIX_DEFAULTENDPOINTTOHOSTACTION"], "ACCEPT");
    assert_eq!(env["FELIX_DebugSkipCTLBCleanup"], "true");
    assert_eq!(env["FELIX_USAGEREPORTINGENABLED"], "false");
    assert_eq!(launch.tmpfs, ["/var/lib", "/run"]);
    assert_eq!(
        Engine::CalicoFelix.world(),
        WorldShape {
            host_if: HostIfNaming::Calico,
            gateway: Gateway::NodeLoopback
        }
    );
}

#[test]
fn felix_is_given_the_release_crds_and_a_cluster_information_that_says_the_datastore_is_ready() {
    let dir = std::env::temp_dir().join(format!("netpol-felix-manifest-{}", std::process::id()));
    let folder = crate::engines::CALICO_FELIX.folder(&dir);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("crds.yaml"),
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: clusterinformations.crd.projectcalico.org\n",
    )
    .unwrap();
    let text = Engine::CalicoFelix.manifests(&dir).unwrap().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let objects = crate::backend::kube::apply::parse_manifests(&text).unwrap();
    assert_eq!(objects.len(), 2);
    let info = &objects[1];
    assert_eq!(info.metadata.name.as_deref(), Some("default"));
    assert_eq!(info.data["spec"]["datastoreReady"], true);
    assert_eq!(
        info.data["spec"]["calicoVersion"],
        crate::engines::versions::CALICO_RELEASE
    );
    assert!(Engine::KubeRouter.manifests(&dir).unwrap().is_none());
}

#[test]
fn kube_network_policies_is_given_its_node_and_no_runtime_socket() {
    let launch = Engine::KubeNetworkPolicies.launch(&node(), Path::new("/e"));
    assert!(
        launch
            .args
            .contains(&"--hostname-override=node1".to_owned())
    );
    assert!(launch.args.contains(&"--disable-nri=true".to_owned()));
    // The probe rule is the statement it programs by default: queue 100, bypass.
    assert!(kube_network_policies::QUEUE_PROBE.contains("queue num 100 bypass"));
}

#[test]
fn a_missing_tool_is_named_with_its_package() {
    let message =
        missing_tools(&[("netpol-no-such-tool", "some-package"), ("sh", "dash")]).unwrap();
    assert_eq!(
        message,
        "netpol-no-such-tool not found on PATH (`apt-get install some-package`)"
    );
    assert_eq!(missing_tools(&[("sh", "dash")]), None);
}

#[test]
fn an_engine_claims_ipv6_only_where_its_world_routes_ipv6_and_kube_router_is_asked_for_it() {
    for engine in Engine::ALL {
        let routed = engine.world().gateway == crate::backend::netns::topology::Gateway::HostVeth;
        assert_eq!(engine.ipv6(), routed, "{}", engine.name());
    }
    assert!(!Engine::CalicoFelix.ipv6());
    let launch = Engine::KubeRouter.launch(&node(), Path::new("/e"));
    assert!(
        launch.args.iter().any(|a| a == "--enable-ipv6=true"),
        "{launch:?}"
    );
}
