//! The engines: programs of other projects (etcd, kube-apiserver; later the
//! node-level policy engines of real CNIs) built from their published Go
//! modules at pinned versions, with the machine's `go`, into a cache folder.
//!
//! Each component is one entry of [`COMPONENTS`]: its pin, its Go package,
//! the wrapper module under `engines/<wrapper>/` (embedded in the binary, so
//! `netpol engines build` works from any installed copy of netpol), the
//! linker flags that stamp its version, and what its `--version` must print.

mod build;
mod cache;
pub mod versions;

pub use build::{BuildError, Built, build, go_missing_message};
pub use cache::{ENGINES_DIR_VAR, Status, engines_dir, engines_dir_from, status};

/// A Go module under `engines/`: the go.mod (with its `tool` line naming the
/// package to build) and go.sum that make the build reproducible.
#[derive(Debug)]
pub struct Wrapper {
    /// The folder name under `engines/`.
    pub name: &'static str,
    pub go_mod: &'static str,
    pub go_sum: &'static str,
}

/// One program netpol can build and run.
#[derive(Debug)]
pub struct Component {
    /// The command's name, also the binary's file name in the cache.
    pub name: &'static str,
    pub version: &'static str,
    /// The Go module that publishes it, for `engines list`.
    pub module: &'static str,
    /// The main package, as `go build` takes it.
    pub package: &'static str,
    pub wrapper: &'static Wrapper,
    /// The `-X name=value` linker flags of a release build (its version
    /// stamps), from the version.
    pub stamps: fn(&str) -> Vec<(&'static str, String)>,
    /// How to ask the binary its version, and what the answer must say.
    pub version_check: VersionCheck,
    /// Files of the component's own module at the pin (CRDs, default
    /// configuration) that running it needs, copied beside the binary.
    pub assets: &'static [Asset],
}

/// A file of a component's module, kept beside its binary.
#[derive(Debug)]
pub struct Asset {
    /// Its path inside the module (as published: the module zip's tree).
    pub from: &'static str,
    /// Its file name in the component's folder.
    pub to: &'static str,
}

/// How a binary in the engines folder is recognised as exactly the pin.
#[derive(Debug)]
pub enum VersionCheck {
    /// `<binary> <args>` prints (on stdout or stderr) a line that is exactly
    /// `line(version)`.
    Line {
        args: &'static [&'static str],
        line: fn(&str) -> String,
    },
    /// `<binary> <args>` prints a line containing `part(version)`: for a
    /// line that also names what varies between machines (kube-router's
    /// names `argv[0]` and the Go release).
    Within {
        args: &'static [&'static str],
        part: fn(&str) -> String,
    },
    /// The binary has no version flag: `go version -m <binary>` must name
    /// the component's module at the pinned version as the main package's
    /// module (its `mod` line: the build info Go puts in every binary).
    GoBuildInfo,
}

impl Component {
    /// The name and version, as messages and folders show them.
    pub fn label(&self) -> String {
        format!("{} {}", self.name, self.version)
    }
}

static ETCD_WRAPPER: Wrapper = Wrapper {
    name: "etcd",
    go_mod: include_str!("../../../engines/etcd/go.mod"),
    go_sum: include_str!("../../../engines/etcd/go.sum"),
};

static KUBERNETES_WRAPPER: Wrapper = Wrapper {
    name: "kube-apiserver",
    go_mod: include_str!("../../../engines/kube-apiserver/go.mod"),
    go_sum: include_str!("../../../engines/kube-apiserver/go.sum"),
};

/// What `hack/lib/version.sh` of Kubernetes stamps into a release build
/// (`gitCommit` is left out: the module proxy does not say which commit a
/// release is, and nothing reads it).
fn kubernetes_stamps(version: &str) -> Vec<(&'static str, String)> {
    let mut parts = version.trim_start_matches('v').split('.');
    let major = parts.next().unwrap_or_default().to_owned();
    let minor = parts.next().unwrap_or_default().to_owned();
    vec![
        (
            "k8s.io/component-base/version.gitVersion",
            version.to_owned(),
        ),
        ("k8s.io/component-base/version.gitMajor", major),
        ("k8s.io/component-base/version.gitMinor", minor),
        ("k8s.io/component-base/version.gitTreeState", "clean".into()),
        (
            "k8s.io/component-base/version.buildDate",
            versions::KUBERNETES_DATE.into(),
        ),
    ]
}

pub const ETCD: Component = Component {
    name: "etcd",
    version: versions::ETCD,
    module: "go.etcd.io/etcd/server/v3",
    // etcd's main package is its server module's root.
    package: "go.etcd.io/etcd/server/v3",
    wrapper: &ETCD_WRAPPER,
    // etcd's version is a constant of go.etcd.io/etcd/api/v3/version.
    stamps: |_| Vec::new(),
    version_check: VersionCheck::Line {
        args: &["--version"],
        line: |v| format!("etcd Version: {}", v.trim_start_matches('v')),
    },
    assets: &[],
};

pub const KUBE_APISERVER: Component = Component {
    name: "kube-apiserver",
    version: versions::KUBERNETES,
    module: "k8s.io/kubernetes",
    package: "k8s.io/kubernetes/cmd/kube-apiserver",
    wrapper: &KUBERNETES_WRAPPER,
    stamps: kubernetes_stamps,
    version_check: VersionCheck::Line {
        args: &["--version"],
        line: |v| format!("Kubernetes {v}"),
    },
    assets: &[],
};

static KUBE_ROUTER_WRAPPER: Wrapper = Wrapper {
    name: "kube-router",
    go_mod: include_str!("../../../engines/kube-router/go.mod"),
    go_sum: include_str!("../../../engines/kube-router/go.sum"),
};

static FELIX_WRAPPER: Wrapper = Wrapper {
    name: "felix",
    go_mod: include_str!("../../../engines/felix/go.mod"),
    go_sum: include_str!("../../../engines/felix/go.sum"),
};

static KUBE_NETWORK_POLICIES_WRAPPER: Wrapper = Wrapper {
    name: "kube-network-policies",
    go_mod: include_str!("../../../engines/kube-network-policies/go.mod"),
    go_sum: include_str!("../../../engines/kube-network-policies/go.sum"),
};

/// kube-router's network policy controller (its firewall), the agent run
/// with `--run-firewall` only. Its release build (the Makefile's
/// `kube-router` target) stamps pkg/version's Version and BuildDate.
pub const KUBE_ROUTER: Component = Component {
    name: "kube-router",
    version: versions::KUBE_ROUTER,
    module: "github.com/cloudnativelabs/kube-router/v2",
    package: "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router",
    wrapper: &KUBE_ROUTER_WRAPPER,
    stamps: |v| {
        vec![
            (
                "github.com/cloudnativelabs/kube-router/v2/pkg/version.Version",
                v.to_owned(),
            ),
            (
                "github.com/cloudnativelabs/kube-router/v2/pkg/version.BuildDate",
                versions::KUBE_ROUTER_DATE.to_owned(),
            ),
        ]
    },
    // pkg/version/version.go PrintVersion: "Running <argv0> version <v>,
    // built on <date>, <go release>" on stderr.
    version_check: VersionCheck::Within {
        args: &["--version"],
        part: |v| format!(" version {v}, built on {},", versions::KUBE_ROUTER_DATE),
    },
    assets: &[],
};

/// Calico's Felix, its per-node policy agent, without the BPF dataplane
/// (`CGO_ENABLED=0`). Calico's release build stamps pkg/buildinfo.
pub const CALICO_FELIX: Component = Component {
    name: "calico-felix",
    version: versions::CALICO,
    module: "github.com/projectcalico/calico",
    package: "github.com/projectcalico/calico/felix/cmd/calico-felix",
    wrapper: &FELIX_WRAPPER,
    stamps: |_| {
        vec![
            (
                "github.com/projectcalico/calico/pkg/buildinfo.Version",
                versions::CALICO_RELEASE.to_owned(),
            ),
            (
                "github.com/projectcalico/calico/pkg/buildinfo.GitRevision",
                versions::CALICO_COMMIT.to_owned(),
            ),
            (
                "github.com/projectcalico/calico/pkg/buildinfo.BuildDate",
                versions::CALICO_DATE.to_owned(),
            ),
        ]
    },
    // felix/cmd/calico-felix/calico-felix.go prints "Version: v3.31.0" and
    // "Full git commit ID: <commit>"; the pseudo-version is that commit, so
    // the commit line is what says the binary is the pin.
    version_check: VersionCheck::Line {
        args: &["--version"],
        line: |_| format!("Full git commit ID: {}", versions::CALICO_COMMIT),
    },
    // The CustomResourceDefinitions of the release (what its operator or
    // calico.yaml installs): Felix in Kubernetes-datastore mode reads its
    // configuration, policies and IP pools through them.
    assets: &[CALICO_CRDS],
};

/// Calico's CRDs at the pin.
pub const CALICO_CRDS: Asset = Asset {
    from: "manifests/crds.yaml",
    to: "crds.yaml",
};

/// kube-network-policies, kindnet's policy engine (the standard command,
/// NetworkPolicy only). Its Makefile stamps nothing.
pub const KUBE_NETWORK_POLICIES: Component = Component {
    name: "kube-network-policies",
    version: versions::KUBE_NETWORK_POLICIES,
    module: "sigs.k8s.io/kube-network-policies",
    package: "sigs.k8s.io/kube-network-policies/cmd/kube-network-policies/standard",
    wrapper: &KUBE_NETWORK_POLICIES_WRAPPER,
    stamps: |_| Vec::new(),
    version_check: VersionCheck::GoBuildInfo,
    assets: &[],
};

/// Every component, in the order they are built and listed.
pub const COMPONENTS: &[&Component] = &[
    &ETCD,
    &KUBE_APISERVER,
    &KUBE_ROUTER,
    &CALICO_FELIX,
    &KUBE_NETWORK_POLICIES,
];

/// The components named (all of them for none), or the unknown names.
pub fn select(names: &[String]) -> Result<Vec<&'static Component>, String> {
    if names.is_empty() {
        return Ok(COMPONENTS.to_vec());
    }
    let unknown: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| !COMPONENTS.iter().any(|c| c.name == *n))
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = COMPONENTS.iter().map(|c| c.name).collect();
        return Err(format!(
            "unknown engine {} (engines are {})",
            unknown
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
            known.join(", ")
        ));
    }
    Ok(COMPONENTS
        .iter()
        .copied()
        .filter(|c| names.iter().any(|n| n == c.name))
        .collect())
}

#[cfg(test)]
mod tests;
