//! Controller mode against a local API server whose LISTs are slow: the
//! deadlock of issue 11 item 1. A first LIST slower than the 100 ms debounce
//! used to leave the reflector streams unpolled while the controller awaited
//! their stores, so no ruleset was ever applied. The fake server speaks just
//! enough HTTP/1.1 for kube-rs: LISTs answered after a delay, WATCHes held
//! open with no event.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{ControllerOptions, control};
use crate::nft::ApplyError;

/// Every wait of this test ends within this, or the test fails.
const BOUND: Duration = Duration::from_secs(20);

/// What the server has seen.
#[derive(Debug, Default)]
struct Seen {
    lists: Vec<String>,
    watches: Vec<String>,
}

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "7"}, "items": items})
}

/// The cluster the server lists: one deny-all policy in `x`, one pod behind it.
fn answer(path: &str) -> Value {
    match path {
        "/api/v1/pods" => list(
            "PodList",
            vec![json!({
                "metadata": {"namespace": "x", "name": "a", "resourceVersion": "5", "labels": {"pod": "a"}},
                "spec": {"nodeName": "node-1", "containers": [{"name": "probe"}]},
                "status": {"phase": "Running", "podIP": "10.244.1.10"}
            })],
        ),
        "/api/v1/namespaces" => list(
            "NamespaceList",
            vec![
                json!({"metadata": {"name": "x", "resourceVersion": "3", "labels": {"kubernetes.io/metadata.name": "x"}}}),
            ],
        ),
        "/apis/networking.k8s.io/v1/networkpolicies" => list(
            "NetworkPolicyList",
            vec![json!({
                "metadata": {"namespace": "x", "name": "deny", "resourceVersion": "6"},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}
            })],
        ),
        "/api/v1/nodes" => list(
            "NodeList",
            vec![json!({"metadata": {"name": "node-1", "resourceVersion": "2"}})],
        ),
        _ => json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404}),
    }
}

/// Serves one connection: requests in turn, a LIST after `delay`, a WATCH
/// held open (headers sent, no event) until the test ends.
async fn serve(mut stream: TcpStream, delay: Duration, seen: Arc<Mutex<Seen>>) {
    let mut buffer = Vec::new();
    loop {
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        buffer.drain(..head_end);
        let target = head
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
        if query.split('&').any(|p| p == "watch=true") {
            seen.lock().unwrap().watches.push(path.to_owned());
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await;
            std::future::pending::<()>().await;
        }
        seen.lock().unwrap().lists.push(path.to_owned());
        tokio::time::sleep(delay).await;
        let body = serde_json::to_vec(&answer(path)).unwrap();
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if stream.write_all(head.as_bytes()).await.is_err()
            || stream.write_all(&body).await.is_err()
        {
            return;
        }
    }
}

/// Runs the controller against a server whose LISTs take `delay`, until its
/// first ruleset is applied and the readiness file written, or `BOUND`.
async fn first_generation_with_lists_taking(delay: Duration) -> (Vec<String>, Seen, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let accepted = seen.clone();
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, delay, accepted.clone()));
        }
    });
    let config = kube::Config::new(format!("http://{address}").parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    let folder = std::env::temp_dir().join(format!(
        "netpol-enforcer-slow-server-{}-{}",
        std::process::id(),
        delay.as_millis()
    ));
    std::fs::create_dir_all(&folder).unwrap();
    let ready = folder.join("ready");
    let _ = std::fs::remove_file(&ready);
    let options = ControllerOptions {
        node: "node-1".into(),
        cni_config: None,
        ready_file: Some(ready.clone()),
        kubeconfig: None,
    };
    let mut applied = Vec::new();
    let mut apply = |text: &str| -> Result<(), ApplyError> {
        applied.push(text.to_owned());
        Ok(())
    };
    let signalled = async {
        while !ready.exists() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::select! {
        ended = control(client, &options, &mut apply) => panic!("the controller stopped: {ended:?}"),
        () = signalled => {}
        () = tokio::time::sleep(BOUND) => {
            let seen = seen.lock().unwrap();
            panic!(
                "no ruleset applied within {BOUND:?} with LISTs taking {delay:?} ({} LISTs, {} WATCHes seen)",
                seen.lists.len(),
                seen.watches.len()
            );
        }
    }
    server.abort();
    let readiness = std::fs::read_to_string(&ready).unwrap();
    let _ = std::fs::remove_dir_all(&folder);
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    (applied, seen, readiness)
}

#[tokio::test]
async fn the_controller_applies_generation_1_when_every_list_takes_300_ms() {
    let (applied, seen, readiness) =
        first_generation_with_lists_taking(Duration::from_millis(300)).await;
    assert_eq!(readiness, "generation 1\n");
    assert_eq!(applied.len(), 1, "{applied:?}");
    assert!(
        applied[0].contains("10.244.1.10 : drop"),
        "the deny-all policy isolates x/a: {}",
        applied[0]
    );
    let mut lists = seen.lists.clone();
    lists.sort();
    assert_eq!(
        lists,
        [
            "/api/v1/namespaces",
            "/api/v1/nodes",
            "/api/v1/pods",
            "/apis/networking.k8s.io/v1/networkpolicies"
        ],
        "one LIST per kind"
    );
}

#[tokio::test]
async fn the_controller_applies_generation_1_when_lists_are_fast() {
    let (applied, _, readiness) = first_generation_with_lists_taking(Duration::ZERO).await;
    assert_eq!(readiness, "generation 1\n");
    assert_eq!(applied.len(), 1);
}
