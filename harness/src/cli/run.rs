//! `netpol run`: cases on a backend, with progress, failures, the results
//! file and the summary line.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use super::{BackendName, RunArgs, UsageError, select};
use crate::backend::Backend;
use crate::backend::netns::NetnsBackend;
use crate::backend::oracle::OracleBackend;
use crate::case::Case;
use crate::exit;
use crate::model::Model;
use crate::report::console::{self, Verbosity};
use crate::report::deviations::{self, KnownDeviations};
use crate::report::json::{Results, RunInfo};
use crate::report::{junit, terminal};
use crate::run::{self, CaseResult, Summary};

pub fn run(args: RunArgs) -> Result<u8, UsageError> {
    let model = Model::default();
    let (cases, excluded) = select(&args.selection, &model)?;
    if !args.differential {
        crate::differential::refuse_oracle_expectations(&cases).map_err(UsageError::Message)?;
    }
    if let BackendName::Netns = args.backend
        && let Some(code) = crate::backend::netns::reexec_in_user_namespace()
    {
        return Ok(code);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError::Message(format!("cannot start the async runtime: {e}")))?;
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
            let exe = std::env::current_exe()
                .map_err(|e| UsageError::Message(format!("cannot find the netpol binary: {e}")))?;
            let cni = super::cluster::netns_cni(cni)?;
            runtime.block_on(run_on(
                NetnsBackend::new(cni, exe),
                &args,
                &cases,
                &excluded,
                &model,
            ))
        }
    }
}

/// Runs the selected cases on one backend; SIGINT and SIGTERM stop the run
/// and still remove everything the backend created.
async fn run_on<B: Backend>(
    mut backend: B,
    args: &RunArgs,
    cases: &[Case],
    excluded: &[Case],
    model: &Model,
) -> Result<u8, UsageError> {
    // Before the world is built: a bad list is bad input, nothing is judged.
    let deviations = match &args.known_deviations {
        Some(path) => {
            Some(deviations::load(path).map_err(|e| UsageError::Message(crate::error::chain(&e)))?)
        }
        None => None,
    };
    if let Some(known) = &deviations {
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
    let verbosity = match (args.quiet, args.verbose) {
        (true, _) => Verbosity::Quiet,
        (_, true) => Verbosity::Verbose,
        _ => Verbosity::Normal,
    };
    let started = SystemTime::now();
    let clock = Instant::now();
    let outcome = tokio::select! {
        outcome = run_all(&mut backend, cases, model, deviations.as_ref(), verbosity, args.differential) => Some(outcome),
        signal = interrupted() => {
            eprintln!("netpol: {signal}: removing what the run created");
            None
        }
    };
    let teardown = backend.teardown().await;
    let Some(results) = outcome else {
        teardown.map_err(|e| UsageError::Message(crate::error::chain(&e)))?;
        return Ok(exit::INTERRUPTED);
    };
    let mut results = results?;
    teardown.map_err(|e| UsageError::Message(crate::error::chain(&e)))?;
    results.extend(
        excluded
            .iter()
            .map(|c| CaseResult::skipped(c, "excluded by --filter/--tag".into())),
    );
    results.sort_by(|a, b| a.name.cmp(&b.name));
    let info = RunInfo {
        backend: backend.name().into(),
        cni: backend.cni(),
        cluster: backend.cluster(),
        started,
        duration: clock.elapsed(),
    };
    let document = Results::new(info, &results);
    if let Some(path) = &args.output {
        write_results(path, &document)?;
    }
    if let Some(path) = &args.junit {
        junit::write(path, &document).map_err(|e| UsageError::Message(crate::error::chain(&e)))?;
    }
    if verbosity != Verbosity::Quiet {
        print!("{}", console::areas(&results));
    }
    let summary = Summary::of(&results);
    println!("{summary}");
    Ok(if summary.failed > 0 {
        exit::FAILED
    } else {
        exit::PASSED
    })
}

/// Resolves on the first SIGINT or SIGTERM, naming it. The handlers are
/// installed when this is called, not when the future is first polled: a
/// signal between the run folder's creation and that first poll would
/// otherwise take the default action and leave the world behind (the fault
/// test `sigint_or_sigterm_at_any_phase_…` caught it).
fn interrupted() -> impl std::future::Future<Output = &'static str> {
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

async fn run_all<B: Backend>(
    backend: &mut B,
    cases: &[Case],
    model: &Model,
    deviations: Option<&KnownDeviations>,
    verbosity: Verbosity,
    differential: bool,
) -> Result<Vec<CaseResult>, UsageError> {
    let addresses = backend
        .setup(model)
        .await
        .map_err(|e| UsageError::Message(crate::error::chain(&e)))?;
    let bar = terminal::progress(cases.len());
    let mut results = Vec::new();
    for case in cases {
        bar.set_message(case.name.clone());
        let mut result = if differential {
            let judged = crate::differential::judge(backend, case, model, &addresses, true).await;
            if let Some(minimal) = &judged.minimal {
                bar.suspend(|| print!("{}", crate::differential::report(&case.name, minimal)));
            }
            judged.result
        } else {
            run::run_case(backend, case, model, &addresses).await
        };
        if let Some(known) = deviations {
            known.apply(&mut result);
        }
        let text = console::finished(&result, verbosity);
        if !text.is_empty() {
            bar.suspend(|| print!("{text}"));
        }
        results.push(result);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(results)
}

fn write_results(path: &PathBuf, results: &Results) -> Result<(), UsageError> {
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(path)?;
        serde_json::to_writer_pretty(&mut file, results).map_err(std::io::Error::other)?;
        writeln!(file)
    };
    write().map_err(|source| UsageError::Write {
        path: path.clone(),
        source,
    })
}
