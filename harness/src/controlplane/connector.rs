//! A kube-rs client whose connections are opened inside a network namespace:
//! the control plane listens only there (and on the fabric), never in the
//! namespace the harness runs in.
//!
//! kube's own stack is rebuilt around our connector, as `Client::new`'s docs
//! show: TLS from the kubeconfig (`rustls_https_connector_with_connector`),
//! the base URI, and the kubeconfig's authentication.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use kube::client::ConfigExt;
use tokio::net::TcpStream;
use tower::{BoxError, ServiceBuilder};

use super::sockets::NetnsSockets;

/// Connects to a URI's host, which must be an IP address (nothing resolves
/// names inside the namespace), through sockets of the namespace.
#[derive(Clone, Debug)]
pub struct NetnsConnector {
    sockets: NetnsSockets,
    timeout: Duration,
}

impl NetnsConnector {
    pub fn new(sockets: NetnsSockets, timeout: Duration) -> NetnsConnector {
        NetnsConnector { sockets, timeout }
    }
}

/// The address a URI names, with the scheme's port when it has none.
pub fn socket_address(uri: &http::Uri) -> Result<SocketAddr, String> {
    let host = uri.host().ok_or_else(|| format!("{uri} has no host"))?;
    let ip: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| format!("{uri}: the host must be an IP address, not {host:?}"))?;
    let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("http") => 80,
        _ => 443,
    });
    Ok(SocketAddr::new(ip, port))
}

impl tower::Service<http::Uri> for NetnsConnector {
    type Response = TokioIo<TcpStream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let sockets = self.sockets.clone();
        let timeout = self.timeout;
        Box::pin(async move {
            let address = socket_address(&uri).map_err(std::io::Error::other)?;
            let stream = tokio::time::timeout(timeout, sockets.connect(address))
                .await
                .map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "connect to {address} in {} timed out after {timeout:?}",
                            sockets.netns()
                        ),
                    )
                })??;
            Ok(TokioIo::new(stream))
        })
    }
}

/// A client for `config` (from the run's kubeconfig) that connects through
/// `sockets`.
pub fn client(config: &kube::Config, sockets: NetnsSockets) -> Result<kube::Client, kube::Error> {
    // The fabric is local: kube's default of 30 s would only delay the error.
    let timeout = crate::timeouts::Timeouts::API_CONNECT;
    let https =
        config.rustls_https_connector_with_connector(NetnsConnector::new(sockets, timeout))?;
    let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(https);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .map_err(BoxError::from)
        .service(http);
    Ok(kube::Client::new(service, config.default_namespace.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connector_needs_an_ip_address_and_defaults_the_port_by_scheme() {
        let uri = |s: &str| s.parse::<http::Uri>().unwrap();
        assert_eq!(
            socket_address(&uri("https://10.255.0.254:6443")),
            Ok("10.255.0.254:6443".parse().unwrap())
        );
        assert_eq!(
            socket_address(&uri("https://10.255.0.254/api")),
            Ok("10.255.0.254:443".parse().unwrap())
        );
        assert_eq!(
            socket_address(&uri("http://[fd00::1]")),
            Ok("[fd00::1]:80".parse().unwrap())
        );
        assert!(
            socket_address(&uri("https://kubernetes.default:6443"))
                .unwrap_err()
                .contains("must be an IP address")
        );
    }
}
