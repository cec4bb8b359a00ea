//! The pinned versions of the engines built from Go modules (beside
//! `cni/versions.rs`, which pins the cluster path). Bumping one means changing
//! its line here and its wrapper module under `engines/<name>/` (`go get` +
//! `go mod tidy` there); a unit test fails until the two agree.

/// etcd, the API server's store: the 3.6 line the issue asks for, at the
/// newest patch release the Go module proxy serves here. It declares
/// `go 1.26.0`, so the machine's own Go builds it. Kubernetes 1.37 accepts it:
/// kubeadm 1.37 requires an external etcd of at least 3.5.24 and defaults to
/// 3.7.0 (`MinExternalEtcdVersion`, `DefaultEtcdVersion` in
/// cmd/kubeadm/app/constants); v3.7.3 is served too and is a one-line bump.
/// Source: `go list -m -versions go.etcd.io/etcd/server/v3` (v3.6.16, 2026-10-22).
pub const ETCD: &str = "v3.6.16";

/// Kubernetes, for kube-apiserver: the newest release the proxy serves whose
/// go.mod asks no more than this machine's Go 1.26 (`go 1.26.0`), so no
/// `GOTOOLCHAIN` download is needed. v1.38.0 exists only as a beta.
/// Source: `go list -m -versions k8s.io/kubernetes` and
/// `go list -m -json k8s.io/kubernetes@v1.37.2` (GoVersion 1.26.0).
pub const KUBERNETES: &str = "v1.37.2";
/// The published staging modules (k8s.io/api, k8s.io/apiserver, …) of the
/// same release: Kubernetes 1.N.P publishes them as v0.N.P.
pub const KUBERNETES_STAGING: &str = "v0.37.2";
/// `KUBERNETES`'s publication time on the module proxy (`Time` of
/// `go list -m -json`), used as the binary's build date so that two builds of
/// the same pin report the same `--version` and are byte-identical.
pub const KUBERNETES_DATE: &str = "2026-10-27T12:01:04Z";
