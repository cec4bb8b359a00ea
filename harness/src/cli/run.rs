//! `netpol run`: cases on a backend, with progress, failures, the results
//! file and the summary line.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use super::{BackendName, CniName, RunArgs, UsageError, select};
use crate::backend::Backend;
use crate::backend::netns::{Cni, NetnsBackend};
use crate::backend::oracle::OracleBackend;
use crate::case::Case;
use crate::exit;
use crate::model::Model;
use crate::report;
use crate::report::json::{Results, RunInfo};
use crate::report::terminal;
use crate::run::{self, CaseResult, Summary};
use crate::verdict::Verdict;

pub fn run(args: RunArgs) -> Result<u8, UsageError> {
    let model = Model::default();
    let (cases, excluded) = select(&args.selection, &model)?;
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
        (BackendName::Netns, cni) => {
            let exe = std::env::current_exe()
                .map_err(|e| UsageError::Message(format!("cannot find the netpol binary: {e}")))?;
            let cni = match cni {
                CniName::Reference => Cni::Reference,
                CniName::None => Cni::None,
            };
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
    let started = SystemTime::now();
    let clock = Instant::now();
    let outcome = tokio::select! {
        outcome = run_all(&mut backend, cases, model) => Some(outcome),
        signal = interrupted() => {
            eprintln!("netpol: {signal}: removing what the run created");
            None
        }
    };
    let teardown = backend.teardown().await;
    let Some(results) = outcome else {
        teardown.map_err(|e| UsageError::Message(report::chain(&e)))?;
        return Ok(exit::INTERRUPTED);
    };
    let mut results = results?;
    teardown.map_err(|e| UsageError::Message(report::chain(&e)))?;
    results.extend(
        excluded
            .iter()
            .map(|c| CaseResult::skipped(c, "excluded by --filter/--tag".into())),
    );
    results.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(path) = &args.output {
        let info = RunInfo {
            backend: backend.name().into(),
            cni: backend.cni(),
            cluster: backend.cluster(),
            started,
            duration: clock.elapsed(),
        };
        write_results(path, &Results::new(info, &results))?;
    }
    let summary = Summary::of(&results);
    println!("{summary}");
    Ok(if summary.failed > 0 {
        exit::FAILED
    } else {
        exit::PASSED
    })
}

/// Resolves on the first SIGINT or SIGTERM, naming it.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "interrupted",
        _ = term.recv() => "terminated",
    }
}

async fn run_all<B: Backend>(
    backend: &mut B,
    cases: &[Case],
    model: &Model,
) -> Result<Vec<CaseResult>, UsageError> {
    let addresses = backend
        .setup(model)
        .await
        .map_err(|e| UsageError::Message(report::chain(&e)))?;
    let bar = terminal::progress(cases.len());
    let mut results = Vec::new();
    for case in cases {
        bar.set_message(case.name.clone());
        let result = run::run_case(backend, case, model, &addresses).await;
        if result.verdict == Verdict::Failed {
            bar.suspend(|| print!("{}", terminal::failure(&result)));
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
