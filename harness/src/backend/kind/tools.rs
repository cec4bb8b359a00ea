//! What a kind run needs on this machine, found with `which` before anything
//! is created; everything missing is reported at once, with how to get it.

use std::path::{Path, PathBuf};

use crate::cni::versions::{HELM, KIND};
use crate::cni::{Install, Recipe};

/// The container engine kind runs its nodes in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Engine {
    Docker(PathBuf),
    Podman(PathBuf),
}

impl Engine {
    pub fn path(&self) -> &Path {
        match self {
            Engine::Docker(p) | Engine::Podman(p) => p,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Engine::Docker(_) => "docker",
            Engine::Podman(_) => "podman",
        }
    }
}

/// How Cilium's chart gets installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChartTool {
    Helm(PathBuf),
    CiliumCli(PathBuf),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tools {
    pub kind: PathBuf,
    pub engine: Engine,
    pub curl: Option<PathBuf>,
    pub tar: Option<PathBuf>,
    pub chart: Option<ChartTool>,
}

/// The oldest kind whose kindnet enforces NetworkPolicy (kube-network-policies).
pub const MIN_KIND: (u32, u32) = (0, 24);

/// Finds the tools, using `find` (which `which::which` backs in a real run).
pub fn find(recipe: &Recipe, find: impl Fn(&str) -> Option<PathBuf>) -> Result<Tools, String> {
    let mut missing = Vec::new();
    let kind = find("kind");
    if kind.is_none() {
        missing.push(format!(
            "`kind` ({KIND}): `scripts/install-kind` installs it in /usr/local/bin, \
             or see https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
        ));
    }
    let engine = find("docker")
        .map(Engine::Docker)
        .or_else(|| find("podman").map(Engine::Podman));
    if engine.is_none() {
        missing.push(
            "a container engine, `docker` (https://docs.docker.com/engine/install/) or `podman` \
             (`apt-get install podman`), running and usable by this user"
                .into(),
        );
    }
    let fetches = !recipe.downloads.is_empty()
        || recipe
            .install
            .iter()
            .any(|i| matches!(i, Install::Manifest { .. }));
    let curl = find("curl");
    if fetches && curl.is_none() {
        missing.push("`curl`, which fetches the CNI's manifests (`apt-get install curl`)".into());
    }
    let tar = find("tar");
    if !recipe.downloads.is_empty() && tar.is_none() {
        missing.push("`tar` (`apt-get install tar`)".into());
    }
    let needs_chart = recipe
        .install
        .iter()
        .any(|i| matches!(i, Install::Helm { .. }));
    let chart = find("helm")
        .map(ChartTool::Helm)
        .or_else(|| find("cilium").map(ChartTool::CiliumCli));
    if needs_chart && chart.is_none() {
        missing.push(format!(
            "`helm` ({HELM}; `scripts/install-helm`) or the `cilium` CLI \
             (https://docs.cilium.io/en/stable/gettingstarted/k8s-install-default/#install-the-cilium-cli): \
             Cilium installs from its Helm chart"
        ));
    }
    match (kind, engine) {
        (Some(kind), Some(engine)) if missing.is_empty() => Ok(Tools {
            kind,
            engine,
            curl,
            tar,
            chart,
        }),
        _ => Err(format!(
            "the kind backend needs, on PATH:\n{}\n`--dry-run` prints the whole plan without any of them",
            missing
                .iter()
                .map(|m| format!("  - {m}"))
                .collect::<Vec<_>>()
                .join("\n")
        )),
    }
}

/// `kind version` prints `kind v0.30.0 go1.24.6 linux/amd64`.
pub fn parse_kind_version(output: &str) -> Option<(u32, u32, u32)> {
    let version = output.split_whitespace().find(|w| w.starts_with('v'))?;
    let mut parts = version.trim_start_matches('v').split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((major, minor, patch))
}

/// Refuses a kind older than v0.24.
pub fn check_kind_version(output: &str) -> Result<(), String> {
    match parse_kind_version(output) {
        Some((major, minor, _)) if (major, minor) >= MIN_KIND => Ok(()),
        Some((major, minor, patch)) => Err(format!(
            "kind v{major}.{minor}.{patch} is too old: kindnet enforces NetworkPolicy only since v0.24 \
             (pinned: {KIND}; `scripts/install-kind`)"
        )),
        None => Err(format!(
            "cannot read the version of kind from `{}`",
            output.trim()
        )),
    }
}

/// The recipe's kernel features, checked where the nodes' kernel is this
/// one's (Linux); elsewhere (Docker Desktop) the nodes run in a VM.
pub fn host_problems(recipe: &Recipe) -> Vec<String> {
    if !cfg!(target_os = "linux") {
        return Vec::new();
    }
    recipe
        .host_checks
        .iter()
        .filter(|c| !Path::new(c.path).exists())
        .map(|c| c.fix.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cni::Cni;

    #[test]
    fn without_kind_or_an_engine_every_missing_tool_is_named_with_how_to_get_it() {
        let error = find(&Cni::Calico.recipe(), |_| None).unwrap_err();
        assert!(
            error.contains("`kind` (v0.30.0): `scripts/install-kind`"),
            "{error}"
        );
        assert!(
            error.contains("`docker`") && error.contains("`podman`"),
            "{error}"
        );
        assert!(error.contains("`curl`"), "{error}");
        assert!(error.contains("--dry-run"), "{error}");
    }

    #[test]
    fn cilium_needs_helm_or_the_cilium_cli() {
        let only = |names: &'static [&'static str]| {
            move |n: &str| {
                names
                    .contains(&n)
                    .then(|| PathBuf::from(format!("/bin/{n}")))
            }
        };
        let error = find(&Cni::Cilium.recipe(), only(&["kind", "docker"])).unwrap_err();
        assert!(
            error.contains("`helm`") && error.contains("`cilium` CLI"),
            "{error}"
        );
        let tools = find(&Cni::Cilium.recipe(), only(&["kind", "podman", "cilium"])).unwrap();
        assert_eq!(
            tools.chart,
            Some(ChartTool::CiliumCli("/bin/cilium".into()))
        );
        assert_eq!(tools.engine.name(), "podman");
    }

    #[test]
    fn kind_before_v0_24_is_refused() {
        assert!(check_kind_version("kind v0.30.0 go1.24.6 linux/amd64").is_ok());
        assert!(check_kind_version("kind v0.24.0 go1.22.6 linux/amd64").is_ok());
        let error = check_kind_version("kind v0.23.0 go1.22.3 linux/amd64").unwrap_err();
        assert!(error.contains("too old"), "{error}");
    }
}
