//! The runner's calls during and after cases, against the mocked API
//! server: policies applied server-side, labels patched, policies deleted,
//! reset, one exec per source pod, and cleanup by the run's label.

mod kube_mock;

use std::pin::pin;
use std::time::Duration;

use http::Response;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::client::Body;
use kube_mock::*;
use netpol_harness::backend::kube::driver::Driver;
use netpol_harness::backend::kube::{KubeWorld, Names};
use netpol_harness::model::{
    Change, LabelChange, LabelTarget, Labels, Model, PodId, Probe, Protocol,
};
use netpol_harness::probe::Observed;
use serde_json::json;

#[tokio::test]
async fn changes_apply_policies_patch_labels_and_delete_and_reset_undoes_them() {
    let (client, handle) = mock();
    let names = Names::prefixed("abc123");
    let mut world = KubeWorld::new(Driver::new(client, names.clone()), options());
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        serve_setup(&mut handle, &names).await;
        let ok = || json!({"metadata": {}});
        let mut seen = Vec::new();
        // change: apply, label a pod, label a namespace, delete
        seen.push(
            answer(
                &mut handle,
                call(
                    "PATCH",
                    "/apis/networking.k8s.io/v1/namespaces/netpol-abc123-x/networkpolicies/allow-y",
                    &SSA,
                    200,
                    ok(),
                ),
            )
            .await,
        );
        seen.push(
            answer(
                &mut handle,
                call(
                    "PATCH",
                    "/api/v1/namespaces/netpol-abc123-y/pods/b",
                    &[],
                    200,
                    ok(),
                ),
            )
            .await,
        );
        seen.push(
            answer(
                &mut handle,
                call(
                    "PATCH",
                    "/api/v1/namespaces/netpol-abc123-z",
                    &[],
                    200,
                    ok(),
                ),
            )
            .await,
        );
        seen.push(
            answer(
                &mut handle,
                call(
                    "PATCH",
                    "/apis/networking.k8s.io/v1/namespaces/netpol-abc123-x/networkpolicies/other",
                    &SSA,
                    200,
                    ok(),
                ),
            )
            .await,
        );
        seen.push(
            answer(
                &mut handle,
                call(
                    "DELETE",
                    "/apis/networking.k8s.io/v1/namespaces/netpol-abc123-x/networkpolicies/other",
                    &[],
                    200,
                    ok(),
                ),
            )
            .await,
        );
        // reset: the remaining policy goes, the labels come back
        seen.push(
            answer(
                &mut handle,
                call(
                    "DELETE",
                    "/apis/networking.k8s.io/v1/namespaces/netpol-abc123-x/networkpolicies/allow-y",
                    &[],
                    200,
                    ok(),
                ),
            )
            .await,
        );
        seen.push(
            answer(
                &mut handle,
                call(
                    "PATCH",
                    "/api/v1/namespaces/netpol-abc123-y/pods/b",
                    &[],
                    200,
                    ok(),
                ),
            )
            .await,
        );
        seen.push(
            answer(
                &mut handle,
                call(
                    "PATCH",
                    "/api/v1/namespaces/netpol-abc123-z",
                    &[],
                    200,
                    ok(),
                ),
            )
            .await,
        );
        seen
    });
    bounded(world.setup(&Model::default()))
        .await
        .expect("setup");
    let changes = vec![
        Change::Apply(Box::new(policy("x", "allow-y", "y"))),
        Change::Label(LabelChange {
            target: LabelTarget::Pod(PodId::new("y", "b")),
            set: Labels::from([("role".to_owned(), "db".to_owned())]),
            remove: vec!["pod".into()],
        }),
        Change::Label(LabelChange {
            target: LabelTarget::Namespace("z".into()),
            set: Labels::from([("env".to_owned(), "prod".to_owned())]),
            remove: Vec::new(),
        }),
        Change::Apply(Box::new(policy("x", "other", "z"))),
        Change::Delete {
            namespace: "x".into(),
            name: "other".into(),
        },
    ];
    bounded(world.change(&changes)).await.expect("change");
    bounded(world.reset()).await.expect("reset");
    let seen = bounded(server).await.expect("the mock ran");

    let applied = &seen[0];
    assert_eq!(applied.content_type, "application/apply-patch+yaml");
    assert_eq!(applied.body["metadata"]["namespace"], "netpol-abc123-x");
    assert_eq!(applied.body["metadata"]["labels"]["netpol/run"], "abc123");
    let selector =
        &applied.body["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"];
    assert_eq!(
        selector["kubernetes.io/metadata.name"], "netpol-abc123-y",
        "name selectors follow the mapping"
    );

    assert_eq!(seen[1].content_type, "application/merge-patch+json");
    assert_eq!(
        seen[1].body,
        json!({"metadata": {"labels": {"pod": null, "role": "db"}}})
    );
    assert_eq!(
        seen[2].body,
        json!({"metadata": {"labels": {"env": "prod"}}})
    );
    assert_eq!(
        seen[6].body,
        json!({"metadata": {"labels": {"pod": "b", "role": null}}}),
        "reset restores the pod"
    );
    assert_eq!(
        seen[7].body,
        json!({"metadata": {"labels": {"env": null, "ns": "z"}}}),
        "reset restores the namespace"
    );
}

#[tokio::test]
async fn a_failed_exec_makes_its_source_row_errors_never_blocked_cells() {
    let (client, handle) = mock();
    let names = Names::plain("abc123");
    let mut world = KubeWorld::new(Driver::new(client, names.clone()), options());
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        serve_setup(&mut handle, &names).await;
        let mut paths = Vec::new();
        for _ in 0..9 {
            let (request, send) = handle.next_request().await.expect("an exec per source pod");
            paths.push((
                request.uri().path().to_owned(),
                request.uri().query().unwrap_or_default().to_owned(),
            ));
            let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": "pods/exec is forbidden", "reason": "Forbidden", "code": 403});
            send.send_response(
                Response::builder()
                    .status(403)
                    .body(Body::from(serde_json::to_vec(&status).unwrap()))
                    .unwrap(),
            );
        }
        paths
    });
    bounded(world.setup(&Model::default()))
        .await
        .expect("setup");
    let matrix = bounded(world.probe(&[Probe::new(Protocol::Tcp, 80)]))
        .await
        .expect("a matrix");
    let mut paths = bounded(server).await.expect("the mock ran");
    paths.sort();
    assert_eq!(paths.len(), 9, "one exec per source pod");
    assert_eq!(paths[0].0, "/api/v1/namespaces/x/pods/a/exec");
    let query = &paths[0].1;
    for part in [
        "command=%2Fnetpol-probe",
        "command=probe",
        "command=--timeout-ms",
        "command=--source-port",
        "command=--target",
        "container=probe",
        "stdout=true",
    ] {
        assert!(query.contains(part), "{query}");
    }
    assert!(!query.contains("stdin=true"), "{query}");
    let table = &matrix[&Probe::new(Protocol::Tcp, 80)];
    match table.get(0, 1) {
        Observed::Error(reason) => assert!(reason.contains("forbidden"), "{reason}"),
        other => panic!("expected an error cell, got {other:?}"),
    }
}

#[tokio::test]
async fn cleanup_deletes_only_namespaces_that_carry_this_runs_label_and_waits_until_they_are_gone()
{
    let (client, handle) = mock();
    let driver = Driver::new(client, Names::prefixed("abc123"));
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        let ours = |name: &str| json!({"metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "netpol", "netpol/run": "abc123"}}});
        let stray = json!({"metadata": {"name": "netpol-other-x", "labels": {"app.kubernetes.io/managed-by": "netpol", "netpol/run": "other"}}});
        let listed = list(vec![
            ours("netpol-abc123-x"),
            stray,
            ours("netpol-abc123-y"),
        ]);
        answer(
            &mut handle,
            call(
                "GET",
                "/api/v1/namespaces",
                &["labelSelector=app.kubernetes.io/managed-by=netpol,netpol/run=abc123"],
                200,
                listed,
            ),
        )
        .await;
        let gone = json!({"metadata": {}});
        answer(
            &mut handle,
            call(
                "DELETE",
                "/api/v1/namespaces/netpol-abc123-x",
                &[],
                200,
                gone.clone(),
            ),
        )
        .await;
        answer(
            &mut handle,
            call(
                "DELETE",
                "/api/v1/namespaces/netpol-abc123-y",
                &[],
                200,
                gone,
            ),
        )
        .await;
        // Then it waits until they are gone: a rerun must not meet them Terminating.
        let terminating = json!({"metadata": {"name": "netpol-abc123-y", "deletionTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app.kubernetes.io/managed-by": "netpol", "netpol/run": "abc123"}}});
        for items in [vec![terminating], Vec::new()] {
            answer(
                &mut handle,
                call(
                    "GET",
                    "/api/v1/namespaces",
                    &["labelSelector="],
                    200,
                    list(items),
                ),
            )
            .await;
        }
        assert!(
            tokio::time::timeout(Duration::from_millis(200), handle.next_request())
                .await
                .is_err(),
            "nothing else is deleted, and nothing is asked once they are gone"
        );
    });
    let problems = bounded(driver.cleanup()).await;
    bounded(server).await.expect("the mock ran");
    assert!(problems.is_empty(), "{problems:?}");
}

/// A policy whose `policyTypes` is left to the API server's default.
fn defaulted(name: &str, egress: bool) -> NetworkPolicy {
    let mut spec = json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]});
    if egress {
        spec["egress"] = json!([{"to": [{"podSelector": {"matchLabels": {"pod": "a"}}}]}]);
    }
    serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "x"}, "spec": spec
    }))
    .expect("a policy")
}

#[tokio::test]
async fn a_reapplied_policy_without_policy_types_carries_the_new_default_so_ssa_keeps_nothing_stale()
 {
    // Server-side apply keeps a field no manager owns: the default the
    // server wrote for the first version would survive the second, and the
    // egress rules added there would be ignored (issue 11 item 4).
    let (client, handle) = mock();
    let driver = Driver::new(client, Names::plain("abc123"));
    let path = "/apis/networking.k8s.io/v1/namespaces/x/networkpolicies/p";
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        let mut bodies = Vec::new();
        for _ in 0..2 {
            let seen = answer(
                &mut handle,
                call("PATCH", path, &SSA, 200, json!({"metadata": {}})),
            )
            .await;
            bodies.push(seen.body);
        }
        bodies
    });
    bounded(driver.apply_policy(&defaulted("p", false)))
        .await
        .expect("first version");
    bounded(driver.apply_policy(&defaulted("p", true)))
        .await
        .expect("second version");
    let bodies = bounded(server).await.expect("the mock ran");
    assert_eq!(bodies[0]["spec"]["policyTypes"], json!(["Ingress"]));
    assert_eq!(
        bodies[1]["spec"]["policyTypes"],
        json!(["Ingress", "Egress"]),
        "the second apply owns the new list"
    );
}
