//! The probe agent's exec over a real websocket: a local server speaks the
//! API server's side of `v5.channel.k8s.io` (stdin frames, the stdin close
//! frame, stdout and status frames), so the whole exec path of kube-rs runs,
//! which a tower-test mock cannot upgrade.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::{Api, Client};
use netpol_harness::backend::kube::exec::{self, Endpoints, ProbeVia};
use netpol_harness::model::{PodId, Probe, Protocol};
use netpol_harness::probe::Observed;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

const BOUND: Duration = Duration::from_secs(10);

/// What the fake API server saw of one exec.
#[derive(Debug, Default)]
struct Seen {
    path_and_query: String,
    stdin: Vec<u8>,
    stdin_closed: bool,
}

/// Serves one exec: reads stdin until the close frame, then answers `stdout`
/// and a status of `status` ("Success" or "Failure").
// The handshake callback returns tungstenite's own (large) error response type.
#[allow(clippy::result_large_err)]
async fn serve_one_exec(listener: TcpListener, stdout: String, status: &'static str) -> Seen {
    let (stream, _) = listener.accept().await.expect("a connection");
    let mut seen = Seen::default();
    let mut uri = String::new();
    let mut socket =
        tokio_tungstenite::accept_hdr_async(stream, |request: &Request, mut response: Response| {
            uri = request.uri().to_string();
            response.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                "v5.channel.k8s.io".parse().expect("a header"),
            );
            Ok(response)
        })
        .await
        .expect("a websocket");
    seen.path_and_query = uri;
    while let Some(message) = socket.next().await {
        let Ok(Message::Binary(frame)) = message else {
            continue;
        };
        match frame.first() {
            Some(0) => seen.stdin.extend_from_slice(&frame[1..]),
            Some(255) if frame.get(1) == Some(&0) => {
                seen.stdin_closed = true;
                break;
            }
            _ => {}
        }
    }
    let mut out = vec![1u8];
    out.extend_from_slice(stdout.as_bytes());
    socket
        .send(Message::binary(out))
        .await
        .expect("stdout sent");
    let status = serde_json::json!({"metadata": {}, "status": status, "message": if status == "Failure" { "command terminated with non-zero exit code" } else { "" }});
    let mut frame = vec![3u8];
    frame.extend_from_slice(&serde_json::to_vec(&status).expect("json"));
    socket
        .send(Message::binary(frame))
        .await
        .expect("status sent");
    let _ = socket.close(None).await;
    seen
}

async fn client_for(listener: &TcpListener) -> Client {
    let address = listener.local_addr().expect("an address");
    let config = kube::Config::new(format!("http://{address}").parse().expect("a url"));
    Client::try_from(config).expect("a client")
}

#[tokio::test]
async fn the_agent_gets_its_targets_on_stdin_and_its_lines_come_back() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let client = client_for(&listener).await;
    let lines = concat!(
        r#"{"to":"x/b","protocol":"tcp","port":80,"result":"connected","micros":900}"#,
        "\n",
        r#"{"to":"x/b via service","protocol":"tcp","port":80,"result":"timeout","micros":2000000}"#,
        "\n"
    );
    let server = tokio::spawn(serve_one_exec(listener, lines.to_owned(), "Success"));
    let pods: Api<Pod> = Api::namespaced(client, "x");
    let args = vec![
        "probe".to_owned(),
        "--timeout-ms".to_owned(),
        "2000".to_owned(),
    ];
    let stdin = br#"[{"to":"x/b","host":"10.244.1.11","protocol":"tcp","port":80}]"#;
    let output = tokio::time::timeout(BOUND, exec::exec_agent(&pods, "a", &args, stdin, BOUND))
        .await
        .expect("bounded")
        .expect("the exec succeeded");
    let seen = tokio::time::timeout(BOUND, server)
        .await
        .expect("bounded")
        .expect("served");
    assert!(
        seen.path_and_query
            .starts_with("/api/v1/namespaces/x/pods/a/exec?"),
        "{seen:?}"
    );
    for part in [
        "command=%2Fnetpol-probe",
        "command=probe",
        "command=--timeout-ms",
        "command=2000",
        "container=probe",
        "stdin=true",
    ] {
        assert!(
            seen.path_and_query.contains(part),
            "{}",
            seen.path_and_query
        );
    }
    assert_eq!(seen.stdin, stdin.to_vec(), "the targets arrive whole");
    assert!(
        seen.stdin_closed,
        "stdin is closed, so the agent starts probing"
    );
    assert_eq!(output, lines);

    // Both paths differ on x/a → x/b: the cell takes the Service result, and the difference is listed.
    let pods = vec![PodId::new("x", "a"), PodId::new("x", "b")];
    let probe = Probe::new(Protocol::Tcp, 80);
    let (matrix, divergences) = exec::matrix(&pods, &[probe], ProbeVia::Both, &[(0, Ok(output))]);
    assert_eq!(matrix[&probe].get(0, 1), &Observed::Timeout);
    assert_eq!(divergences.len(), 1);
    assert_eq!(
        divergences[0].to_string(),
        "x/a → x/b tcp/80: pod IP connected, Service timeout"
    );
}

#[tokio::test]
async fn an_agent_that_fails_is_an_error_with_its_status_message() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let client = client_for(&listener).await;
    let server = tokio::spawn(serve_one_exec(listener, String::new(), "Failure"));
    let pods: Api<Pod> = Api::namespaced(client, "y");
    let error = tokio::time::timeout(
        BOUND,
        exec::exec_agent(&pods, "c", &["probe".to_owned()], b"[]", BOUND),
    )
    .await
    .expect("bounded")
    .expect_err("a failure");
    tokio::time::timeout(BOUND, server)
        .await
        .expect("bounded")
        .expect("served");
    assert!(
        error.contains("agent failed: command terminated with non-zero exit code"),
        "{error}"
    );
}

#[test]
fn targets_name_each_path_and_skip_pods_without_an_address() {
    let pods = vec![PodId::new("x", "a"), PodId::new("x", "b")];
    let mut endpoints = Endpoints::default();
    endpoints
        .pod_ips
        .insert(pods[0].clone(), "10.244.1.10".parse().unwrap());
    endpoints
        .pod_ips
        .insert(pods[1].clone(), "10.244.1.11".parse().unwrap());
    endpoints
        .service_ips
        .insert(pods[1].clone(), "10.96.0.20".parse().unwrap());
    let probes = [Probe::new(Protocol::Udp, 81)];
    let both = exec::targets(&pods, &endpoints, &probes, ProbeVia::Both);
    let to: Vec<&str> = both.iter().map(|t| t.to.as_str()).collect();
    assert_eq!(to, ["x/a", "x/b", "x/b via service"]);
    assert_eq!(both[2].host.to_string(), "10.96.0.20");
    assert_eq!(
        exec::targets(&pods, &endpoints, &probes, ProbeVia::Service).len(),
        1
    );
}

#[test]
fn a_failed_pod_path_probe_is_never_replaced_by_the_service_paths_block() {
    let pods = vec![PodId::new("x", "a"), PodId::new("x", "b")];
    let probe = Probe::new(Protocol::Tcp, 80);
    let lines = concat!(
        r#"{"to":"x/b","protocol":"tcp","port":80,"result":"error","micros":5,"error":"no route"}"#,
        "\n",
        r#"{"to":"x/b via service","protocol":"tcp","port":80,"result":"timeout","micros":2000000}"#,
        "\n"
    );
    let (matrix, divergences) = exec::matrix(
        &pods,
        &[probe],
        ProbeVia::Both,
        &[(0, Ok(lines.to_owned()))],
    );
    assert_eq!(
        matrix[&probe].get(0, 1),
        &Observed::Error("no route".into())
    );
    assert_eq!(divergences.len(), 1, "the paths still differ, and say so");
}
