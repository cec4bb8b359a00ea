//! `netpol run`: cases on a backend, with progress, failures, the results
//! file and the summary line.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use super::{BackendName, RunArgs, UsageError, select};
use crate::backend::netns::NetnsBackend;
use crate::backend::oracle::OracleBackend;
use crate::backend::{Backend, BackendError};
use crate::case::Case;
use crate::error::{RunError, chain};
use crate::exit;
use crate::model::{IpFamily, Model};
use crate::report::console::{self, Verbosity};
use crate::report::json::{Results, RunInfo};
use crate::report::{junit, terminal};
use crate::run::Session;
use crate::verdict::deviations::{self, KnownDeviations};
use crate::verdict::{CaseResult, Summary};

pub fn run(args: RunArgs) -> Result<u8, RunError> {
    let model = Model::default();
    let (cases, excluded) = select(&args.selection, &model)?;
    if !args.differential {
        crate::differential::refuse_oracle_expectations(&cases).map_err(RunError::input)?;
    }
    if args.control_plane && !matches!(args.backend, BackendName::Netns) {
        return Err(UsageError::Message(
            "--control-plane runs on the netns backend (a cluster has its own API server)".into(),
        )
        .into());
    }
    if let BackendName::Netns = args.backend
        && let Some(code) = super::userns::reexec_in_user_namespace()
    {
        return Ok(code);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            RunError::Prerequisite(format!("cannot start the async runtime: {e}").into())
        })?;
    match (args.backend, args.cni) {
        (BackendName::Oracle, _) => runtime.block_on(run_on(
            OracleBackend::new(),
            &args,
            &cases,
            &excluded,
            &model,
        )),
        (BackendName::Kind | BackendName::Kubeconfig, _) => {
            use super::cluster::Prepared;
            match super::cluster::prepare(&args, &cases, &excluded, &model)? {
                Prepared::Plan(text) => {
                    print!("{text}");
                    Ok(exit::PASSED)
                }
                Prepared::Kind(b) => runtime.block_on(run_on(*b, &args, &cases, &excluded, &model)),
                Prepared::Kubeconfig(b) => {
                    runtime.block_on(run_on(*b, &args, &cases, &excluded, &model))
                }
            }
        }
        (BackendName::Netns, cni) => {
            let exe = std::env::current_exe().map_err(|e| {
                RunError::Prerequisite(format!("cannot find the netpol binary: {e}").into())
            })?;
            let cni = super::cluster::netns_cni(cni)?;
            let mut backend = NetnsBackend::new(cni, exe);
            // A third-party engine watches an API server: the control plane
            // starts by itself. What the engine needs of the host is checked
            // first, before the control plane's binaries are looked for.
            let engine = match cni {
                crate::backend::netns::Cni::Engine(engine) => Some(engine),
                _ => None,
            };
            if let Some(engine) = engine {
                runtime
                    .block_on(engine.host_check())
                    .map_err(|e| RunError::Prerequisite(e.into()))?;
            }
            if args.control_plane || engine.is_some() {
                let binaries = runtime
                    .block_on(crate::controlplane::Binaries::find())
                    .map_err(|e| RunError::Prerequisite(e.into()))?;
                backend = backend.with_control_plane(binaries);
            }
            runtime.block_on(run_on(backend, &args, &cases, &excluded, &model))
        }
    }
}

/// The reason of the cases a signal kept from being judged.
pub const NOT_RUN_INTERRUPTED: &str = "not run: the run was interrupted";

/// How the judging part of a run ended.
enum Ended {
    /// Every case was judged (or recorded as not run after the world broke).
    Judged,
    /// The world could not be built.
    NoWorld(BackendError),
    /// The backend's API server refused policies of the cases (bad input).
    Refused(Vec<String>),
    /// SIGINT or SIGTERM, named.
    Interrupted(&'static str),
}

/// Runs the selected cases on one backend; SIGINT and SIGTERM stop the run
/// and still remove everything the backend created. The results, JUnit and
/// the summary are written before any cleanup problem is reported.
async fn run_on<B: Backend>(
    backend: B,
    args: &RunArgs,
    cases: &[Case],
    excluded: &[Case],
    model: &Model,
) -> Result<u8, RunError> {
    run_until(backend, args, cases, excluded, model, interrupted()).await
}

/// `run_on`, stopped as by a signal when `signal` resolves (tests stop it so).
async fn run_until<B: Backend>(
    mut backend: B,
    args: &RunArgs,
    cases: &[Case],
    excluded: &[Case],
    model: &Model,
    signal: impl std::future::Future<Output = &'static str>,
) -> Result<u8, RunError> {
    // Before the world is built: bad input means nothing is judged.
    let deviations = match &args.known_deviations {
        Some(path) => Some(deviations::load(path).map_err(|e| RunError::Input(e.into()))?),
        None => None,
    };
    if let Some(known) = &deviations {
        warn_stale(known, cases, excluded);
    }
    for path in args.output.iter().chain(&args.junit) {
        writable(path)?;
    }
    let verbosity = match (args.quiet, args.verbose) {
        (true, _) => Verbosity::Quiet,
        (_, true) => Verbosity::Verbose,
        _ => Verbosity::Normal,
    };
    let started = SystemTime::now();
    let clock = Instant::now();
    let ip_family: IpFamily = args.ip_family.into();
    if ip_family.needs_ipv6() && !backend.capabilities().ipv6 {
        return Err(RunError::input(format!(
            "--ip-family {ip_family} probes IPv6, and the {} backend {} (use --ip-family ipv4)",
            backend.name(),
            match backend.cni().name.as_str() {
                "calico-felix" =>
                    "with --cni calico-felix gives its pods no IPv6 route (Felix's world has no IPv6 gateway)",
                _ => "gives pods no IPv6 address",
            }
        )));
    }
    let mut session =
        Session::new(&mut backend, model, deviations.as_ref()).with_ip_family(ip_family);
    if let Some(deadline) = args.enforce_timeout {
        session.enforce_within(deadline);
    }
    let ended = tokio::select! {
        judged = judge_all(&mut session, cases, verbosity, differential(args)) => match judged {
            Ok(()) => Ended::Judged,
            Err(Unjudged::NoWorld(error)) => Ended::NoWorld(error),
            Err(Unjudged::Refused(refusals)) => Ended::Refused(refusals),
        },
        signal = signal => Ended::Interrupted(signal),
    };
    // Whatever was judged before the end is kept, even on a signal.
    let (mut results, stopped) = session.finish();
    let interrupted = match &ended {
        Ended::Interrupted(signal) => {
            // The cases judged so far are kept; the one being judged and
            // those after it say why they have no verdict.
            let judged: BTreeSet<&str> = results.iter().map(|r| r.name.as_str()).collect();
            let left: Vec<CaseResult> = cases
                .iter()
                .filter(|c| !judged.contains(c.name.as_str()))
                .map(|c| CaseResult::skipped(c, format!("{NOT_RUN_INTERRUPTED} ({signal})")))
                .collect();
            results.extend(left);
            Some(*signal)
        }
        _ => None,
    };
    results.extend(
        excluded
            .iter()
            .map(|c| CaseResult::skipped(c, "excluded by --filter/--tag".into())),
    );
    results.sort_by(|a, b| a.name.cmp(&b.name));
    let (name, cni, cluster) = (backend.name(), backend.cni(), backend.cluster());
    let document = |cleanup: Option<String>| {
        let info = RunInfo {
            backend: name.into(),
            cni: cni.clone(),
            cluster: cluster.clone(),
            started,
            duration: clock.elapsed(),
            ip_family,
            stopped: stopped.as_ref().map(|s| chain(s)),
            cleanup,
            interrupted: interrupted.map(str::to_owned),
        };
        Results::new(info, &results)
    };
    // On a signal the partial results are on disk before teardown starts
    // (a second signal or a hung cluster may not let it finish); they are
    // written again after it, with what it left.
    if interrupted.is_some()
        && let Some(path) = &args.output
    {
        write_results(path, &document(None))?;
    }
    let teardown = backend.teardown().await;
    let left = teardown.as_ref().err().map(|e| chain(e));
    let cleanup = teardown.err().map(|e| RunError::Cleanup(Box::new(e)));
    match ended {
        Ended::NoWorld(error) => {
            cleanup_line(&cleanup);
            return Err(RunError::Prerequisite(Box::new(error)));
        }
        Ended::Refused(refusals) => {
            cleanup_line(&cleanup);
            return Err(RunError::input(format!(
                "the API server refuses {} policies of the cases, so nothing was judged:\n{}",
                refusals.len(),
                refusals.join("\n")
            )));
        }
        Ended::Judged | Ended::Interrupted(_) => {}
    }
    let document = document(left);
    if let Some(path) = &args.output {
        write_results(path, &document)?;
    }
    if let Some(path) = &args.junit {
        junit::write(path, &document).map_err(|e| RunError::Input(e.into()))?;
    }
    if verbosity != Verbosity::Quiet {
        print!("{}", console::areas(&results));
    }
    let summary = Summary::of(&results);
    println!("{summary}");
    if let Some(signal) = interrupted {
        eprintln!(
            "netpol: {signal}: the results of the cases judged before it were written; removed what the run created"
        );
        cleanup_line(&cleanup);
        return Ok(exit::INTERRUPTED);
    }
    // Only now the problems that are not verdicts, gravest last (it picks the exit code).
    let broken: Vec<&str> = results
        .iter()
        .filter(|r| r.backend_failed())
        .map(|r| r.name.as_str())
        .collect();
    let failure = match (stopped, broken.is_empty()) {
        (Some(stopped), _) => Some(RunError::Backend(Box::new(stopped))),
        (None, false) => Some(RunError::Backend(
            format!(
                "the world or the backend failed in {} cases (a step that could not run, or probes \
                 that observed nothing), whose failures say nothing about the policies: {}",
                broken.len(),
                broken.join(", ")
            )
            .into(),
        )),
        (None, true) => None,
    };
    match (failure, cleanup) {
        (Some(failure), cleanup @ Some(_)) => {
            cleanup_line(&cleanup);
            Err(failure)
        }
        (Some(failure), None) => Err(failure),
        (None, Some(cleanup)) => Err(cleanup),
        (None, None) if summary.failed > 0 => Ok(exit::FAILED),
        (None, None) => Ok(exit::PASSED),
    }
}

/// What teardown left, as a line on stderr (after everything was written).
fn cleanup_line(cleanup: &Option<RunError>) {
    if let Some(error) = cleanup {
        eprintln!("netpol: {}", chain(error));
    }
}

/// Why no case was judged.
enum Unjudged {
    NoWorld(BackendError),
    Refused(Vec<String>),
}

/// Setup, the API server's judgement of every policy (when the backend has
/// one), then every case in order, each printed as it finishes. Only the
/// world failing to be built, or a policy the API server refuses, ends it
/// early: a world that cannot be reset records the remaining cases as not run.
/// How `--differential` judges: not at all, or with or without shrinking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Differential {
    Off,
    Shrink,
    NoShrink,
}

fn differential(args: &RunArgs) -> Differential {
    match (args.differential, args.no_shrink) {
        (false, _) => Differential::Off,
        (true, false) => Differential::Shrink,
        (true, true) => Differential::NoShrink,
    }
}

async fn judge_all<B: Backend>(
    session: &mut Session<'_, B>,
    cases: &[Case],
    verbosity: Verbosity,
    differential: Differential,
) -> Result<(), Unjudged> {
    session.setup().await.map_err(Unjudged::NoWorld)?;
    let refused = session.admit(cases).await.map_err(Unjudged::NoWorld)?;
    if !refused.is_empty() {
        return Err(Unjudged::Refused(refusals_sorted(refused)));
    }
    let bar = terminal::progress(cases.len());
    for case in cases {
        bar.set_message(case.name.clone());
        let result = if differential != Differential::Off {
            let shrink = differential == Differential::Shrink;
            let judged = crate::differential::judge(session, case, shrink).await;
            if let Some(minimal) = &judged.minimal {
                let text = terminal::divergence(
                    &case.name,
                    &minimal.failure,
                    &minimal.yaml,
                    minimal.runs,
                    minimal.took,
                );
                bar.suspend(|| print!("{text}"));
            }
            session.record(judged.result)
        } else {
            session.judge(case).await
        };
        let text = console::finished(result, verbosity);
        if !text.is_empty() {
            bar.suspend(|| print!("{text}"));
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

fn refusals_sorted(mut refusals: Vec<String>) -> Vec<String> {
    refusals.sort();
    refusals.dedup();
    refusals
}

/// Names the listed cases that are not in this run, on stderr.
fn warn_stale(known: &KnownDeviations, cases: &[Case], excluded: &[Case]) {
    let stale: Vec<&str> = known
        .cases()
        .filter(|name| !cases.iter().chain(excluded).any(|c| c.name == *name))
        .collect();
    if !stale.is_empty() {
        eprintln!(
            "netpol: {} lists cases that are not in this run: {}",
            known.path().display(),
            stale.join(", ")
        );
    }
}

/// An output file must have a folder to go to: checked before anything is
/// judged, so a typo costs nothing.
fn writable(path: &Path) -> Result<(), RunError> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if folder.is_dir() {
        Ok(())
    } else {
        Err(RunError::input(format!(
            "cannot write {}: no folder {}",
            path.display(),
            folder.display()
        )))
    }
}

/// Resolves on the first SIGINT or SIGTERM, naming it. The handlers are
/// installed when this is called, not when the future is first polled: a
/// signal between the run folder's creation and that first poll would
/// otherwise take the default action and leave the world behind (the fault
/// test `sigint_or_sigterm_at_any_phase_…` caught it).
pub(super) fn interrupted() -> impl std::future::Future<Output = &'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    );
    async move {
        let (Ok(mut int), Ok(mut term)) = handlers else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => "interrupted",
            _ = term.recv() => "terminated",
        }
    }
}

fn write_results(path: &PathBuf, results: &Results) -> Result<(), RunError> {
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(path)?;
        serde_json::to_writer_pretty(&mut file, results).map_err(std::io::Error::other)?;
        writeln!(file)
    };
    write().map_err(|source| {
        RunError::Input(Box::new(UsageError::Write {
            path: path.clone(),
            source,
        }))
    })
}

#[cfg(test)]
mod tests;
