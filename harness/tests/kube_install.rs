//! The kind backend's API calls against a mocked API server: a CNI's
//! manifests applied server-side (discovery, CRDs first and Established,
//! then the rest), and the readiness of its workloads and of the nodes.

use std::pin::pin;
use std::time::Duration;

use http::{Request, Response};
use kube::Client;
use kube::client::Body;
use netpol_harness::backend::kube::apply;
use netpol_harness::cni::Workload;
use serde_json::{Value, json};
use tower_test::mock::Handle;

type Mock = Handle<Request<Body>, Response<Body>>;

const BOUND: Duration = Duration::from_secs(10);

fn mock() -> (Client, Mock) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (Client::new(service, "default"), handle)
}

/// Answers the next request, which must be `method path`; returns its query and body.
async fn answer(handle: &mut Mock, method: &str, path: &str, answer: Value) -> (String, Value) {
    let (request, send) = handle
        .next_request()
        .await
        .unwrap_or_else(|| panic!("no request; expected {method} {path}"));
    assert_eq!(
        (request.method().as_str(), request.uri().path()),
        (method, path)
    );
    let query = request.uri().query().unwrap_or_default().to_owned();
    let bytes = request.into_body().collect_bytes().await.expect("a body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    send.send_response(
        Response::builder()
            .status(200)
            .body(Body::from(serde_json::to_vec(&answer).unwrap()))
            .unwrap(),
    );
    (query, body)
}

fn resources(group_version: &str, list: &[(&str, &str, bool)]) -> Value {
    let resources: Vec<Value> = list
        .iter()
        .map(|(plural, kind, namespaced)| {
            json!({"name": plural, "singularName": "", "namespaced": namespaced, "kind": kind,
                   "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
        })
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

const MANIFEST: &str = r#"
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cni-config, namespace: kube-system}
data: {conf: "{}"}
---
# An empty document, as real manifests have.
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: cni-agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: cni}}
  template:
    metadata: {labels: {app: cni}}
    spec: {containers: [{name: agent, image: example/agent:v1}]}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: pools.example.io}
spec:
  group: example.io
  names: {kind: Pool, plural: pools}
  scope: Cluster
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
"#;

#[test]
fn manifests_are_parsed_into_objects_skipping_empty_documents() {
    let objects = apply::parse_manifests(MANIFEST).expect("a manifest");
    let kinds: Vec<&str> = objects
        .iter()
        .map(|o| o.types.as_ref().unwrap().kind.as_str())
        .collect();
    assert_eq!(
        kinds,
        ["ConfigMap", "DaemonSet", "CustomResourceDefinition"]
    );
    let list = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n";
    assert_eq!(apply::parse_manifests(list).unwrap().len(), 1);
    let error = apply::parse_manifests("kind: ConfigMap\n").unwrap_err();
    assert!(error.contains("apiVersion"), "{error}");
}

#[tokio::test]
async fn crds_are_applied_and_established_before_the_rest_all_server_side() {
    let (client, handle) = mock();
    let objects = apply::parse_manifests(MANIFEST).expect("a manifest");
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        let mut patches = Vec::new();
        answer(
            &mut handle,
            "GET",
            "/apis/apiextensions.k8s.io/v1",
            resources(
                "apiextensions.k8s.io/v1",
                &[(
                    "customresourcedefinitions",
                    "CustomResourceDefinition",
                    false,
                )],
            ),
        )
        .await;
        patches.push(
            answer(
                &mut handle,
                "PATCH",
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/pools.example.io",
                json!({"metadata": {}}),
            )
            .await,
        );
        let established = json!({"metadata": {"name": "pools.example.io"},
            "spec": {"group": "example.io", "names": {"kind": "Pool", "plural": "pools"}, "scope": "Cluster", "versions": []},
            "status": {"conditions": [{"type": "Established", "status": "True"}]}});
        answer(
            &mut handle,
            "GET",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/pools.example.io",
            established,
        )
        .await;
        answer(
            &mut handle,
            "GET",
            "/api/v1",
            resources("v1", &[("configmaps", "ConfigMap", true)]),
        )
        .await;
        patches.push(
            answer(
                &mut handle,
                "PATCH",
                "/api/v1/namespaces/kube-system/configmaps/cni-config",
                json!({"metadata": {}}),
            )
            .await,
        );
        answer(
            &mut handle,
            "GET",
            "/apis/apps/v1",
            resources("apps/v1", &[("daemonsets", "DaemonSet", true)]),
        )
        .await;
        patches.push(
            answer(
                &mut handle,
                "PATCH",
                "/apis/apps/v1/namespaces/kube-system/daemonsets/cni-agent",
                json!({"metadata": {}}),
            )
            .await,
        );
        patches
    });
    let applied = tokio::time::timeout(BOUND, apply::apply_manifests(&client, &objects, BOUND))
        .await
        .expect("bounded")
        .expect("applied");
    let patches = tokio::time::timeout(BOUND, server)
        .await
        .expect("bounded")
        .expect("served");
    assert_eq!(applied, 3);
    for (query, body) in &patches {
        assert!(
            query.contains("fieldManager=netpol") && query.contains("force=true"),
            "{query}"
        );
        assert!(body["metadata"]["name"].is_string(), "{body}");
    }
    assert_eq!(
        patches[2].1["spec"]["template"]["spec"]["containers"][0]["image"],
        "example/agent:v1"
    );
}

#[tokio::test]
async fn a_cni_daemonset_is_ready_when_every_scheduled_pod_is_ready_and_updated() {
    let (client, handle) = mock();
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        let status = |ready: i32| {
            json!({"metadata": {"name": "calico-node"}, "spec": {"selector": {}, "template": {}},
            "status": {"desiredNumberScheduled": 3, "numberReady": ready, "updatedNumberScheduled": 3,
                       "currentNumberScheduled": 3, "numberMisscheduled": 0}})
        };
        answer(
            &mut handle,
            "GET",
            "/apis/apps/v1/namespaces/kube-system/daemonsets/calico-node",
            status(2),
        )
        .await;
        answer(
            &mut handle,
            "GET",
            "/apis/apps/v1/namespaces/kube-system/daemonsets/calico-node",
            status(3),
        )
        .await;
    });
    let workload = Workload::DaemonSet {
        namespace: "kube-system",
        name: "calico-node",
    };
    tokio::time::timeout(BOUND, apply::await_workload(&client, &workload, BOUND))
        .await
        .expect("bounded")
        .expect("ready");
    tokio::time::timeout(BOUND, server)
        .await
        .expect("bounded")
        .expect("served");
}

#[tokio::test]
async fn a_workload_that_never_gets_ready_is_named_with_its_count() {
    let (client, handle) = mock();
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        let deployment = json!({"metadata": {"name": "cilium-operator"}, "spec": {"replicas": 2, "selector": {}, "template": {}},
                                "status": {"availableReplicas": 1}});
        answer(
            &mut handle,
            "GET",
            "/apis/apps/v1/namespaces/kube-system/deployments/cilium-operator",
            deployment,
        )
        .await;
    });
    let workload = Workload::Deployment {
        namespace: "kube-system",
        name: "cilium-operator",
    };
    let error = tokio::time::timeout(
        BOUND,
        apply::await_workload(&client, &workload, Duration::ZERO),
    )
    .await
    .expect("bounded")
    .expect_err("not ready");
    tokio::time::timeout(BOUND, server)
        .await
        .expect("bounded")
        .expect("served");
    assert_eq!(
        error.to_string(),
        "deployment kube-system/cilium-operator not Ready within 0s (1/2 available, 0 up to date)"
    );
}

#[tokio::test]
async fn every_node_must_be_ready_and_their_names_come_back() {
    let (client, handle) = mock();
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        let node = |name: &str, ready: &str| json!({"metadata": {"name": name}, "status": {"conditions": [{"type": "Ready", "status": ready}]}});
        let list = |items: Vec<Value>| json!({"metadata": {}, "items": items});
        answer(
            &mut handle,
            "GET",
            "/api/v1/nodes",
            list(vec![node("cp", "True"), node("w1", "False")]),
        )
        .await;
        answer(
            &mut handle,
            "GET",
            "/api/v1/nodes",
            list(vec![node("cp", "True"), node("w1", "True")]),
        )
        .await;
    });
    let nodes = tokio::time::timeout(BOUND, apply::await_nodes(&client, BOUND))
        .await
        .expect("bounded")
        .expect("ready");
    tokio::time::timeout(BOUND, server)
        .await
        .expect("bounded")
        .expect("served");
    assert_eq!(nodes, ["cp", "w1"]);
}

#[tokio::test]
async fn a_restarted_daemonset_is_ready_only_once_its_controller_has_seen_the_restart() {
    // Right after the restart patch, the status still counts the old pods.
    let (client, handle) = mock();
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        let status = |observed: i64| {
            json!({"metadata": {"name": "netpol-enforcer", "generation": 2}, "spec": {"selector": {}, "template": {}},
            "status": {"observedGeneration": observed, "desiredNumberScheduled": 3, "numberReady": 3,
                       "updatedNumberScheduled": 3, "currentNumberScheduled": 3, "numberMisscheduled": 0}})
        };
        let path = "/apis/apps/v1/namespaces/netpol-system/daemonsets/netpol-enforcer";
        answer(&mut handle, "GET", path, status(1)).await;
        answer(&mut handle, "GET", path, status(2)).await;
    });
    let workload = Workload::DaemonSet {
        namespace: "netpol-system",
        name: "netpol-enforcer",
    };
    tokio::time::timeout(BOUND, apply::await_workload(&client, &workload, BOUND))
        .await
        .expect("bounded")
        .expect("ready");
    tokio::time::timeout(BOUND, server)
        .await
        .expect("bounded")
        .expect("served: the first answer was not taken for ready");
}
