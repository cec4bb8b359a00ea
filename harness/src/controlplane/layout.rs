//! The control plane's files and command lines, as data: snapshot-tested, and
//! every path inside the run folder, so that `netpol cleanup` (which matches
//! processes by the run folder in their command line) finds etcd and
//! kube-apiserver of a killed run.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// etcd's client port, on the control plane's loopback only.
pub const ETCD_CLIENT_PORT: u16 = 2379;
/// etcd's peer port (a cluster of one: nobody connects), loopback only.
pub const ETCD_PEER_PORT: u16 = 2380;
/// The API server's port, on every address of the control-plane namespace.
pub const API_PORT: u16 = 6443;
/// Service ClusterIPs (the `kubernetes` Service gets the first); nothing
/// routes them, since no kube-proxy runs.
pub const SERVICE_CIDR: &str = "10.96.0.0/16";
/// The service-account token issuer.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// `<run>/control-plane/`: everything the control plane writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn new(run_dir: &Path) -> Layout {
        Layout {
            root: run_dir.join("control-plane"),
        }
    }

    pub fn etcd_data(&self) -> PathBuf {
        self.root.join("etcd")
    }
    pub fn ca_cert(&self) -> PathBuf {
        self.root.join("ca.crt")
    }
    pub fn serving_cert(&self) -> PathBuf {
        self.root.join("apiserver.crt")
    }
    pub fn serving_key(&self) -> PathBuf {
        self.root.join("apiserver.key")
    }
    pub fn service_account_key(&self) -> PathBuf {
        self.root.join("service-account.key")
    }
    pub fn service_account_public_key(&self) -> PathBuf {
        self.root.join("service-account.pub")
    }
    pub fn tokens(&self) -> PathBuf {
        self.root.join("tokens.csv")
    }
    /// Where kube-apiserver would write generated certificates (it has ours).
    pub fn cert_dir(&self) -> PathBuf {
        self.root.join("certs")
    }
    /// The admin kubeconfig, for the harness and for engines in node namespaces.
    pub fn kubeconfig(&self) -> PathBuf {
        self.root.join("kubeconfig")
    }
    pub fn log(&self, program: &str) -> PathBuf {
        self.root.join(format!("{program}.log"))
    }
}

fn flag(name: &str, value: impl std::fmt::Display) -> String {
    format!("--{name}={value}")
}

/// etcd: one member, on loopback, without fsync (a throwaway store: a crash
/// loses the run anyway, and fsync is most of a write's latency on a busy disk).
pub fn etcd_args(layout: &Layout) -> Vec<String> {
    let client = format!("http://127.0.0.1:{ETCD_CLIENT_PORT}");
    let peer = format!("http://127.0.0.1:{ETCD_PEER_PORT}");
    vec![
        flag("name", "netpol"),
        flag("data-dir", layout.etcd_data().display()),
        flag("listen-client-urls", &client),
        flag("advertise-client-urls", &client),
        flag("listen-peer-urls", &peer),
        flag("initial-advertise-peer-urls", &peer),
        flag("initial-cluster", format!("netpol={peer}")),
        flag("unsafe-no-fsync", true),
        flag("log-level", "warn"),
    ]
}

/// kube-apiserver: served on the control plane's fabric address (and its
/// loopback), stored in etcd on loopback, a static admin token, RBAC.
pub fn apiserver_args(layout: &Layout, address: Ipv4Addr) -> Vec<String> {
    let path = |p: PathBuf| p.display().to_string();
    vec![
        flag(
            "etcd-servers",
            format!("http://127.0.0.1:{ETCD_CLIENT_PORT}"),
        ),
        flag("bind-address", "0.0.0.0"),
        flag("secure-port", API_PORT),
        // Without a default route it could not pick an address by itself.
        flag("advertise-address", address),
        flag("service-cluster-ip-range", SERVICE_CIDR),
        flag("tls-cert-file", path(layout.serving_cert())),
        flag("tls-private-key-file", path(layout.serving_key())),
        flag("client-ca-file", path(layout.ca_cert())),
        flag("cert-dir", path(layout.cert_dir())),
        flag("token-auth-file", path(layout.tokens())),
        flag("authorization-mode", "RBAC"),
        flag("service-account-issuer", ISSUER),
        flag(
            "service-account-key-file",
            path(layout.service_account_public_key()),
        ),
        flag(
            "service-account-signing-key-file",
            path(layout.service_account_key()),
        ),
        flag("profiling", false),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_process_names_the_run_folder_so_cleanup_can_find_it() {
        let layout = Layout::new(Path::new("/tmp/netpol-abc123"));
        let address = Ipv4Addr::new(10, 255, 0, 254);
        for args in [etcd_args(&layout), apiserver_args(&layout, address)] {
            assert!(
                args.iter().any(|a| a.contains("/tmp/netpol-abc123/")),
                "{args:?}"
            );
        }
    }

    #[test]
    fn the_command_lines_read_as_a_script() {
        let layout = Layout::new(Path::new("/tmp/netpol-abc123"));
        let address = Ipv4Addr::new(10, 255, 0, 254);
        let line = |program: &str, args: Vec<String>| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            crate::command::shell_line(program, &args)
        };
        insta::assert_snapshot!(format!(
            "{}\n{}",
            line("etcd", etcd_args(&layout)),
            line("kube-apiserver", apiserver_args(&layout, address))
        ));
    }
}
