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
    /// How to ask the binary its version.
    pub version_args: &'static [&'static str],
    /// The line its version output has when it is exactly this version.
    pub version_line: fn(&str) -> String,
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
    version_args: &["--version"],
    version_line: |v| format!("etcd Version: {}", v.trim_start_matches('v')),
};

pub const KUBE_APISERVER: Component = Component {
    name: "kube-apiserver",
    version: versions::KUBERNETES,
    module: "k8s.io/kubernetes",
    package: "k8s.io/kubernetes/cmd/kube-apiserver",
    wrapper: &KUBERNETES_WRAPPER,
    stamps: kubernetes_stamps,
    version_args: &["--version"],
    version_line: |v| format!("Kubernetes {v}"),
};

/// Every component, in the order they are built and listed.
pub const COMPONENTS: &[&Component] = &[&ETCD, &KUBE_APISERVER];

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
