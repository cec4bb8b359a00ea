//! deploy/kubeconfig-rbac.yaml grants exactly what the kubeconfig backend's
//! driver asks for: a whole run (setup, changes, reset, a matrix, teardown)
//! against a mocked API server that answers everything, each request turned
//! into the RBAC verbs the API server would check, compared with the role.

mod kube_mock;

use std::collections::BTreeSet;
use std::pin::pin;

use http::{Request, Response};
use kube::client::Body;
use kube_mock::*;
use netpol_harness::backend::kube::apply::parse_manifests;
use netpol_harness::backend::kube::driver::Driver;
use netpol_harness::backend::kube::{KubeWorld, Names};
use netpol_harness::model::{
    Change, LabelChange, LabelTarget, Labels, Model, PodId, Probe, Protocol,
};
use serde_json::{Value, json};

/// One permission: API group, resource (with `/subresource`), verb.
type Permission = (String, String, String);

use netpol_harness::backend::kubeconfig::RBAC as ROLE;

/// What the ClusterRole of deploy/kubeconfig-rbac.yaml grants.
fn granted() -> BTreeSet<Permission> {
    let objects = parse_manifests(ROLE).expect("the role parses");
    let role = objects
        .iter()
        .find(|o| o.types.as_ref().is_some_and(|t| t.kind == "ClusterRole"))
        .expect("a ClusterRole");
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(String::from))
            .collect()
    };
    let mut out = BTreeSet::new();
    for rule in role.data["rules"].as_array().expect("rules") {
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                for verb in strings(&rule["verbs"]) {
                    out.insert((group.clone(), resource.clone(), verb));
                }
            }
        }
    }
    out
}

/// The verbs the API server checks for one request (apiserver
/// request-info rules: GET of a collection is `list`, of an object `get`;
/// a server-side apply is `patch`, and `create` too for a new object; a
/// pods/exec upgrade is `get`, and `create` since 1.35).
fn permissions(method: &str, path: &str, content_type: &str) -> Vec<Permission> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, rest) = match parts.as_slice() {
        ["api", "v1", rest @ ..] => (String::new(), rest.to_vec()),
        ["apis", group, _version, rest @ ..] => ((*group).to_owned(), rest.to_vec()),
        _ => panic!("not a resource path: {path}"),
    };
    // namespaces/{ns}/{resource}[/{name}[/{sub}]], or a cluster-scoped resource
    let (resource, named, sub) = match rest.as_slice() {
        ["namespaces"] => ("namespaces".to_owned(), false, None),
        ["namespaces", _] => ("namespaces".to_owned(), true, None),
        ["namespaces", _, resource] => ((*resource).to_owned(), false, None),
        ["namespaces", _, resource, _] => ((*resource).to_owned(), true, None),
        ["namespaces", _, resource, _, sub] => ((*resource).to_owned(), true, Some(*sub)),
        other => panic!("unexpected path shape {other:?}"),
    };
    let resource = match sub {
        Some(sub) => format!("{resource}/{sub}"),
        None => resource,
    };
    let verbs: &[&str] = match (method, named, sub) {
        ("GET", true, Some("exec")) => &["get", "create"],
        ("GET", true, _) => &["get"],
        ("GET", false, _) => &["list"],
        ("PATCH", _, _) if content_type == "application/apply-patch+yaml" => &["patch", "create"],
        ("PATCH", _, _) => &["patch"],
        ("DELETE", true, _) => &["delete"],
        ("POST", _, _) => &["create"],
        other => panic!("unexpected request {other:?} {path}"),
    };
    verbs
        .iter()
        .map(|v| (group.clone(), resource.clone(), (*v).to_owned()))
        .collect()
}

/// Answers every request of a run plausibly, recording its permissions.
async fn serve(handle: Mock, names: Names) -> BTreeSet<Permission> {
    let mut handle = pin!(handle);
    let mut used = BTreeSet::new();
    let mut namespace_lists = 0;
    while let Some((request, send)) = handle.next_request().await {
        let request: Request<Body> = request;
        let method = request.method().to_string();
        let path = request.uri().path().to_owned();
        let content_type = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        used.extend(permissions(&method, &path, &content_type));
        let ns = path.split('/').nth(4).unwrap_or_default().to_owned();
        let model_ns = names.model_namespace(&ns).unwrap_or_default().to_owned();
        let (status, body) = match (method.as_str(), path.as_str()) {
            ("GET", p) if p.ends_with("/exec") => (
                403,
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": "no upgrade in a mock", "reason": "Forbidden", "code": 403}),
            ),
            ("GET", "/api/v1/namespaces") => {
                namespace_lists += 1;
                let ours = |n: &str| {
                    json!({"metadata": {"name": names.namespace(n),
                    "labels": {"app.kubernetes.io/managed-by": "netpol", "netpol/run": names.run_id}}})
                };
                let items = if namespace_lists == 1 {
                    vec![ours("x"), ours("y"), ours("z")]
                } else {
                    Vec::new()
                };
                (200, list(items))
            }
            ("GET", p) if p.ends_with("/pods") => {
                let pods = ["a", "b", "c"]
                    .iter()
                    .enumerate()
                    .map(|(i, pod)| ready_pod(&ns, pod, &format!("10.244.1.{}", i + 10), "worker"))
                    .collect();
                (200, list(pods))
            }
            ("GET", p) if p.ends_with("/services") => (200, list(Vec::new())),
            ("GET", p) if p.ends_with("/serviceaccounts/default") => {
                (200, json!({"metadata": {"name": "default"}}))
            }
            ("GET", _) => (404, not_found("namespaces", &model_ns)),
            _ => (200, json!({"metadata": {}})),
        };
        send.send_response(
            Response::builder()
                .status(status)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Body::from(serde_json::to_vec(&body).unwrap()))
                .unwrap(),
        );
    }
    used
}

#[tokio::test]
async fn the_kubeconfig_role_grants_exactly_what_a_whole_run_asks_for() {
    let (client, handle) = mock();
    let names = Names::prefixed("abc123");
    let server = tokio::spawn(serve(handle, names.clone()));
    let mut world = KubeWorld::new(Driver::new(client, names), options());
    let model = Model::default();
    bounded(world.setup(&model)).await.expect("setup");
    let changes = vec![
        Change::Apply(Box::new(policy("x", "allow-y", "y"))),
        Change::Label(LabelChange {
            target: LabelTarget::Pod(PodId::new("y", "b")),
            set: Labels::from([("role".to_owned(), "db".to_owned())]),
            remove: Vec::new(),
        }),
        Change::Label(LabelChange {
            target: LabelTarget::Namespace("z".into()),
            set: Labels::from([("env".to_owned(), "prod".to_owned())]),
            remove: Vec::new(),
        }),
        Change::Delete {
            namespace: "x".into(),
            name: "allow-y".into(),
        },
        Change::Apply(Box::new(policy("x", "other", "z"))),
    ];
    bounded(world.change(&changes)).await.expect("change");
    bounded(world.probe(&[Probe::new(Protocol::Tcp, 80)]))
        .await
        .expect("a matrix (of error cells)");
    bounded(world.reset()).await.expect("reset");
    let problems = bounded(world.teardown()).await;
    assert!(problems.is_empty(), "{problems:?}");
    drop(world);
    let used = bounded(server).await.expect("the mock ran");
    let granted = granted();
    let missing: Vec<&Permission> = used.difference(&granted).collect();
    let unused: Vec<&Permission> = granted.difference(&used).collect();
    assert!(
        missing.is_empty() && unused.is_empty(),
        "the role lacks {missing:?} and grants unused {unused:?}"
    );
}
