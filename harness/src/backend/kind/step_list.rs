//! The steps of a kind run, in order, built from the plan and the tools
//! found: `setup_steps`, `run_steps`, `teardown_steps`.

use std::path::PathBuf;
use std::time::Duration;

use super::plan::{Image, KindPlan};
use super::steps::{Action, Cmd, Step, When, s, step};
use super::tools::{ChartTool, Engine, Tools};
use crate::cni::{Install, Workload};
use crate::timeouts::Timeouts;

/// Builds the argv of every command from the tools found (or, for a dry
/// run, their names).
struct Commands<'a> {
    plan: &'a KindPlan,
    tools: &'a Tools,
}

impl Commands<'_> {
    fn kind(&self, args: &[&str], timeout: Duration) -> Cmd {
        let mut cmd = Cmd::new(
            std::iter::once(s(&self.tools.kind))
                .chain(args.iter().map(|a| (*a).to_owned()))
                .collect(),
            timeout,
        );
        // kind talks to podman only when told to.
        if let Engine::Podman(_) = self.tools.engine {
            cmd.env
                .push(("KIND_EXPERIMENTAL_PROVIDER", "podman".into()));
        }
        cmd
    }

    fn engine(&self, args: Vec<String>, timeout: Duration) -> Cmd {
        Cmd::new(
            std::iter::once(s(self.tools.engine.path()))
                .chain(args)
                .collect(),
            timeout,
        )
    }

    fn curl(&self, args: Vec<String>) -> Cmd {
        let curl = self
            .tools
            .curl
            .as_deref()
            .map_or_else(|| "curl".to_owned(), s);
        let mut argv = vec![curl, "-fsSL".into(), "--retry".into(), "3".into()];
        argv.extend(args);
        Cmd::new(argv, Timeouts::KIND_COMMAND)
    }

    /// The archive one image is saved to before `kind load image-archive`.
    fn archive(&self, image: &Image) -> PathBuf {
        let name = image.tag.rsplit('/').next().unwrap_or(image.tag);
        self.plan
            .work_dir
            .join(format!("{}.tar", name.replace(':', "_")))
    }

    /// Build, save, load: `kind load docker-image` fails under Docker's
    /// containerd image store (kind#3795: "content digest … not found"); a
    /// single-platform archive loads either way (the workaround kind's
    /// known-issues page documents, kubernetes-sigs/kind#4247).
    fn image(&self, image: &Image, workspace: &std::path::Path) -> Vec<Step> {
        let archive = s(&self.archive(image));
        let build = self.engine(
            vec![
                "build".into(),
                "-f".into(),
                s(&workspace.join(image.dockerfile)),
                "-t".into(),
                image.tag.into(),
                s(workspace),
            ],
            Timeouts::IMAGE_BUILD,
        );
        let save = match self.tools.engine {
            Engine::Docker(_) => self.engine(
                vec![
                    "image".into(),
                    "save".into(),
                    "--platform".into(),
                    format!("linux/{}", self.plan.arch),
                    "-o".into(),
                    archive.clone(),
                    image.tag.into(),
                ],
                Timeouts::KIND_COMMAND,
            ),
            Engine::Podman(_) => self.engine(
                vec![
                    "save".into(),
                    "-o".into(),
                    archive.clone(),
                    image.tag.into(),
                ],
                Timeouts::KIND_COMMAND,
            ),
        };
        let load = self.kind(
            &[
                "load",
                "image-archive",
                &archive,
                "--name",
                &self.plan.cluster,
            ],
            Timeouts::KIND_COMMAND,
        );
        vec![
            step(
                format!("building {}", image.tag),
                When::Always,
                Action::Run(vec![build]),
            ),
            step(
                format!("loading {} into the nodes", image.tag),
                When::Always,
                Action::Run(vec![save, load]),
            ),
        ]
    }

    fn helm(&self, install: &Install, chart: &ChartTool) -> Cmd {
        let Install::Helm {
            release,
            chart: name,
            repo,
            version,
            namespace,
            values,
        } = install
        else {
            unreachable!("called for Helm installs only")
        };
        let sets = values
            .iter()
            .flat_map(|(k, v)| ["--set".to_owned(), format!("{k}={v}")]);
        let argv: Vec<String> = match chart {
            ChartTool::Helm(helm) => [
                s(helm),
                "upgrade".into(),
                "--install".into(),
                (*release).into(),
                (*name).into(),
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
            ChartTool::CiliumCli(cilium) => [
                s(cilium),
                "install".into(),
                "--version".into(),
                (*version).into(),
            ]
            .into_iter()
            .chain(sets)
            .collect(),
        };
        let mut cmd = Cmd::new(argv, Timeouts::KIND_COMMAND);
        cmd.env
            .push(("KUBECONFIG", s(&self.plan.kubeconfig_path())));
        cmd
    }

    fn install(&self, install: &Install) -> Step {
        let recipe = &self.plan.recipe;
        let title = format!("installing {} {}", recipe.cni, recipe.version);
        match install {
            Install::Manifest { url, rewrites } => step(
                title,
                When::NewCluster,
                Action::ApplyManifest {
                    fetch: self.curl(vec![url.clone()]),
                    url: url.clone(),
                    rewrites: rewrites.clone(),
                },
            ),
            Install::Bundled { manifests } => step(
                title,
                When::Always,
                Action::ApplyBundled {
                    manifests: manifests.clone(),
                },
            ),
            Install::Helm { .. } => {
                let chart = self
                    .tools
                    .chart
                    .clone()
                    .unwrap_or_else(|| ChartTool::Helm("helm".into()));
                let mut found = step(
                    title,
                    When::NewCluster,
                    Action::Run(vec![self.helm(install, &chart)]),
                );
                if let ChartTool::Helm(_) = chart {
                    let other = self.helm(install, &ChartTool::CiliumCli("cilium".into()));
                    found.note = Some(format!("without helm: {}", other.line()));
                }
                found
            }
        }
    }
}

impl KindPlan {
    /// Everything `setup` does, in order, ending with the model world.
    pub fn setup_steps(&self, tools: &Tools, workspace: &std::path::Path) -> Vec<Step> {
        let c = Commands { plan: self, tools };
        let cluster = self.cluster.as_str();
        let mut steps = vec![
            step(
                "checking kind",
                When::Always,
                Action::CheckKind(c.kind(&["version"], Timeouts::KIND_COMMAND)),
            ),
            step(
                "looking for an existing cluster",
                When::Always,
                Action::FindCluster(c.kind(&["get", "clusters"], Timeouts::KIND_COMMAND)),
            ),
        ];
        let tar = tools.tar.as_deref().map_or_else(|| "tar".to_owned(), s);
        for download in &self.recipe.downloads {
            let file = self.work_dir.join("download.tgz");
            let into = self.work_dir.join(download.into);
            let dir = into
                .parent()
                .map_or_else(|| self.work_dir.clone(), PathBuf::from);
            steps.push(step(
                format!("downloading {}", download.url),
                When::NewCluster,
                Action::Download {
                    fetch: c.curl(vec!["-o".into(), s(&file), download.url.clone()]),
                    file: file.clone(),
                    sha256: download.sha256,
                    unpack: Cmd::new(
                        vec![
                            tar.clone(),
                            "-xzf".into(),
                            s(&file),
                            "-C".into(),
                            s(&dir),
                            download.member.into(),
                        ],
                        Timeouts::KIND_COMMAND,
                    ),
                },
            ));
        }
        steps.push(step(
            format!("creating kind cluster {cluster} ({})", self.recipe.cni),
            When::NewCluster,
            Action::CreateCluster {
                config: self.config_path(),
                create: c.kind(
                    &[
                        "create",
                        "cluster",
                        "--name",
                        cluster,
                        "--config",
                        &s(&self.config_path()),
                    ],
                    Timeouts::KIND_CREATE,
                ),
            },
        ));
        steps.push(step(
            "reading the kubeconfig",
            When::Always,
            Action::Kubeconfig {
                get: c.kind(
                    &["get", "kubeconfig", "--name", cluster],
                    Timeouts::KIND_COMMAND,
                ),
                path: self.kubeconfig_path(),
            },
        ));
        for image in &self.images {
            steps.extend(c.image(image, workspace));
        }
        for install in &self.recipe.install {
            steps.push(c.install(install));
        }
        for workload in &self.recipe.restart_on_reuse {
            if let Workload::DaemonSet { namespace, name } = workload {
                steps.push(step(
                    format!("restarting {workload}"),
                    When::ReusedCluster,
                    Action::RestartDaemonSet { namespace, name },
                ));
            }
        }
        for workload in &self.recipe.ready {
            steps.push(step(
                format!("waiting for {workload}"),
                When::Always,
                Action::AwaitWorkload(workload.clone()),
            ));
        }
        steps.push(step(
            "waiting for every node",
            When::Always,
            Action::AwaitNodes,
        ));
        steps.push(step(
            "creating the model world",
            When::Always,
            Action::CreateWorld,
        ));
        steps
    }

    /// What the runner does between setup and teardown.
    pub fn run_steps(&self) -> Vec<Step> {
        vec![step(
            "running the cases",
            When::Always,
            Action::RunCases(self.via),
        )]
    }

    /// Everything `teardown` does: a cluster made for the run is deleted
    /// (unless kept); a kept or reused one only loses this run's namespaces.
    pub fn teardown_steps(&self, tools: &Tools) -> Vec<Step> {
        let c = Commands { plan: self, tools };
        let delete = c.kind(
            &["delete", "cluster", "--name", &self.cluster],
            Timeouts::KIND_COMMAND,
        );
        if self.delete_after {
            vec![
                step(
                    "deleting this run's namespaces",
                    When::ReusedCluster,
                    Action::CleanNamespaces,
                ),
                step(
                    format!("deleting kind cluster {}", self.cluster),
                    When::NewCluster,
                    Action::DeleteCluster(delete),
                ),
                step("keeping the cluster", When::ReusedCluster, Action::Keep),
            ]
        } else {
            vec![
                step(
                    "deleting this run's namespaces",
                    When::Always,
                    Action::CleanNamespaces,
                ),
                step("keeping the cluster", When::Always, Action::Keep),
            ]
        }
    }

    /// Every step's plan lines, numbered, as `--dry-run` prints them.
    pub fn numbered_steps(&self, tools: &Tools, workspace: &std::path::Path) -> Vec<String> {
        let steps = self
            .setup_steps(tools, workspace)
            .into_iter()
            .chain(self.run_steps())
            .chain(self.teardown_steps(tools));
        let mut out = Vec::new();
        for (i, step) in steps.enumerate() {
            for (j, line) in step.plan_lines(self).into_iter().enumerate() {
                if j == 0 {
                    out.push(format!("{:>2}. {line}", i + 1));
                } else {
                    out.push(format!("    {line}"));
                }
            }
        }
        out
    }
}
