//! The cluster backends' baseline: after setup and after every reset, the
//! world without policy is probed until every cell connects on every path,
//! and setup fails, saying what did not connect, when it never does.

mod kube_mock;

use std::collections::VecDeque;
use std::pin::pin;
use std::time::Duration;

use http::Response;
use kube::client::Body;
use kube_mock::*;
use netpol_harness::backend::kube::baseline::{self, Rounds};
use netpol_harness::backend::kube::driver::{Driver, DriverError};
use netpol_harness::backend::kube::{KubeWorld, Names};
use netpol_harness::model::{Model, Probe, Protocol};
use netpol_harness::probe::{Matrix, Observed, ObservedTable, Paths};
use serde_json::json;

const TCP_80: Probe = Probe::new(Protocol::Tcp, 80);

fn matrix(value: Observed) -> Matrix {
    Matrix::from([(
        TCP_80,
        ObservedTable::filled(Model::default().pod_ids(), value),
    )])
}

/// Rounds answered from a script; the last one repeats.
struct Script(VecDeque<Paths>);

impl Rounds for Script {
    async fn round(&mut self, _: &[Probe]) -> Result<Paths, DriverError> {
        let next = if self.0.len() > 1 {
            self.0.pop_front()
        } else {
            self.0.front().cloned()
        };
        Ok(next.expect("a scripted round"))
    }
}

fn both(pod: Matrix, service: Matrix) -> Paths {
    Paths {
        pod: Some(pod),
        service: Some(service),
    }
}

#[tokio::test]
async fn the_baseline_is_seen_once_every_cell_connects_on_both_paths() {
    let mut service_late = matrix(Observed::Connected);
    service_late
        .get_mut(&TCP_80)
        .expect("tcp/80")
        .set(0, 1, Observed::Timeout);
    let mut script = Script(VecDeque::from([
        // The datapath is not up: nothing answers.
        both(
            matrix(Observed::Error("connect: no route to host".into())),
            matrix(Observed::Timeout),
        ),
        // Pod IPs work; one Service still drops.
        both(matrix(Observed::Connected), service_late),
        both(matrix(Observed::Connected), matrix(Observed::Connected)),
    ]));
    let seen = bounded(baseline::await_all_connected(
        &mut script,
        &[TCP_80],
        Duration::from_secs(5),
        Duration::from_millis(10),
    ))
    .await
    .expect("the baseline is seen");
    assert_eq!(seen.rounds, 3);
}

#[tokio::test]
async fn a_baseline_never_seen_fails_naming_the_cells_that_did_not_connect() {
    let mut service = matrix(Observed::Connected);
    service
        .get_mut(&TCP_80)
        .expect("tcp/80")
        .set(0, 1, Observed::Timeout);
    let mut script = Script(VecDeque::from([both(matrix(Observed::Connected), service)]));
    let error = bounded(baseline::await_all_connected(
        &mut script,
        &[TCP_80],
        Duration::from_secs(1),
        Duration::from_millis(100),
    ))
    .await
    .expect_err("never all connected");
    let text = error.to_string();
    assert!(
        text.starts_with("the world without policy was not seen within 1s ("),
        "{text}"
    );
    assert!(
        text.contains(
            "1 cells did not connect in the last round: x/a → x/b tcp/80 by Service: timeout; \
             the CNI's datapath is not up, or an earlier case's rules are still in force"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn setup_on_the_mocked_api_server_fails_clearly_when_no_exec_observes_anything() {
    let (client, handle) = mock();
    let names = Names::plain("abc123");
    let mut world = KubeWorld::new(Driver::new(client, names.clone()), options());
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        serve_setup(&mut handle, &names).await;
        let mut execs = 0;
        while let Some((request, send)) = handle.next_request().await {
            assert!(request.uri().path().ends_with("/exec"), "{}", request.uri());
            execs += 1;
            let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": "pods/exec is forbidden", "reason": "Forbidden", "code": 403});
            send.send_response(
                Response::builder()
                    .status(403)
                    .body(Body::from(serde_json::to_vec(&status).unwrap()))
                    .unwrap(),
            );
        }
        execs
    });
    let error = bounded(world.setup_to_baseline(&Model::default(), Duration::from_secs(1)))
        .await
        .expect_err("no cell was observed");
    let text = error.to_string();
    assert!(matches!(error, DriverError::NoBaseline { .. }), "{text}");
    assert!(text.contains("288 cells did not connect in the last round: x/a → x/b tcp/80 by pod IP: error: probe agent failed: exec failed"), "{text}");
    assert!(text.contains("forbidden"), "{text}");
    drop(world);
    let execs = bounded(server).await.expect("the mock ran");
    // Rounds at 0, 0.5 and 1 s (the cluster's poll), one exec per source pod each.
    assert!(execs >= 18 && execs % 9 == 0, "{execs} execs");
}

#[tokio::test]
async fn a_reset_whose_baseline_is_never_seen_fails_so_the_next_case_is_not_judged_on_old_rules() {
    let (client, handle) = mock();
    let names = Names::plain("abc123");
    let mut world = KubeWorld::new(Driver::new(client, names.clone()), options());
    let server = tokio::spawn(async move {
        let mut handle = pin!(handle);
        serve_setup(&mut handle, &names).await;
        // Nothing changed, so the reset itself sends nothing: every request
        // after setup is a probe, and each exec is refused.
        let mut execs = 0;
        while let Some((request, send)) = handle.next_request().await {
            assert!(request.uri().path().ends_with("/exec"), "{}", request.uri());
            execs += 1;
            let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": "pods/exec is forbidden", "reason": "Forbidden", "code": 403});
            send.send_response(
                Response::builder()
                    .status(403)
                    .body(Body::from(serde_json::to_vec(&status).unwrap()))
                    .unwrap(),
            );
        }
        execs
    });
    bounded(world.setup(&Model::default()))
        .await
        .expect("the objects exist");
    let error = bounded(world.reset_to_baseline(Duration::from_millis(100)))
        .await
        .expect_err("the baseline is never seen");
    assert!(matches!(error, DriverError::NoBaseline { .. }), "{error}");
    drop(world);
    let execs = bounded(server).await.expect("the mock ran");
    assert!(execs >= 9 && execs % 9 == 0, "{execs} execs");
}
