//! The `netpol` command line: every flag and subcommand, in one place.

mod bench;
mod cluster;
mod engines;
mod generate;
mod reports;
mod run;
mod userns;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::case::{self, Case};
use crate::error::RunError;
use crate::exit;
use crate::model::{Model, PodId, Probe, World};
use crate::oracle::Oracle;

#[derive(Debug, Parser)]
#[command(
    name = "netpol",
    version,
    about = "Kubernetes NetworkPolicy conformance suite"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run cases on a backend and judge every cell.
    Run(RunArgs),
    /// Say which policies and rules decide one cell, by the oracle.
    Explain(ExplainArgs),
    /// Work with the case library.
    #[command(subcommand)]
    Cases(CasesCommand),
    /// Measure the suite's speed (matrix, suite, oracle, enforcer, time to enforce).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Compare results files side by side: cases, support matrix, time to enforce.
    Compare(reports::CompareArgs),
    /// Turn results files into an HTML page and/or JUnit XML.
    Report(reports::ReportArgs),
    /// Write random valid cases (`expect: oracle`), reproducible from a seed.
    Generate(generate::GenerateArgs),
    /// Build and list the engines of the control-plane tier (etcd, kube-apiserver)
    /// and the policy engines judged on it (kube-router, calico-felix,
    /// kube-network-policies).
    #[command(subcommand)]
    Engines(engines::EnginesCommand),
    /// Remove the namespaces, processes and folders that killed netns runs left.
    Cleanup {
        /// Also remove runs whose owner is still alive.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BackendName {
    /// Pods and nodes as Linux network namespaces, real packets (needs root).
    Netns,
    /// The semantics computed in memory.
    Oracle,
    /// A kind cluster made for the run, with the CNI of `--cni` (needs kind and docker or podman).
    Kind,
    /// An existing cluster, from `--kubeconfig`/$KUBECONFIG and `--context`.
    Kubeconfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CniName {
    /// The bundled nftables enforcer (netns default; on kind also the CNI).
    Reference,
    /// No enforcement (netns only): shows that probes see blocking.
    None,
    /// kind: Calico (manifest install).
    Calico,
    /// kind: Cilium (Helm chart).
    Cilium,
    /// kind: Flannel (no NetworkPolicy support: a control row).
    Flannel,
    /// kind: Antrea.
    Antrea,
    /// kind: kube-router. netns: kube-router's policy controller (its
    /// iptables backend) on every node, watching the run's API server.
    KubeRouter,
    /// netns: kube-router's nftables backend (`--use-nftables-for-netpol`,
    /// v2.11+): refused with the reason it cannot be built here.
    KubeRouterNft,
    /// netns: Calico's Felix (Kubernetes datastore, iptables-nft) on every
    /// node, watching the run's API server (on kind: `calico`).
    CalicoFelix,
    /// netns: kube-network-policies (kindnet's engine) on every node; needs
    /// the nftables `queue` expression (on kind: `kindnet`).
    KubeNetworkPolicies,
    /// kind: kindnet, kind's default (kube-network-policies; kind default).
    Kindnet,
    /// Archived upstream: refused with the reason.
    #[value(hide = true)]
    Weave,
}

#[derive(Debug, clap::Args)]
pub struct CaseSelection {
    /// Case files or folders (searched recursively).
    #[arg(long = "cases", value_name = "PATH", num_args = 1.., default_value = "cases")]
    pub cases: Vec<PathBuf>,
    /// Only cases whose name contains this text.
    #[arg(long, value_name = "SUBSTR")]
    pub filter: Option<String>,
    /// Only cases with this tag (repeat for any of several).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[arg(long, value_enum, default_value = "netns")]
    pub backend: BackendName,
    /// What enforces policies: netns reference (default) or none; kind
    /// calico, cilium, flannel, antrea, kube-router, kindnet (default) or
    /// reference; kubeconfig: only names the cluster's CNI in the results.
    #[arg(long, value_enum)]
    pub cni: Option<CniName>,
    #[command(flatten)]
    pub selection: CaseSelection,
    #[command(flatten)]
    pub cluster: cluster::ClusterArgs,
    /// Write the results JSON (results-format.md) here.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write JUnit XML here: one test case per case step.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Cases (and cells) known to fail here become `expected-failure`; a listed
    /// one that passes fails the run (results/known-deviations/<backend>-<cni>.yaml).
    #[arg(long, value_name = "FILE")]
    pub known_deviations: Option<PathBuf>,
    /// Print only failed cases, one line each, and the summary line.
    #[arg(long, short, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also print every case as it finishes, and every differing cell.
    #[arg(long, short)]
    pub verbose: bool,
    /// Judge every step against the oracle's matrix instead of the case's
    /// expectation (needed for `expect: oracle`); a divergence is shrunk to
    /// a minimal case file and printed.
    #[arg(long)]
    pub differential: bool,
    /// With `--differential`: report each divergence without shrinking it
    /// (a shrink re-runs the case some twenty times, minutes on an engine
    /// that diverges often).
    #[arg(long, requires = "differential")]
    pub no_shrink: bool,
    /// netns: also run etcd and kube-apiserver (`netpol engines build`) on
    /// the fabric, keep the world as API objects there, change it through the
    /// API (which judges every policy first), and run the reference enforcer
    /// in controller mode, watching that API server.
    #[arg(long)]
    pub control_plane: bool,
    /// How long each step's changes may take to be enforced before it fails
    /// (`30`, `2.5s`, `500ms`; default: the backend's, netns 10 s, a cluster
    /// 60 s, a kind CNI that enforces nothing 5 s).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub enforce_timeout: Option<std::time::Duration>,
    /// The address families probed: every cell once per family. A case
    /// naming an address of a family not probed is not run.
    #[arg(long, value_enum, default_value = "ipv4")]
    pub ip_family: IpFamilyName,
}

/// A duration in seconds (`30`, `2.5`, `2.5s`) or milliseconds (`500ms`).
fn parse_seconds(text: &str) -> Result<std::time::Duration, String> {
    let (number, scale) = match text.strip_suffix("ms") {
        Some(ms) => (ms, 1e-3),
        None => (text.strip_suffix('s').unwrap_or(text), 1.0),
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|n| std::time::Duration::try_from_secs_f64(n * scale).ok())
        .ok_or_else(|| {
            format!("`{text}` is not a duration: seconds (`30`, `2.5s`) or milliseconds (`500ms`)")
        })
}

/// `--ip-family`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IpFamilyName {
    Ipv4,
    Ipv6,
    Dual,
}

impl From<IpFamilyName> for crate::model::IpFamily {
    fn from(name: IpFamilyName) -> crate::model::IpFamily {
        match name {
            IpFamilyName::Ipv4 => crate::model::IpFamily::Ipv4,
            IpFamilyName::Ipv6 => crate::model::IpFamily::Ipv6,
            IpFamilyName::Dual => crate::model::IpFamily::Dual,
        }
    }
}

/// `netpol explain --family`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FamilyName {
    Ipv4,
    Ipv6,
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// A case name, or the path of a case file.
    pub case: String,
    /// Explain the world after this step (0-based; default: the last).
    #[arg(long)]
    pub step: Option<usize>,
    #[arg(long, value_name = "NS/POD")]
    pub from: String,
    #[arg(long, value_name = "NS/POD")]
    pub to: String,
    /// The probed `protocol/port`.
    #[arg(long, value_name = "PROTO/PORT", default_value = "tcp/80")]
    pub probe: String,
    /// The address family of the connection (ipBlocks match the pods'
    /// addresses of this family).
    #[arg(long, value_enum, default_value = "ipv4")]
    pub family: FamilyName,
    /// Where to look for the case by name.
    #[arg(long = "cases", value_name = "PATH", num_args = 1.., default_value = "cases")]
    pub cases: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum CasesCommand {
    /// List the cases (after validating all of them).
    List {
        #[command(flatten)]
        selection: CaseSelection,
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

/// A problem that stops a command before anything is judged (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(transparent)]
    Cases(#[from] case::Diagnostics),
    #[error("{0}")]
    Message(String),
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<UsageError> for RunError {
    fn from(error: UsageError) -> RunError {
        RunError::Input(Box::new(error))
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Explain(args) => explain(args).map_err(RunError::from),
        Command::Cases(CasesCommand::List { selection, format }) => {
            list(selection, format).map_err(RunError::from)
        }
        Command::Cleanup { all } => cleanup(all),
        Command::Generate(args) => generate::generate(args).map_err(RunError::from),
        Command::Bench(command) => bench::bench(command).map_err(RunError::from),
        Command::Compare(args) => reports::compare(args).map_err(RunError::from),
        Command::Report(args) => reports::report(args).map_err(RunError::from),
        Command::Engines(command) => engines::engines(command).map_err(RunError::from),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("{}", crate::error::chain(&error));
            ExitCode::from(exit::of_error(&error))
        }
    }
}

/// Loads and validates every case, then splits off those the selection excludes.
fn select(selection: &CaseSelection, model: &Model) -> Result<(Vec<Case>, Vec<Case>), UsageError> {
    let cases = case::load_paths(&selection.cases, model)?;
    Ok(cases.into_iter().partition(|case| {
        selection
            .filter
            .as_ref()
            .is_none_or(|f| case.name.contains(f.as_str()))
            && (selection.tags.is_empty() || case.tags.iter().any(|t| selection.tags.contains(t)))
    }))
}

fn cleanup(all: bool) -> Result<u8, RunError> {
    let report = crate::backend::netns::cleanup::clean(all);
    println!(
        "netpol cleanup: {} namespaces, {} processes, {} folders removed",
        report.namespaces.len(),
        report.processes.len(),
        report.folders.len()
    );
    if report.problems.is_empty() {
        Ok(exit::PASSED)
    } else {
        Err(RunError::Cleanup(report.problems.join("\n").into()))
    }
}

fn list(selection: CaseSelection, format: ListFormat) -> Result<u8, UsageError> {
    let model = Model::default();
    let (cases, _) = select(&selection, &model)?;
    match format {
        ListFormat::Text => {
            for case in &cases {
                println!(
                    "{}\t{}\t{}",
                    case.name,
                    case.file.display(),
                    case.tags.join(",")
                );
            }
        }
        ListFormat::Json => {
            let rows: Vec<serde_json::Value> = cases
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "name": c.name,
                        "file": c.file.display().to_string(),
                        "description": c.description,
                        "tags": c.tags,
                        "probes": c.probes,
                        "steps": c.steps.len(),
                    })
                })
                .collect();
            println!("{}", serde_json::Value::Array(rows));
        }
    }
    Ok(exit::PASSED)
}

fn explain(args: ExplainArgs) -> Result<u8, UsageError> {
    let model = Model::default();
    let path = PathBuf::from(&args.case);
    let case = if path.is_file() {
        case::load_file(&path, &model)?
    } else {
        case::load_paths(&args.cases, &model)?
            .into_iter()
            .find(|c| c.name == args.case)
            .ok_or_else(|| {
                UsageError::Message(format!(
                    "no case named `{}` under {}",
                    args.case,
                    paths(&args.cases)
                ))
            })?
    };
    let last = case.steps.len().saturating_sub(1);
    let step = args.step.unwrap_or(last);
    if step > last {
        return Err(UsageError::Message(format!(
            "case `{}` has steps 0 to {last}, not {step}",
            case.name
        )));
    }
    let pod = |text: &str| {
        text.split_once('/')
            .map(|(ns, name)| PodId::new(ns, name))
            .and_then(|id| model.pod(&id).cloned())
            .ok_or_else(|| {
                UsageError::Message(format!(
                    "unknown pod `{text}` (pods are {})",
                    model.pod_range()
                ))
            })
    };
    let (from, to) = (pod(&args.from)?, pod(&args.to)?);
    let family = match args.family {
        FamilyName::Ipv4 => crate::model::Family::V4,
        FamilyName::Ipv6 => crate::model::Family::V6,
    };
    let probe = args
        .probe
        .parse::<Probe>()
        .map_err(UsageError::Message)?
        .in_family(family);
    let addresses = crate::backend::oracle::addresses(&model);
    let mut world = World::new(model.clone(), addresses.clone());
    for action in case.steps[..=step].iter().flat_map(|s| &s.actions) {
        let change = action
            .resolve(&model, &addresses)
            .map_err(UsageError::Message)?;
        world.apply(&change).map_err(UsageError::Message)?;
    }
    let oracle = Oracle::new(&world).map_err(|e| UsageError::Message(e.to_string()))?;
    // Find the live pods again: label steps may have changed them.
    let live = |id: &PodId| {
        world
            .model
            .pod(id)
            .cloned()
            .expect("model pods survive every step")
    };
    println!("case {} after step {step}", case.name);
    println!("{}", oracle.explain(&live(&from.id), &live(&to.id), probe));
    Ok(exit::PASSED)
}

fn paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
