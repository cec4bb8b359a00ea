//! The probe agent's exec over a real websocket: a local server speaks the
//! API server's side of `v5.channel.k8s.io` and `v4.channel.k8s.io` (stdout
//! and status frames; a client that hangs up early gets nothing), so the
//! whole exec path of kube-rs runs, which a tower-test mock cannot upgrade.

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
    /// The client closed the WebSocket before the command's output was sent.
    closed_early: bool,
}

/// Serves one exec over `protocol` (`v5.channel.k8s.io` or
/// `v4.channel.k8s.io`): gives the client a moment to send stdin, then
/// answers `stdout` and a status of `status` ("Success" or "Failure"). A
/// client that closes the WebSocket first gets nothing, as from a real server.
// The handshake callback returns tungstenite's own (large) error response type.
#[allow(clippy::result_large_err)]
async fn serve_one_exec(
    listener: TcpListener,
    protocol: &'static str,
    stdout: String,
    status: &'static str,
) -> Seen {
    let (stream, _) = listener.accept().await.expect("a connection");
    let mut seen = Seen::default();
    let mut uri = String::new();
    let mut socket =
        tokio_tungstenite::accept_hdr_async(stream, |request: &Request, mut response: Response| {
            uri = request.uri().to_string();
            response.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                protocol.parse().expect("a header"),
            );
            Ok(response)
        })
        .await
        .expect("a websocket");
    seen.path_and_query = uri;
    while let Ok(Some(message)) =
        tokio::time::timeout(Duration::from_millis(300), socket.next()).await
    {
        match message {
            Ok(Message::Binary(frame)) if frame.first() == Some(&0) => {
                seen.stdin.extend_from_slice(&frame[1..])
            }
            Ok(Message::Close(_)) | Err(_) => {
                seen.closed_early = true;
                return seen;
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

const LINES: &str = concat!(
    r#"{"to":"x/b","protocol":"tcp","port":80,"result":"connected","micros":900}"#,
    "\n",
    r#"{"to":"x/b via service","protocol":"tcp","port":80,"result":"timeout","micros":2000000}"#,
    "\n"
);

fn probe_args() -> Vec<String> {
    [
        "probe",
        "--timeout-ms",
        "2000",
        "--target",
        "x/b=10.244.1.11:tcp/80",
        "--target",
        "x/b via service=10.96.0.20:tcp/80",
    ]
    .map(String::from)
    .to_vec()
}

/// One exec of the agent in x/a against a fake server speaking `protocol`.
async fn exec_over(protocol: &'static str) -> (Result<String, String>, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let client = client_for(&listener).await;
    let server = tokio::spawn(serve_one_exec(
        listener,
        protocol,
        LINES.to_owned(),
        "Success",
    ));
    let pods: Api<Pod> = Api::namespaced(client, "x");
    let output = tokio::time::timeout(BOUND, exec::exec_agent(&pods, "a", &probe_args(), BOUND))
        .await
        .expect("bounded");
    let seen = tokio::time::timeout(BOUND, server)
        .await
        .expect("bounded")
        .expect("served");
    (output, seen)
}

#[tokio::test]
async fn the_agent_gets_its_targets_as_arguments_and_its_lines_come_back() {
    let (output, seen) = exec_over("v5.channel.k8s.io").await;
    assert_eq!(output.expect("the exec succeeded"), LINES);
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
        "command=--target",
        "command=x%2Fb%3D10.244.1.11%3Atcp%2F80",
        "container=probe",
    ] {
        assert!(
            seen.path_and_query.contains(part),
            "{}",
            seen.path_and_query
        );
    }
    assert!(
        !seen.path_and_query.contains("stdin=true"),
        "no stdin: {}",
        seen.path_and_query
    );
    assert!(seen.stdin.is_empty() && !seen.closed_early, "{seen:?}");
}

#[tokio::test]
async fn over_the_v4_channel_protocol_the_results_still_come_back() {
    // v4 has no stdin close frame: kube-rs closes the whole WebSocket when
    // stdin ends, which lost every result while targets went on stdin.
    let (output, seen) = exec_over("v4.channel.k8s.io").await;
    assert!(
        !seen.closed_early,
        "the client kept the socket open: {seen:?}"
    );
    assert_eq!(output.expect("the exec succeeded"), LINES);
}

#[tokio::test]
async fn an_agent_that_fails_is_an_error_with_its_status_message() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let client = client_for(&listener).await;
    let server = tokio::spawn(serve_one_exec(
        listener,
        "v5.channel.k8s.io",
        String::new(),
        "Failure",
    ));
    let pods: Api<Pod> = Api::namespaced(client, "y");
    let error = tokio::time::timeout(
        BOUND,
        exec::exec_agent(&pods, "c", &["probe".to_owned()], BOUND),
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
fn with_both_paths_each_keeps_its_matrix_and_a_disagreeing_cell_can_never_pass() {
    // Issue 11 item 3: the Service result used to replace the pod-IP result,
    // so a blocked Service path hid an open pod path.
    let pods = vec![PodId::new("x", "a"), PodId::new("x", "b")];
    let probe = Probe::new(Protocol::Tcp, 80);
    let paths = exec::paths(
        &pods,
        &[probe],
        ProbeVia::Both,
        &[(0, Ok(LINES.to_owned()))],
    );
    assert_eq!(
        paths.pod.as_ref().unwrap()[&probe].get(0, 1),
        &Observed::Connected
    );
    assert_eq!(
        paths.service.as_ref().unwrap()[&probe].get(0, 1),
        &Observed::Timeout
    );
    let divergences = paths.divergences();
    assert_eq!(divergences.len(), 1);
    assert_eq!(
        divergences[0].to_string(),
        "x/a → x/b tcp/80: pod IP connected, Service timeout"
    );
    let merged = paths.merged();
    assert_eq!(
        merged[&probe].get(0, 1),
        &Observed::Error("paths differ: pod IP connected, Service timeout".into()),
        "neither a reach nor a block"
    );
    let one = exec::paths(&pods, &[probe], ProbeVia::Pod, &[(0, Ok(LINES.to_owned()))]);
    assert!(one.service.is_none());
    assert_eq!(one.merged()[&probe].get(0, 1), &Observed::Connected);
}

#[test]
fn every_target_goes_once_in_batches_that_each_fit_one_exec() {
    use std::str::FromStr;
    let pods: Vec<PodId> = (0..9).map(|i| PodId::new("x", &format!("p{i}"))).collect();
    let mut endpoints = Endpoints::default();
    for (i, pod) in pods.iter().enumerate() {
        endpoints
            .pod_ips
            .insert(pod.clone(), format!("10.244.1.{i}").parse().unwrap());
        endpoints
            .service_ips
            .insert(pod.clone(), format!("fd00::{i}").parse().unwrap());
    }
    let probes = [
        Probe::new(Protocol::Tcp, 80),
        Probe::new(Protocol::Tcp, 81),
        Probe::new(Protocol::Udp, 80),
        Probe::new(Protocol::Sctp, 81),
    ];
    let targets = exec::targets(&pods, &endpoints, &probes, ProbeVia::Both);
    assert_eq!(targets.len(), 9 * 4 * 2);
    let round = netpol_harness::probe::Round {
        timeout: std::time::Duration::from_millis(2000),
        source_port: 40_001,
    };
    let batches = exec::argument_batches(&targets, round, 1024);
    assert!(batches.len() > 1, "{} batches", batches.len());
    let mut again = Vec::new();
    for batch in &batches {
        assert_eq!(
            batch[..5],
            ["probe", "--timeout-ms", "2000", "--source-port", "40001"]
        );
        let args: Vec<&String> = batch[5..].iter().skip(1).step_by(2).collect();
        let bytes: usize = args.iter().map(|a| a.len() + "--target".len()).sum();
        assert!(bytes <= 1024 + 64, "{bytes} bytes in one exec");
        for arg in args {
            again.push(netpol_probe::Target::from_str(arg).expect("the agent reads it back"));
        }
    }
    assert_eq!(
        again, targets,
        "every target once, in order, as the agent parses it"
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
    let paths = exec::paths(
        &pods,
        &[probe],
        ProbeVia::Both,
        &[(0, Ok(lines.to_owned()))],
    );
    assert_eq!(
        paths.divergences().len(),
        1,
        "the paths still differ, and say so"
    );
    let merged = paths.merged();
    let Observed::Error(reason) = merged[&probe].get(0, 1) else {
        panic!("a failed probe became {:?}", merged[&probe].get(0, 1));
    };
    assert!(reason.contains("no route"), "{reason}");
}
