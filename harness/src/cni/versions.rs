//! Every pinned version of the cluster path, in one place, with where it was
//! checked. Bumping a CNI means changing one line here and re-pinning the
//! dry-run snapshots (`cargo insta review`), whose diff shows every URL and
//! image that moved.

/// kind itself; v0.24+ runs kube-network-policies inside kindnet, so the
/// default CNI enforces NetworkPolicy.
/// Source: github.com/kubernetes-sigs/kind/releases/tag/v0.30.0 (default image below).
pub const KIND: &str = "v0.30.0";
/// `kind-linux-amd64` of `KIND`, for scripts/install-kind.
pub const KIND_SHA256: &str = "517ab7fc89ddeed5fa65abf71530d90648d9638ef0c4cde22c2c11f8097b8889";
/// The node image kind v0.30.0 was released with (Kubernetes 1.34.0), by digest
/// as kind's release notes ask.
pub const NODE_IMAGE: &str =
    "kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a";
/// The Kubernetes version of `NODE_IMAGE`, for messages and results.
pub const KUBERNETES: &str = "v1.34.0";

/// Helm, for Cilium's chart. Source: get.helm.sh release v3.18.6.
pub const HELM: &str = "v3.18.6";
/// `helm-v3.18.6-linux-amd64.tar.gz`, for scripts/install-helm.
pub const HELM_SHA256: &str = "3f43c0aa57243852dd542493a0f54f1396c0bc8ec7296bbb2c01e802010819ce";

/// The reference CNI plugins, for Flannel's `bridge` (kind's node image ships
/// only ptp, host-local, portmap and loopback).
/// Source: github.com/containernetworking/plugins/releases/tag/v1.8.0 (`.sha256`).
pub const CNI_PLUGINS: &str = "v1.8.0";
pub const CNI_PLUGINS_SHA256: &str =
    "ab3bda535f9d90766cccc90d3dddb5482003dd744d7f22bcf98186bf8eea8be6";

/// Calico, manifest install. Source: docs.tigera.io/calico/3.31 "Kind multi-node
/// install" (manifestsUrl raw.githubusercontent.com/projectcalico/calico/v3.31.2).
pub const CALICO: &str = "v3.31.2";
/// Cilium's Helm chart. Source: docs.cilium.io "Installation Using Kind";
/// 1.19 is the first minor tested on Kubernetes 1.34.
pub const CILIUM: &str = "1.19.4";
/// Flannel. Source: github.com/flannel-io/flannel README (release kube-flannel.yml).
pub const FLANNEL: &str = "v0.27.4";
/// Antrea. Source: antrea docs/kind.md; CHANGELOG-2.5.md (2.5.1, 2026-01-06).
pub const ANTREA: &str = "v2.5.1";
/// kube-router. Source: docs/kubeadm.md (daemonset/kubeadm-kuberouter.yaml);
/// v2.6.2 is the release k3s ships for Kubernetes 1.34.
pub const KUBE_ROUTER: &str = "v2.6.2";

/// Images the harness builds from this workspace and `kind load`s.
pub const PROBE_IMAGE: &str = "localhost/netpol-probe:dev";
pub const ENFORCER_IMAGE: &str = "localhost/netpol-enforcer:dev";
