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

/// The minor of the pinned kind, `(0, 32)` for `v0.32.0`: the node image is
/// the one that release was built and tested with ("node images … with the
/// kind version they were released with (and best effort with other
/// releases)", kind site docs/design/node-image.md), so an older kind is
/// refused and a newer one only warned about.
pub fn pinned_minor() -> String {
    let (major, minor) = pinned();
    format!("v{major}.{minor}")
}

fn pinned() -> (u32, u32) {
    parse_kind_version(&format!("kind {KIND}")).map_or((0, 0), |(major, minor, _)| (major, minor))
}

/// This machine's architecture as kind, Docker and release archives name it.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

impl Tools {
    /// The tools by name, as `--dry-run` prints them (docker, helm).
    pub fn by_name() -> Tools {
        Tools {
            kind: "kind".into(),
            engine: Engine::Docker("docker".into()),
            curl: Some("curl".into()),
            tar: Some("tar".into()),
            chart: Some(ChartTool::Helm("helm".into())),
        }
    }
}

/// The tools a recipe needs on PATH, as the plan names them.
pub fn needed(recipe: &Recipe) -> Vec<&'static str> {
    let mut out = vec!["kind", "docker or podman"];
    let fetches = !recipe.downloads.is_empty()
        || recipe
            .install
            .iter()
            .any(|i| matches!(i, Install::Manifest { .. }));
    if fetches {
        out.push("curl");
    }
    if !recipe.downloads.is_empty() {
        out.push("tar");
    }
    if recipe
        .install
        .iter()
        .any(|i| matches!(i, Install::Helm { .. }))
    {
        out.push("helm or the cilium CLI");
    }
    out
}

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

/// Refuses a kind older than the pinned minor (its node image is newer
/// than that kind knows); a newer kind runs, with a warning.
pub fn check_kind_version(output: &str) -> Result<Option<String>, String> {
    let pinned = pinned();
    match parse_kind_version(output) {
        Some((major, minor, _)) if (major, minor) == pinned => Ok(None),
        Some((major, minor, patch)) if (major, minor) > pinned => Ok(Some(format!(
            "kind v{major}.{minor}.{patch} is newer than the pinned {KIND}: the node image is {KIND}'s, which newer kind supports on a best-effort basis"
        ))),
        Some((major, minor, patch)) => Err(format!(
            "kind v{major}.{minor}.{patch} is older than the pinned {KIND}, whose node image it may not run \
             (kindnet enforces NetworkPolicy only since v0.24; `scripts/install-kind` installs {KIND})"
        )),
        None => Err(format!(
            "cannot read the version of kind from `{}`",
            output.trim()
        )),
    }
}

/// What the host kernel lacks for a recipe: refusals, and warnings for
/// modules that are not loaded but can be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostReport {
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

/// The recipe's kernel features, checked where the nodes' kernel is this
/// one's (Linux); elsewhere (Docker Desktop) the nodes run in a VM.
pub fn host_problems(recipe: &Recipe) -> HostReport {
    if !cfg!(target_os = "linux") {
        return HostReport::default();
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    check_host(
        recipe,
        release.trim(),
        |path| Path::new(path).exists(),
        |path| std::fs::read_to_string(path).ok(),
    )
}

/// Whether `module` is built into kernel `release` or loadable from its
/// module tree: the kernel's own lists, as `modinfo` reads them.
fn module_available(module: &str, release: &str, read: &dyn Fn(&str) -> Option<String>) -> bool {
    let names = [module.to_owned(), module.replace('_', "-")];
    ["modules.builtin", "modules.dep"].iter().any(|list| {
        read(&format!("/lib/modules/{release}/{list}")).is_some_and(|text| {
            text.lines().any(|line| {
                let path = line.split(':').next().unwrap_or_default();
                let file = path.rsplit('/').next().unwrap_or_default();
                let stem = file.split(".ko").next().unwrap_or_default();
                names.iter().any(|n| n == stem)
            })
        })
    })
}

/// `host_problems` with the filesystem given, for tests.
pub fn check_host(
    recipe: &Recipe,
    release: &str,
    exists: impl Fn(&str) -> bool,
    read: impl Fn(&str) -> Option<String>,
) -> HostReport {
    let mut report = HostReport::default();
    for check in &recipe.host_checks {
        if exists(check.path) {
            continue;
        }
        if module_available(check.module, release, &read) {
            report.warnings.push(format!(
                "{} is not loaded ({} is absent); this kernel has the module, which is loaded on first use, or now with `sudo modprobe {}`",
                check.module, check.path, check.module
            ));
        } else {
            report.problems.push(check.fix.to_owned());
        }
    }
    report
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
    fn a_module_that_is_not_loaded_but_loadable_warns_and_a_missing_one_refuses() {
        let recipe = Cni::Kindnet.recipe();
        let release = "6.8.0-1021-azure";
        let dep =
            "kernel/net/netfilter/nfnetlink_queue.ko.zst: kernel/net/netfilter/nfnetlink.ko.zst\n";
        let read = |path: &str| {
            (path == "/lib/modules/6.8.0-1021-azure/modules.dep").then(|| dep.to_owned())
        };
        // Loaded: nothing to say.
        assert_eq!(
            check_host(&recipe, release, |_| true, read),
            HostReport::default()
        );
        // Autoloaded on first use: a warning, not a refusal.
        let report = check_host(&recipe, release, |_| false, read);
        assert!(report.problems.is_empty(), "{report:?}");
        assert!(
            report.warnings[0].contains("sudo modprobe nfnetlink_queue"),
            "{report:?}"
        );
        // Built in counts too.
        let builtin = |path: &str| {
            path.ends_with("modules.builtin")
                .then(|| "kernel/net/netfilter/nfnetlink_queue.ko\n".to_owned())
        };
        assert!(
            check_host(&recipe, release, |_| false, builtin)
                .problems
                .is_empty()
        );
        // Nowhere: refused with the fix.
        let report = check_host(&recipe, release, |_| false, |_| None);
        assert_eq!(report.problems.len(), 1);
        assert!(report.problems[0].contains("NFQUEUE"), "{report:?}");
        // Antrea's openvswitch the same way.
        let report = check_host(&Cni::Antrea.recipe(), release, |_| false, |_| None);
        assert!(report.problems[0].contains("openvswitch"), "{report:?}");
    }

    #[test]
    fn a_kind_older_than_the_pinned_minor_is_refused_and_a_newer_one_warned_about() {
        assert_eq!(
            check_kind_version(&format!("kind {KIND} go1.25.1 linux/amd64")),
            Ok(None)
        );
        for old in [
            "kind v0.24.0 go1.22.6 linux/amd64",
            "kind v0.23.0 go1.22.3 linux/amd64",
        ] {
            let error = check_kind_version(old).unwrap_err();
            assert!(error.contains("older than the pinned"), "{error}");
        }
        let warning = check_kind_version("kind v9.0.0 go1.30 linux/amd64")
            .unwrap()
            .expect("a warning");
        assert!(warning.contains("newer than the pinned"), "{warning}");
    }
}
