//! The world's namespaces against a mocked API server: one still
//! Terminating is waited for, one a killed run left is deleted first, and no
//! pod is created before its namespace's default ServiceAccount exists.

mod kube_mock;

use std::pin::pin;
use std::time::Duration;

use kube_mock::*;
use netpol_harness::backend::kube::driver::Driver;
use netpol_harness::backend::kube::{KubeWorld, Names};
use netpol_harness::model::Model;
use serde_json::json;

fn namespace(name: &str, run: &str, terminating: bool) -> serde_json::Value {
    let mut ns = json!({"metadata": {"name": name,
        "labels": {"app.kubernetes.io/managed-by": "netpol", "netpol/run": run}}});
    if terminating {
        ns["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    }
    ns
}

/// The namespace object of model namespace `x`, as setup applies it.
fn model_namespace(names: &Names) -> k8s_openapi::api::core::v1::Namespace {
    names.namespace_object(&Model::default().namespaces[0])
}

#[tokio::test]
async fn a_namespace_still_terminating_is_waited_for_before_it_is_created_again() {
    let (client, handle) = mock();
    let names = Names::plain("abc123");
    let driver = Driver::new(client, names.clone());
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        let path = "/api/v1/namespaces/x";
        // This run's own namespace from an earlier attempt, still going away.
        answer(
            &mut handle,
            call("GET", path, &[], 200, namespace("x", "abc123", true)),
        )
        .await;
        answer(
            &mut handle,
            call("GET", path, &[], 404, not_found("namespaces", "x")),
        )
        .await;
        answer(
            &mut handle,
            call("PATCH", path, &SSA, 200, json!({"metadata": {}})),
        )
        .await;
    });
    bounded(driver.apply_namespace(&model_namespace(&names)))
        .await
        .expect("created once the old one is gone");
    bounded(server).await.expect("the mock ran");
}

#[tokio::test]
async fn a_namespace_left_by_a_killed_run_is_deleted_with_everything_in_it_before_it_is_made_again()
{
    // Its stale NetworkPolicies would otherwise apply to this run's pods.
    let (client, handle) = mock();
    let names = Names::plain("abc123");
    let driver = Driver::new(client, names.clone());
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        let path = "/api/v1/namespaces/x";
        answer(
            &mut handle,
            call("GET", path, &[], 200, namespace("x", "0ld0ld", false)),
        )
        .await;
        let deleted = answer(
            &mut handle,
            call("DELETE", path, &[], 200, namespace("x", "0ld0ld", true)),
        )
        .await;
        answer(
            &mut handle,
            call("GET", path, &[], 200, namespace("x", "0ld0ld", true)),
        )
        .await;
        answer(
            &mut handle,
            call("GET", path, &[], 404, not_found("namespaces", "x")),
        )
        .await;
        answer(
            &mut handle,
            call("PATCH", path, &SSA, 200, json!({"metadata": {}})),
        )
        .await;
        deleted
    });
    bounded(driver.apply_namespace(&model_namespace(&names)))
        .await
        .expect("made again");
    let deleted = bounded(server).await.expect("the mock ran");
    assert_eq!(
        deleted.body["propagationPolicy"], "Background",
        "{deleted:?}"
    );
}

#[tokio::test]
async fn no_pod_is_created_before_its_namespaces_default_service_account_exists() {
    let (client, handle) = mock();
    let names = Names::plain("abc123");
    let mut world = KubeWorld::new(Driver::new(client, names.clone()), options());
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        let mut order = Vec::new();
        for ns in ["x", "y", "z"] {
            let path = format!("/api/v1/namespaces/{ns}");
            answer(
                &mut handle,
                call("GET", &path, &[], 404, not_found("namespaces", ns)),
            )
            .await;
            answer(
                &mut handle,
                call("PATCH", &path, &SSA, 200, json!({"metadata": {}})),
            )
            .await;
            let account = format!("{path}/serviceaccounts/default");
            if ns == "x" {
                // The controller manager has not made it yet.
                answer(
                    &mut handle,
                    call(
                        "GET",
                        &account,
                        &[],
                        404,
                        not_found("serviceaccounts", "default"),
                    ),
                )
                .await;
                order.push("x/default missing");
            }
            answer(
                &mut handle,
                call(
                    "GET",
                    &account,
                    &[],
                    200,
                    json!({"metadata": {"name": "default"}}),
                ),
            )
            .await;
            order.push("default found");
        }
        let first_pod = answer(
            &mut handle,
            call(
                "PATCH",
                "/api/v1/namespaces/x/pods/a",
                &SSA,
                200,
                json!({"metadata": {}}),
            ),
        )
        .await;
        order.push("first pod");
        (order, first_pod.path)
    });
    let model = Model::default();
    // The world stops at the mock's end; only the order up to the first pod matters.
    let _ = tokio::time::timeout(Duration::from_secs(5), world.create(&model)).await;
    let (order, _) = bounded(server).await.expect("the mock ran");
    assert_eq!(
        order,
        [
            "x/default missing",
            "default found",
            "default found",
            "default found",
            "first pod"
        ]
    );
}
