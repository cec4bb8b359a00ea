//! The mocked API server shared by the driver's tests: tower-test behind
//! `kube::Client::new`, every expected call checked and answered.
#![allow(dead_code)] // each test file uses part of it

use std::time::Duration;

use http::{Request, Response};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Client;
use kube::client::Body;
use netpol_harness::backend::kube::{Names, ProbeVia, ServiceAccounts, WorldOptions};
use netpol_harness::model::{Model, Protocol};
use serde_json::{Value, json};
use tower_test::mock::{Handle, SendResponse};

pub type Mock = Handle<Request<Body>, Response<Body>>;

/// Every test ends within this, or fails.
pub const BOUND: Duration = Duration::from_secs(10);

pub fn mock() -> (Client, Mock) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (Client::new(service, "default"), handle)
}

pub fn options() -> WorldOptions {
    WorldOptions {
        probe_image: "localhost/netpol-probe:dev".into(),
        pull_policy: "Never".into(),
        via: ProbeVia::Pod,
        protocols: vec![Protocol::Tcp, Protocol::Udp],
        service_accounts: ServiceAccounts::Await,
    }
}

/// One expected call: what it must be, and the answer.
pub struct Call {
    pub method: &'static str,
    pub path: String,
    /// Substrings the query must contain.
    pub query: Vec<String>,
    pub status: u16,
    pub answer: Value,
}

pub fn call(
    method: &'static str,
    path: impl Into<String>,
    query: &[&str],
    status: u16,
    answer: Value,
) -> Call {
    Call {
        method,
        path: path.into(),
        query: query.iter().map(|q| (*q).to_owned()).collect(),
        status,
        answer,
    }
}

/// A request as the test sees it.
#[derive(Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub body: Value,
}

pub async fn answer(handle: &mut Mock, expected: Call) -> Seen {
    let (request, send): (Request<Body>, SendResponse<Response<Body>>) = handle
        .next_request()
        .await
        .unwrap_or_else(|| panic!("no request; expected {} {}", expected.method, expected.path));
    let seen = Seen {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        query: urlencoding_decode(request.uri().query().unwrap_or_default()),
        content_type: request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        body: {
            let bytes = request.into_body().collect_bytes().await.expect("a body");
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        },
    };
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        (expected.method, expected.path.as_str()),
        "{seen:?}"
    );
    for part in &expected.query {
        assert!(
            seen.query.contains(part.as_str()),
            "query of {} {} lacks `{part}`: {}",
            seen.method,
            seen.path,
            seen.query
        );
    }
    let response = Response::builder()
        .status(expected.status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            serde_json::to_vec(&expected.answer).expect("json"),
        ))
        .expect("a response");
    send.send_response(response);
    seen
}

/// Enough of percent-decoding for label selectors in queries.
pub fn urlencoding_decode(text: &str) -> String {
    text.replace("%2F", "/")
        .replace("%3D", "=")
        .replace("%2C", ",")
}

pub fn not_found(kind: &str, name: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": format!("{kind} \"{name}\" not found"), "reason": "NotFound", "code": 404})
}

pub fn ready_pod(namespace: &str, name: &str, ip: &str, node: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": namespace},
           "spec": {"nodeName": node, "containers": [{"name": "probe"}]},
           "status": {"phase": "Running", "podIP": ip,
                      "conditions": [{"type": "Ready", "status": "True"}]}})
}

pub fn list(items: Vec<Value>) -> Value {
    json!({"metadata": {}, "items": items})
}

pub const SSA: [&str; 2] = ["fieldManager=netpol", "force=true"];

/// Answers the whole `setup` of the model world, returning what was sent.
pub async fn serve_setup(handle: &mut Mock, names: &Names) -> Vec<Seen> {
    let model = Model::default();
    let mut seen = Vec::new();
    for ns in &model.namespaces {
        let name = names.namespace(&ns.name);
        seen.push(
            answer(
                handle,
                call(
                    "GET",
                    format!("/api/v1/namespaces/{name}"),
                    &[],
                    404,
                    not_found("namespaces", &name),
                ),
            )
            .await,
        );
        seen.push(
            answer(
                handle,
                call(
                    "PATCH",
                    format!("/api/v1/namespaces/{name}"),
                    &SSA,
                    200,
                    json!({"metadata": {"name": name}}),
                ),
            )
            .await,
        );
        seen.push(
            answer(
                handle,
                call(
                    "GET",
                    format!("/api/v1/namespaces/{name}/serviceaccounts/default"),
                    &[],
                    200,
                    json!({"metadata": {"name": "default", "namespace": name}}),
                ),
            )
            .await,
        );
    }
    for pod in &model.pods {
        let ns = names.namespace(&pod.id.namespace);
        seen.push(
            answer(
                handle,
                call(
                    "PATCH",
                    format!("/api/v1/namespaces/{ns}/pods/{}", pod.id.name),
                    &SSA,
                    200,
                    json!({"metadata": {"name": pod.id.name}}),
                ),
            )
            .await,
        );
    }
    for pod in &model.pods {
        let ns = names.namespace(&pod.id.namespace);
        seen.push(
            answer(
                handle,
                call(
                    "PATCH",
                    format!("/api/v1/namespaces/{ns}/services/{}", pod.id.name),
                    &SSA,
                    200,
                    json!({"metadata": {"name": pod.id.name}}),
                ),
            )
            .await,
        );
    }
    let selector = format!("labelSelector={}", names.selector());
    for (i, ns) in model.namespaces.iter().enumerate() {
        let cluster_ns = names.namespace(&ns.name);
        let pods: Vec<Value> = ["a", "b", "c"]
            .iter()
            .enumerate()
            .map(|(j, pod)| {
                ready_pod(
                    &cluster_ns,
                    pod,
                    &format!("10.244.{}.{}", i + 1, j + 10),
                    &format!("worker{}", j % 2),
                )
            })
            .collect();
        seen.push(
            answer(
                handle,
                call(
                    "GET",
                    format!("/api/v1/namespaces/{cluster_ns}/pods"),
                    &[&selector],
                    200,
                    list(pods),
                ),
            )
            .await,
        );
        let services: Vec<Value> = ["a", "b", "c"]
            .iter()
            .enumerate()
            .map(|(j, pod)| json!({"metadata": {"name": pod}, "spec": {"clusterIP": format!("10.96.{}.{}", i + 1, j + 10)}}))
            .collect();
        seen.push(
            answer(
                handle,
                call(
                    "GET",
                    format!("/api/v1/namespaces/{cluster_ns}/services"),
                    &[&selector],
                    200,
                    list(services),
                ),
            )
            .await,
        );
    }
    seen
}

pub async fn bounded<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(BOUND, future)
        .await
        .expect("the test finished within its bound")
}

pub fn policy(namespace: &str, name: &str, from_namespace: &str) -> NetworkPolicy {
    serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": from_namespace}}}]}]}
    }))
    .expect("a policy")
}
