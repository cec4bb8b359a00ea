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

/// kube-router, the node-level policy engine of the kube-router CNI: the
/// newest release whose module the Go proxy reachable here serves whole.
/// v2.11.1 has only its `.info` (its `.mod` and `.zip` answer 403), v2.12.0
/// has no `.zip` and declares Go 1.27; the proxy's listing shows only
/// v2.1.0, which has security advisories. v2.10.0 has no nftables backend
/// (`--use-nftables-for-netpol` appeared in v2.11.0), so `kube-router-nft`
/// cannot be built here.
/// Source: `go list -m -json github.com/cloudnativelabs/kube-router/v2@v2.10.0`
/// and `curl $GOPROXY/github.com/cloudnativelabs/kube-router/v2/@v/v2.11.1.mod` (403).
pub const KUBE_ROUTER: &str = "v2.10.0";
/// v2.10.0's commit time (the proxy's `.info` `Time`), as its build date, so
/// that two builds give the same bytes and the same `--version`.
pub const KUBE_ROUTER_DATE: &str = "2026-05-27T14:23:58Z";

/// Calico (for Felix): its module path has no `/v3`, so its v3.x tags are not
/// module versions and only a pseudo-version names a commit. This is the
/// v3.31.0 tag's commit (release-v3.31), the set projectcalico/vpp-dataplane
/// pins for v3.31.0; the later v3.31.x commits answer 403 on the proxy here.
/// Source: `go list -m -json github.com/projectcalico/calico@b1f3c43f8437`.
pub const CALICO: &str = "v0.0.0-20251021213802-b1f3c43f8437";
/// The release `CALICO` is, as Calico's release build stamps it
/// (`pkg/buildinfo`), with the tag's commit and its commit time.
pub const CALICO_RELEASE: &str = "v3.31.0";
pub const CALICO_COMMIT: &str = "b1f3c43f84370504e218eb5be8a34c81348f866a";
pub const CALICO_DATE: &str = "2025-10-21T21:38:02Z";

/// kube-network-policies (kindnet's engine, sigs.k8s.io): the newest version
/// the proxy here serves (v0.8.1 and v0.9.x answer 403); unlike v0.8.0 (in-
/// cluster configuration only) it takes `--kubeconfig`. It needs the
/// nftables `queue` expression, which this machine's kernel lacks.
/// Source: `go list -m -json sigs.k8s.io/kube-network-policies@v1.1.1`.
pub const KUBE_NETWORK_POLICIES: &str = "v1.1.1";
