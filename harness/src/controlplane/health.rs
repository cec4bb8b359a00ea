//! Waiting for the control plane: etcd's `/health`, the API server's `/readyz`.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::ControlPlaneError;
use super::layout::ETCD_CLIENT_PORT;
use super::process::Engine;
use super::sockets::NetnsSockets;
use crate::timeouts::Timeouts;

/// How many log lines an error quotes.
const LOG_LINES: usize = 5;

/// One `GET /health` of etcd: `Ok` when it says `"health":"true"`.
pub async fn etcd_health(sockets: &NetnsSockets) -> Result<(), String> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, ETCD_CLIENT_PORT));
    let mut stream = sockets.connect(address).await.map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    if body.replace(' ', "").contains(r#""health":"true""#) {
        Ok(())
    } else {
        Err(format!("etcd answered {:?}", body.trim()))
    }
}

/// One `GET /readyz` of the API server: `Ok` when it says `ok`.
pub async fn apiserver_ready(client: &kube::Client) -> Result<(), String> {
    let request = http::Request::get("/readyz")
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    match client.request_text(request).await {
        Ok(text) if text.trim() == "ok" => Ok(()),
        Ok(text) => Err(format!("/readyz answered {:?}", text.trim())),
        Err(e) => Err(crate::error::chain(&e)),
    }
}

/// Polls `check` until it succeeds, `engine` exits, or `timeout` passes;
/// returns how long it took.
pub async fn wait_for<F, Fut>(
    what: &'static str,
    engine: &mut Engine,
    timeout: Duration,
    check: F,
) -> Result<Duration, ControlPlaneError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    let mut last = "no answer yet".to_owned();
    loop {
        if let Some(status) = engine.exited() {
            return Err(ControlPlaneError::Exited {
                name: engine.name,
                status: status.to_string(),
                log: engine.log_tail(LOG_LINES),
            });
        }
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(ControlPlaneError::NotReady {
                what,
                timeout,
                last,
                log: engine.log_tail(LOG_LINES),
            });
        }
        match tokio::time::timeout(left, check()).await {
            Ok(Ok(())) => return Ok(started.elapsed()),
            Ok(Err(error)) => last = error,
            Err(_) => last = format!("no answer within {timeout:?}"),
        }
        tokio::time::sleep(Timeouts::CONTROL_PLANE_POLL).await;
    }
}
