//! Every pinned version of the cluster path, in one place, with where it was
//! checked. Bumping a CNI means changing one line here and re-pinning the
//! dry-run snapshots (`cargo insta review`), whose diff shows every URL and
//! image that moved.

/// kind itself; v0.24+ runs kube-network-policies inside kindnet, so the
/// default CNI enforces NetworkPolicy.
/// Source: github.com/kubernetes-sigs/kind/releases/tag/v0.30.0 (default image below).
/// Kept although v0.32.0 exists (checked 2026-08 in kind's sources at that
/// tag, pkg/apis/config/defaults/image.go): its default node image is
/// Kubernetes 1.36.1, newer than the Kubernetes the pinned Cilium 1.19 line was
/// released against, and Cilium's newer sources could not be read here; kind's
/// other v0.32.0 images are listed only in its release notes, which could not
/// be read either. kind supports node images "with the kind version they were
/// released with (and best effort with other releases)" (site
/// docs/design/node-image.md), so kind and its image move together.
pub const KIND: &str = "v0.30.0";
/// `kind-linux-amd64` of `KIND`, for scripts/install-kind.
pub const KIND_SHA256: &str = "517ab7fc89ddeed5fa65abf71530d90648d9638ef0c4cde22c2c11f8097b8889";
/// `kind-linux-arm64` of `KIND`. Not read from the release page itself (not
/// reachable here): the value at least nine independent projects pin for it.
pub const KIND_SHA256_ARM64: &str =
    "7ea2de9d2d190022ed4a8a4e3ac0636c8a455e460b9a13ccf19f15d07f4f00eb";
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
/// `helm-v3.18.6-linux-arm64.tar.gz` (the v3.18.6 release notes list both).
pub const HELM_SHA256_ARM64: &str =
    "5b8e00b6709caab466cbbb0bc29ee09059b8dc9417991dd04b497530e49b1737";

/// The reference CNI plugins, for Flannel's `bridge` (kind's node image ships
/// only ptp, host-local, portmap and loopback).
/// Source: github.com/containernetworking/plugins/releases/tag/v1.8.0 (`.sha256`),
/// linux/amd64 only: no arm64 checksum could be read, so the Flannel recipe
/// refuses other architectures before anything is created.
pub const CNI_PLUGINS: &str = "v1.8.0";
pub const CNI_PLUGINS_SHA256: &str =
    "ab3bda535f9d90766cccc90d3dddb5482003dd744d7f22bcf98186bf8eea8be6";

/// Calico, manifest install. Source: tigera/docs
/// calico_versioned_docs/version-3.32/getting-started/kubernetes/kind.mdx
/// "Kind multi-node install" (the same kind config, podSubnet 192.168.0.0/16,
/// and manifest install as 3.31's); manifests/calico.yaml at v3.32.1 keeps the
/// default pool and the calico-node / calico-kube-controllers names.
pub const CALICO: &str = "v3.32.1";
/// Cilium's Helm chart. Source: docs.cilium.io "Installation Using Kind";
/// 1.19 is the first minor tested on Kubernetes 1.34. Kept: newer releases
/// exist (1.20.x is named elsewhere) but Cilium's sources and kind guide at a
/// newer tag could not be read here (the repository is too large to fetch,
/// and its indexed files are old).
pub const CILIUM: &str = "1.19.4";
/// Flannel. Source: github.com/flannel-io/flannel README at v0.28.9 ("Deploying
/// Flannel with kubectl": the release kube-flannel.yml, 10.244.0.0/16, the
/// kube-flannel-ds DaemonSet, the same as at v0.27.4).
pub const FLANNEL: &str = "v0.28.9";
/// Antrea. Source: antrea docs/kind.md at v2.7.0 (unchanged from v2.5.1: kind
/// with the default CNI disabled, then the release antrea.yml);
/// CHANGELOG/CHANGELOG-2.7.md (2.7.0, 2026-08-15).
pub const ANTREA: &str = "v2.7.0";
/// kube-router. Source: docs/kubeadm.md at v2.11.1 ("Providing Pod
/// Networking and Network Policy": daemonset/kubeadm-kuberouter.yaml, the
/// manifest byte for byte as at v2.6.2, still naming the untagged image).
pub const KUBE_ROUTER: &str = "v2.11.1";

/// Images the harness builds from this workspace and `kind load`s.
pub const PROBE_IMAGE: &str = "localhost/netpol-probe:dev";
pub const ENFORCER_IMAGE: &str = "localhost/netpol-enforcer:dev";
