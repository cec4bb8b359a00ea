//! The plan as `--dry-run` prints it: everything a kind run will do, in
//! the order it does it, with the objects it creates.

use std::fmt::Write as _;
use std::path::Path;

use super::plan::{KindPlan, WORKERS};
use super::tools::Tools;
use crate::backend::kube::objects;
use crate::cni::Install;
use crate::cni::versions::{KIND, KUBERNETES, NODE_IMAGE, PROBE_IMAGE};
use crate::model::{Model, Protocol};
use crate::timeouts::Timeouts;

impl KindPlan {
    /// The complete plan, as `--dry-run` prints it: `tools` as they will be
    /// run (by name when they were not looked for), Dockerfiles under `workspace`.
    pub fn render(&self, model: &Model, tools: &Tools, workspace: &Path) -> String {
        let recipe = &self.recipe;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "netpol run --backend kind --cni {} (dry run: nothing is touched)\n",
            recipe.cni
        );
        let _ = writeln!(
            out,
            "cni: {} {} (installed as {})",
            recipe.cni, recipe.version, recipe.docs
        );
        let _ = writeln!(
            out,
            "kind: {KIND}, node image {NODE_IMAGE} (Kubernetes {KUBERNETES})"
        );
        let _ = writeln!(
            out,
            "cluster: {} ({} nodes), work folder {}",
            self.cluster,
            WORKERS + 1,
            self.work_dir.display()
        );
        let _ = writeln!(
            out,
            "enforces NetworkPolicy: {}",
            if recipe.enforces_policy {
                "yes"
            } else {
                "no (a control row: isolating cases fail)"
            }
        );
        let enforce = self.timeouts().enforce.as_secs_f64();
        if let Some(flag) = self.enforce {
            let _ = writeln!(
                out,
                "enforce deadline: {}s per step (--enforce-timeout; the recipe's is {}s)",
                flag.as_secs_f64(),
                recipe.timeouts().enforce.as_secs()
            );
        } else if recipe.enforces_policy {
            let _ = writeln!(
                out,
                "enforce deadline: {enforce}s per step (probed every {}ms until the matrix is the expected one)",
                recipe.timeouts().poll.as_millis()
            );
        } else {
            let _ = writeln!(
                out,
                "enforce deadline: {enforce}s per step, not the cluster's {}s: an isolating step can only fail on a CNI that enforces nothing",
                Timeouts::CLUSTER.enforce.as_secs()
            );
        }
        let _ = writeln!(
            out,
            "early stop: a step fails once {} probing rounds in a row saw every cell connected, as with no policy, after {}s (or half the deadline, if shorter)",
            crate::run::NO_POLICY_ROUNDS,
            Timeouts::NO_POLICY_AFTER.as_secs()
        );
        let _ = writeln!(
            out,
            "tools (looked for on PATH before anything is created): {}",
            super::tools::needed(recipe).join(", ")
        );
        let protocols: Vec<&str> = self.protocols.iter().map(|p| p.name()).collect();
        let why = if !recipe.sctp {
            " (this recipe does not carry SCTP)"
        } else if !self.protocols.contains(&Protocol::Sctp) {
            " (the host kernel has no SCTP)"
        } else {
            ""
        };
        let _ = writeln!(out, "protocols probed: {}{why}", protocols.join(", "));
        if self.ip_family != crate::model::IpFamily::Ipv4 {
            let _ = writeln!(
                out,
                "ip family: {} (kind networking.ipFamily; the kind backend probes IPv4 only so far: a run is refused, this plan shows the cluster)",
                self.ip_family
            );
        }
        let _ = writeln!(
            out,
            "\nkind config ({}):\n{}",
            self.config_path().display(),
            indent(&self.kind_config())
        );
        let _ = writeln!(out, "images to build and load:");
        for image in &self.images {
            let _ = writeln!(out, "  {} from {}", image.tag, image.dockerfile);
        }
        let _ = writeln!(out, "\ninstall:");
        for install in &recipe.install {
            let _ = writeln!(out, "  {}", describe(install));
        }
        if recipe.install.is_empty() {
            let _ = writeln!(out, "  nothing: kind's default CNI");
        }
        if let Some(manifests) = recipe.install.iter().find_map(|i| match i {
            Install::Bundled { manifests } => Some(manifests),
            _ => None,
        }) {
            for path in manifests {
                let _ = writeln!(
                    out,
                    "\n{path}:\n{}",
                    indent(&super::bundled::manifest(path).unwrap_or_default())
                );
            }
        }
        let _ = writeln!(out, "\nready when:");
        for workload in &recipe.ready {
            let _ = writeln!(out, "  {workload} has every pod ready");
        }
        let _ = writeln!(out, "  every node is Ready");
        if !recipe.host_checks.is_empty() {
            let _ = writeln!(out, "\nhost checks:");
            for check in &recipe.host_checks {
                let _ = writeln!(
                    out,
                    "  {} exists, or module {} is built in or loadable (a warning), else: {}",
                    check.path, check.module, check.fix
                );
            }
        }
        let _ = writeln!(out, "\ngotchas:");
        for gotcha in &recipe.gotchas {
            let _ = writeln!(out, "  - {}\n    → {}", gotcha.what, gotcha.handled);
        }
        let _ = writeln!(
            out,
            "\nobjects (server-side apply, field manager netpol, labels {}):",
            self.names.selector()
        );
        let _ = writeln!(out, "  probe pods meet {}", objects::POD_SECURITY);
        let _ = write!(out, "{}", objects_summary(self, model));
        let _ = writeln!(out, "\nsteps:");
        for line in self.numbered_steps(tools, workspace) {
            let _ = writeln!(out, "  {line}");
        }
        out
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("    {l}\n")
            }
        })
        .collect()
}

fn describe(install: &Install) -> String {
    match install {
        Install::Manifest { url, rewrites } if rewrites.is_empty() => format!("manifest {url}"),
        Install::Manifest { url, rewrites } => {
            format!("manifest {url} ({} rewrite(s), see steps)", rewrites.len())
        }
        Install::Helm {
            chart,
            repo,
            version,
            ..
        } => format!("helm chart {chart} {version} from {repo} (or the cilium CLI)"),
        Install::Bundled { manifests } => format!("bundled {}", manifests.join(", ")),
    }
}

/// The world's objects, one line each, and one pod and Service in full.
fn objects_summary(plan: &KindPlan, model: &Model) -> String {
    let (namespaces, pods, services) =
        objects::world_objects(&plan.names, model, PROBE_IMAGE, "Never", &plan.protocols);
    let mut out = String::new();
    let labels = |l: &Option<std::collections::BTreeMap<String, String>>| {
        l.iter()
            .flatten()
            .filter(|(k, _)| !k.starts_with("netpol/") && !k.starts_with("app.kubernetes.io/"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    for ns in &namespaces {
        let _ = writeln!(
            out,
            "  namespace {} [{}]",
            ns.metadata.name.as_deref().unwrap_or(""),
            labels(&ns.metadata.labels)
        );
    }
    for pod in &pods {
        let meta = &pod.metadata;
        let _ = writeln!(
            out,
            "  pod {}/{} [{}]",
            meta.namespace.as_deref().unwrap_or(""),
            meta.name.as_deref().unwrap_or(""),
            labels(&meta.labels)
        );
    }
    for service in &services {
        let meta = &service.metadata;
        let ports: Vec<String> = service
            .spec
            .iter()
            .flat_map(|s| s.ports.iter().flatten())
            .map(|p| {
                format!(
                    "{}/{}",
                    p.protocol.as_deref().unwrap_or("").to_lowercase(),
                    p.port
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "  service {}/{} [{}]",
            meta.namespace.as_deref().unwrap_or(""),
            meta.name.as_deref().unwrap_or(""),
            ports.join(" ")
        );
    }
    if let (Some(pod), Some(service)) = (pods.first(), services.first()) {
        let yaml = |v: &dyn erased::Yaml| v.yaml();
        let _ = writeln!(
            out,
            "\n  the first pod in full:\n{}",
            indent(&indent_once(&yaml(pod)))
        );
        let _ = writeln!(
            out,
            "  the first Service in full:\n{}",
            indent(&indent_once(&yaml(service)))
        );
    }
    out
}

fn indent_once(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}\n"))
        .collect::<String>()
        .trim_end()
        .to_owned()
        + "\n"
}

mod erased {
    /// Objects printed as YAML (through JSON, so field order is the API's).
    pub trait Yaml {
        fn yaml(&self) -> String;
    }
    impl<T: serde::Serialize> Yaml for T {
        fn yaml(&self) -> String {
            serde_json::to_value(self)
                .ok()
                .and_then(|v| serde_saphyr::to_string(&v).ok())
                .unwrap_or_default()
        }
    }
}
