//! The Kubernetes driver against a mocked API server (tower-test behind
//! `kube::Client::new`): creating the world, refusing what is not netpol's,
//! and readiness. Every call is checked for method, path, query and body and
//! answered; each test is bounded by a timeout, and a call the mock did not
//! expect fails the test.

mod kube_mock;

use std::pin::pin;
use std::time::Duration;

use kube_mock::*;
use netpol_harness::backend::kube::driver::{Driver, DriverError};
use netpol_harness::backend::kube::{KubeWorld, Names};
use netpol_harness::model::{Model, PodId};
use netpol_harness::timeouts::Timeouts;
use serde_json::json;

#[tokio::test]
async fn setup_creates_namespaces_pods_and_services_server_side_and_reads_their_addresses() {
    let (client, handle) = mock();
    let names = Names::plain("abc123");
    let mut world = KubeWorld::new(Driver::new(client, names.clone()), options());
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        serve_setup(&mut handle, &names).await
    });
    let addresses = bounded(world.setup(&Model::default()))
        .await
        .expect("setup");
    let seen = bounded(server).await.expect("the mock ran");
    assert_eq!(
        addresses.ips[&PodId::new("y", "b")].v4.to_string(),
        "10.244.2.11"
    );
    assert_eq!(
        world.nodes,
        vec!["worker0".to_owned(), "worker1".to_owned()]
    );
    let applies: Vec<&Seen> = seen.iter().filter(|s| s.method == "PATCH").collect();
    assert_eq!(applies.len(), 3 + 9 + 9);
    assert!(
        applies
            .iter()
            .all(|s| s.content_type == "application/apply-patch+yaml"),
        "{applies:?}"
    );
    let namespace = &applies[0].body;
    assert_eq!(
        namespace["metadata"]["labels"],
        json!({"app.kubernetes.io/managed-by": "netpol", "netpol/run": "abc123", "ns": "x"})
    );
    let pod = &applies[3].body;
    assert_eq!(pod["metadata"]["labels"]["pod"], "a");
    assert_eq!(pod["metadata"]["labels"]["netpol/probe"], "a");
    let ports: Vec<&str> = pod["spec"]["containers"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        ports,
        [
            "serve-80-tcp",
            "serve-81-tcp",
            "serve-80-udp",
            "serve-81-udp",
            "serve-80-sctp",
            "serve-81-sctp"
        ]
    );
    let service = &applies[12].body;
    assert_eq!(
        service["spec"]["selector"],
        json!({"netpol/probe": "a", "netpol/run": "abc123"})
    );
    assert_eq!(
        service["spec"]["ports"].as_array().unwrap().len(),
        4,
        "TCP and UDP only: {service}"
    );
}

#[tokio::test]
async fn a_namespace_netpol_did_not_create_is_refused_and_nothing_is_written() {
    let (client, handle) = mock();
    let names = Names::prefixed("abc123");
    let mut world = KubeWorld::new(Driver::new(client, names), options());
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        let theirs =
            json!({"metadata": {"name": "netpol-abc123-x", "labels": {"team": "payments"}}});
        answer(
            &mut handle,
            call(
                "GET",
                "/api/v1/namespaces/netpol-abc123-x",
                &[],
                200,
                theirs,
            ),
        )
        .await;
        // Any further call would be a write: the mock must see none.
        assert!(
            tokio::time::timeout(Duration::from_millis(200), handle.next_request())
                .await
                .is_err()
        );
    });
    let error = bounded(world.setup(&Model::default()))
        .await
        .expect_err("refused");
    bounded(server).await.expect("the mock ran");
    assert!(
        matches!(error, DriverError::Foreign(ref ns) if ns == "netpol-abc123-x"),
        "{error}"
    );
    assert!(
        error.to_string().contains("refusing to touch it"),
        "{error}"
    );
}

#[tokio::test]
async fn a_pod_that_never_gets_ready_is_named_with_what_it_waits_for() {
    let (client, handle) = mock();
    let driver = Driver::new(client, Names::plain("abc123"));
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        let waiting = json!({"metadata": {"name": "a"}, "status": {"phase": "Pending",
            "containerStatuses": [{"name": "probe", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                                   "state": {"waiting": {"reason": "ErrImageNeverPull", "message": "image not present"}}}]}});
        answer(
            &mut handle,
            call(
                "GET",
                "/api/v1/namespaces/x/pods",
                &[],
                200,
                list(vec![waiting]),
            ),
        )
        .await;
        answer(
            &mut handle,
            call(
                "GET",
                "/api/v1/namespaces/x/services",
                &[],
                200,
                list(Vec::new()),
            ),
        )
        .await;
    });
    let error = bounded(driver.await_pods(&[PodId::new("x", "a")], Duration::ZERO))
        .await
        .expect_err("not ready");
    bounded(server).await.expect("the mock ran");
    assert_eq!(
        error.to_string(),
        "pod `x/a` not Ready within 0s (ErrImageNeverPull: image not present)"
    );
}

#[test]
fn readiness_timeouts_are_named_in_seconds() {
    let error = DriverError::NotReady {
        what: "pod `x/a`".into(),
        within: Timeouts::POD_READY,
        detail: String::new(),
    };
    assert_eq!(error.to_string(), "pod `x/a` not Ready within 120s");
}

#[test]
fn policies_keep_their_selectors_on_a_cluster_made_for_the_run() {
    let names = Names::plain("abc123");
    let mapped = names.policy_object(&policy("x", "p", "y"));
    assert_eq!(mapped.metadata.namespace.as_deref(), Some("x"));
    let selector = mapped.spec.unwrap().ingress.unwrap()[0]
        .from
        .as_ref()
        .unwrap()[0]
        .namespace_selector
        .clone()
        .unwrap();
    assert_eq!(
        selector.match_labels.unwrap()["kubernetes.io/metadata.name"],
        "y"
    );
}

#[test]
fn policy_types_follow_the_api_servers_default_and_keep_what_is_written() {
    use netpol_harness::backend::kube::objects::policy_types;
    let spec = |value: serde_json::Value| {
        serde_json::from_value::<k8s_openapi::api::networking::v1::NetworkPolicySpec>(value)
            .unwrap()
    };
    assert_eq!(policy_types(&spec(json!({"podSelector": {}}))), ["Ingress"]);
    assert_eq!(
        policy_types(&spec(
            json!({"podSelector": {}, "policyTypes": [], "egress": [{}]})
        )),
        ["Ingress", "Egress"],
        "an empty list is defaulted too (len == 0 in defaults.go)"
    );
    assert_eq!(
        policy_types(&spec(json!({"podSelector": {}, "egress": []}))),
        ["Ingress"],
        "an empty egress section is no egress rule"
    );
    assert_eq!(
        policy_types(&spec(json!({"podSelector": {}, "policyTypes": ["Egress"]}))),
        ["Egress"]
    );
}

#[tokio::test]
async fn without_a_kubelet_the_harness_applies_nodes_and_reports_pod_status_itself() {
    // For an API server that runs alone: Nodes come from the caller, and
    // pod status is patched as a kubelet would.
    let (client, handle) = mock();
    let driver = Driver::new(client, Names::plain("abc123"));
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        let node = answer(
            &mut handle,
            call(
                "PATCH",
                "/api/v1/nodes/node-1",
                &SSA,
                200,
                json!({"metadata": {}}),
            ),
        )
        .await;
        let status = answer(
            &mut handle,
            call(
                "PATCH",
                "/api/v1/namespaces/x/pods/a/status",
                &[],
                200,
                json!({"metadata": {}}),
            ),
        )
        .await;
        (node, status)
    });
    let node: k8s_openapi::api::core::v1::Node = serde_json::from_value(json!({
        "metadata": {"name": "node-1"},
        "spec": {"podCIDR": "10.244.1.0/24"},
        "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}
    }))
    .unwrap();
    bounded(driver.apply_node(&node))
        .await
        .expect("node applied");
    let status: k8s_openapi::api::core::v1::PodStatus = serde_json::from_value(json!({
        "phase": "Running", "podIP": "10.244.1.10",
        "conditions": [{"type": "Ready", "status": "True"}]
    }))
    .unwrap();
    bounded(driver.patch_pod_status(&PodId::new("x", "a"), &status))
        .await
        .expect("status set");
    let (node, status) = bounded(server).await.expect("the mock ran");
    assert_eq!(node.body["spec"]["podCIDR"], "10.244.1.0/24");
    assert_eq!(status.content_type, "application/merge-patch+json");
    assert_eq!(status.body["status"]["podIP"], "10.244.1.10");
}
