//! One trial per case, named `<backend>/<case>`, on the backend named by
//! `NETPOL_BACKEND` (default `oracle`): `cargo test -- ingress` filters as expected.

use std::path::PathBuf;
use std::process::ExitCode;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use netpol_harness::backend::oracle::OracleBackend;
use netpol_harness::backend::{AVAILABLE, Backend};
use netpol_harness::case::{self, Case};
use netpol_harness::model::Model;
use netpol_harness::report::terminal;
use netpol_harness::run;
use netpol_harness::verdict::Verdict;

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let backend = std::env::var("NETPOL_BACKEND").unwrap_or_else(|_| "oracle".into());
    let cases_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let model = Model::default();
    let trials = match case::load_paths(&[cases_dir], &model) {
        Err(problems) => vec![Trial::test("load-cases", move || {
            Err(problems.to_string().into())
        })],
        Ok(_) if !AVAILABLE.contains(&backend.as_str()) => {
            let message = format!(
                "NETPOL_BACKEND={backend} is not a backend (available: {})",
                AVAILABLE.join(", ")
            );
            vec![Trial::test("backend", move || Err(message.into()))]
        }
        Ok(cases) => {
            let mut trials: Vec<Trial> = cases
                .into_iter()
                .map(|case| {
                    let model = model.clone();
                    Trial::ignorable_test(format!("{backend}/{}", case.name), move || {
                        run_on_oracle(&case, &model)
                    })
                })
                .collect();
            trials.sort_by(|a, b| a.name().cmp(b.name()));
            trials
        }
    };
    libtest_mimic::run(&args, trials).exit_code()
}

fn run_on_oracle(case: &Case, model: &Model) -> Result<Completion, Failed> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut backend = OracleBackend::new();
        let addresses = backend.setup(model).await?;
        let result = run::run_case(&mut backend, case, model, &addresses).await;
        backend.teardown().await?;
        match result.verdict {
            Verdict::Passed => Ok(Completion::Completed),
            Verdict::Skipped => Ok(Completion::ignored_with(result.reason.unwrap_or_default())),
            Verdict::Failed => Err(terminal::failure(&result).into()),
        }
    })
}
