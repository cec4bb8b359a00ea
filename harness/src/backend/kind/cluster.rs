//! The kind cluster's life: create, load images, install the CNI, delete.
//! Every external command goes through `command::run` (timeout, output kept,
//! a pasteable command line on failure).

use std::path::Path;
use std::time::Duration;

use kube::Client;

use super::bundled;
use super::plan::KindPlan;
use super::tools::{ChartTool, Engine, Tools};
use crate::backend::kube::apply;
use crate::cni::{Download, Install};
use crate::command::{self, Output};
use crate::timeouts::Timeouts;

/// Runs `argv` with optional `env NAME=VALUE` in front, mapping failure to text.
async fn run(env: &[(&str, String)], argv: &[String], timeout: Duration) -> Result<Output, String> {
    let mut full: Vec<String> = Vec::new();
    if !env.is_empty() {
        full.push("env".into());
        full.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
    }
    full.extend(argv.iter().cloned());
    let args: Vec<&str> = full[1..].iter().map(String::as_str).collect();
    command::run(&full[0], &args, None, timeout)
        .await
        .map_err(|e| crate::error::chain(&e))
}

fn s(path: &Path) -> String {
    path.display().to_string()
}

pub struct Cluster<'a> {
    pub plan: &'a KindPlan,
    pub tools: &'a Tools,
}

impl Cluster<'_> {
    /// kind talks to podman only when told to.
    fn kind_env(&self) -> Vec<(&'static str, String)> {
        match self.tools.engine {
            Engine::Podman(_) => vec![("KIND_EXPERIMENTAL_PROVIDER", "podman".into())],
            Engine::Docker(_) => Vec::new(),
        }
    }

    fn kind(&self, args: &[&str]) -> Vec<String> {
        std::iter::once(s(&self.tools.kind))
            .chain(args.iter().map(|a| (*a).to_owned()))
            .collect()
    }

    pub async fn exists(&self) -> Result<bool, String> {
        let out = run(
            &self.kind_env(),
            &self.kind(&["get", "clusters"]),
            Timeouts::KIND_COMMAND,
        )
        .await?;
        Ok(out.stdout.lines().any(|l| l.trim() == self.plan.cluster))
    }

    pub async fn version(&self) -> Result<String, String> {
        Ok(run(&[], &self.kind(&["version"]), Timeouts::KIND_COMMAND)
            .await?
            .stdout)
    }

    /// Fetches and verifies the recipe's downloads, then extracts the member.
    pub async fn download(&self, download: &Download) -> Result<(), String> {
        let work = &self.plan.work_dir;
        let archive = work.join("download.tgz");
        let curl = self
            .tools
            .curl
            .as_deref()
            .map(s)
            .unwrap_or_else(|| "curl".into());
        run(
            &[],
            &[
                curl,
                "-fsSL".into(),
                "--retry".into(),
                "3".into(),
                "-o".into(),
                s(&archive),
                download.url.clone(),
            ],
            Timeouts::KIND_COMMAND,
        )
        .await?;
        let bytes = std::fs::read(&archive)
            .map_err(|e| format!("cannot read {}: {e}", archive.display()))?;
        let digest = sha256_hex(&bytes);
        if digest != download.sha256 {
            return Err(format!(
                "{} has sha256 {digest}, not the pinned {}: refusing to use it",
                download.url, download.sha256
            ));
        }
        let into = work.join(download.into);
        let dir = into.parent().unwrap_or(work);
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let tar = self
            .tools
            .tar
            .as_deref()
            .map(s)
            .unwrap_or_else(|| "tar".into());
        run(
            &[],
            &[
                tar,
                "-xzf".into(),
                s(&archive),
                "-C".into(),
                s(dir),
                download.member.into(),
            ],
            Timeouts::KIND_COMMAND,
        )
        .await?;
        Ok(())
    }

    pub async fn create(&self) -> Result<(), String> {
        let config = self.plan.config_path();
        std::fs::write(&config, self.plan.kind_config())
            .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        let argv = self.kind(&[
            "create",
            "cluster",
            "--name",
            &self.plan.cluster,
            "--config",
            &s(&config),
        ]);
        run(&self.kind_env(), &argv, Timeouts::KIND_CREATE)
            .await
            .map(drop)
    }

    /// Writes the cluster's kubeconfig into the work folder and returns it.
    pub async fn kubeconfig(&self) -> Result<String, String> {
        let argv = self.kind(&["get", "kubeconfig", "--name", &self.plan.cluster]);
        let text = run(&self.kind_env(), &argv, Timeouts::KIND_COMMAND)
            .await?
            .stdout;
        let path = self.plan.kubeconfig_path();
        std::fs::write(&path, &text)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(text)
    }

    /// Builds each image from the workspace root and loads it into the nodes.
    pub async fn build_and_load(&self, workspace: &Path) -> Result<(), String> {
        let engine = s(self.tools.engine.path());
        for image in &self.plan.images {
            let dockerfile = s(&workspace.join(image.dockerfile));
            run(
                &[],
                &[
                    engine.clone(),
                    "build".into(),
                    "-f".into(),
                    dockerfile,
                    "-t".into(),
                    image.tag.into(),
                    s(workspace),
                ],
                Timeouts::IMAGE_BUILD,
            )
            .await?;
            match self.tools.engine {
                Engine::Docker(_) => {
                    let argv = self.kind(&[
                        "load",
                        "docker-image",
                        image.tag,
                        "--name",
                        &self.plan.cluster,
                    ]);
                    run(&[], &argv, Timeouts::KIND_COMMAND).await?;
                }
                // `kind load docker-image` asks docker; podman saves an archive instead.
                Engine::Podman(_) => {
                    let archive = s(&self.plan.work_dir.join("image.tar"));
                    run(
                        &[],
                        &[
                            engine.clone(),
                            "save".into(),
                            "-o".into(),
                            archive.clone(),
                            image.tag.into(),
                        ],
                        Timeouts::KIND_COMMAND,
                    )
                    .await?;
                    let argv = self.kind(&[
                        "load",
                        "image-archive",
                        &archive,
                        "--name",
                        &self.plan.cluster,
                    ]);
                    run(&self.kind_env(), &argv, Timeouts::KIND_COMMAND).await?;
                }
            }
        }
        Ok(())
    }

    /// Runs the recipe's install steps in order.
    pub async fn install(&self, client: &Client) -> Result<(), String> {
        for step in &self.plan.recipe.install {
            match step {
                Install::Manifest { url, rewrites } => {
                    let curl = self
                        .tools
                        .curl
                        .as_deref()
                        .map(s)
                        .unwrap_or_else(|| "curl".into());
                    let text = run(
                        &[],
                        &[
                            curl,
                            "-fsSL".into(),
                            "--retry".into(),
                            "3".into(),
                            url.clone(),
                        ],
                        Timeouts::KIND_COMMAND,
                    )
                    .await?
                    .stdout;
                    let text = rewrite(&text, rewrites).map_err(|e| format!("{url}: {e}"))?;
                    self.apply_text(client, &text, url).await?;
                }
                Install::Bundled { manifests } => {
                    for path in manifests {
                        let text = bundled::manifest(path)
                            .ok_or_else(|| format!("no bundled manifest {path}"))?;
                        self.apply_text(client, &text, path).await?;
                    }
                }
                Install::Helm {
                    release,
                    chart,
                    repo,
                    version,
                    namespace,
                    values,
                } => {
                    let env = [("KUBECONFIG", s(&self.plan.kubeconfig_path()))];
                    let sets = values
                        .iter()
                        .flat_map(|(k, v)| ["--set".to_owned(), format!("{k}={v}")]);
                    let argv: Vec<String> = match &self.tools.chart {
                        Some(ChartTool::Helm(helm)) => [
                            s(helm),
                            "upgrade".into(),
                            "--install".into(),
                            (*release).into(),
                            (*chart).into(),
                            "--repo".into(),
                            (*repo).into(),
                            "--version".into(),
                            (*version).into(),
                            "--namespace".into(),
                            (*namespace).into(),
                        ]
                        .into_iter()
                        .chain(sets)
                        .collect(),
                        Some(ChartTool::CiliumCli(cilium)) => [
                            s(cilium),
                            "install".into(),
                            "--version".into(),
                            (*version).into(),
                        ]
                        .into_iter()
                        .chain(sets)
                        .collect(),
                        None => {
                            return Err("Cilium needs `helm` or the `cilium` CLI on PATH".into());
                        }
                    };
                    run(&env, &argv, Timeouts::KIND_COMMAND).await?;
                }
                Install::EachNode { argv, why } => {
                    let nodes = run(
                        &self.kind_env(),
                        &self.kind(&["get", "nodes", "--name", &self.plan.cluster]),
                        Timeouts::KIND_COMMAND,
                    )
                    .await?
                    .stdout;
                    for node in nodes.lines().map(str::trim).filter(|n| !n.is_empty()) {
                        let full: Vec<String> =
                            [s(self.tools.engine.path()), "exec".into(), node.into()]
                                .into_iter()
                                .chain(argv.iter().map(|a| (*a).to_owned()))
                                .collect();
                        run(&[], &full, Timeouts::KIND_COMMAND)
                            .await
                            .map_err(|e| format!("{e} (needed because {why})"))?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn apply_text(&self, client: &Client, text: &str, source: &str) -> Result<(), String> {
        let objects = apply::parse_manifests(text).map_err(|e| format!("{source}: {e}"))?;
        apply::apply_manifests(client, &objects, Timeouts::CNI_READY)
            .await
            .map_err(|e| format!("{source}: {}", crate::error::chain(&e)))?;
        Ok(())
    }

    pub async fn delete(&self) -> Result<(), String> {
        let argv = self.kind(&["delete", "cluster", "--name", &self.plan.cluster]);
        run(&self.kind_env(), &argv, Timeouts::KIND_COMMAND)
            .await
            .map(drop)
    }
}

/// Applies a recipe's text replacements; one that finds nothing means the
/// upstream manifest changed and the recipe must be looked at again.
pub fn rewrite(text: &str, rewrites: &[(String, String)]) -> Result<String, String> {
    let mut text = text.to_owned();
    for (from, to) in rewrites {
        if !text.contains(from.as_str()) {
            return Err(format!(
                "the manifest no longer contains `{}`: the recipe needs updating",
                from.trim()
            ));
        }
        text = text.replace(from.as_str(), to);
    }
    Ok(text)
}

/// SHA-256 as lower-case hex (ring is already linked for TLS).
pub fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_that_finds_nothing_asks_for_the_recipe_to_be_updated() {
        let rewrites = vec![("image: a\n".to_owned(), "image: a:v1\n".to_owned())];
        assert_eq!(
            rewrite("x: 1\nimage: a\n", &rewrites).unwrap(),
            "x: 1\nimage: a:v1\n"
        );
        let error = rewrite("image: b\n", &rewrites).unwrap_err();
        assert!(error.contains("needs updating"), "{error}");
    }

    #[test]
    fn sha256_is_lower_case_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
