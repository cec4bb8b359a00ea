//! One trial per case, named `<backend>/<case>`, on the backend named by
//! `NETPOL_BACKEND` (default `oracle`): `cargo test -- ingress` filters as
//! users expect. The netns world is built once and shared: trials take turns.
//! `NETPOL_IP_FAMILY` (`ipv4`, the default, `ipv6` or `dual`) picks the
//! families probed, as `netpol run --ip-family` does.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use netpol_harness::backend::Backend;
use netpol_harness::backend::netns::{Cni, NetnsBackend};
use netpol_harness::backend::oracle::OracleBackend;
use netpol_harness::case::{self, Case};
use netpol_harness::error::chain;
use netpol_harness::model::{Addresses, IpFamily, Model};
use netpol_harness::report::terminal;
use netpol_harness::run;
use netpol_harness::verdict::Verdict;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The world every trial shares, and why it is unknown once a reset failed.
struct Shared<B> {
    backend: B,
    unreset: Option<String>,
}

/// Runs a case on a backend that is already set up.
fn judge<B: Backend>(
    shared: &mut Shared<B>,
    case: &Case,
    model: &Model,
    addresses: &Addresses,
    ip_family: IpFamily,
) -> Result<Completion, Failed> {
    if let Some(why) = &shared.unreset {
        return Err(format!("{}: {why}", run::NOT_RUN_UNRESET).into());
    }
    let run = runtime().block_on(run::run_case(
        &mut shared.backend,
        case,
        model,
        addresses,
        ip_family,
    ));
    if let Some(error) = run.unreset {
        shared.unreset = Some(format!("after {}: {}", case.name, chain(&error)));
    }
    let result = run.result;
    match result.verdict {
        Verdict::Passed => Ok(Completion::Completed),
        Verdict::Skipped => Ok(Completion::ignored_with(result.reason.unwrap_or_default())),
        // Known deviations are marked by `netpol run`, never by `run_case`.
        Verdict::Failed | Verdict::ExpectedFailure => Err(terminal::failure(&result).into()),
    }
}

/// One trial per case, all sharing `backend` (set up once, by the caller).
fn trials<B: Backend + 'static>(
    name: &str,
    backend: B,
    cases: Vec<Case>,
    model: &Model,
    addresses: Addresses,
    ip_family: IpFamily,
) -> Vec<Trial> {
    let shared = Arc::new(Mutex::new(Shared {
        backend,
        unreset: None,
    }));
    cases
        .into_iter()
        .map(|case| {
            let (shared, model, addresses) =
                (Arc::clone(&shared), model.clone(), addresses.clone());
            Trial::ignorable_test(format!("{name}/{}", case.name), move || {
                // A failed trial poisons nothing: the runner resets the world
                // after each case, and a failed reset fails every later trial.
                let mut shared = shared
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                judge(&mut shared, &case, &model, &addresses, ip_family)
            })
        })
        .collect()
}

fn setup<B: Backend>(mut backend: B, model: &Model) -> Result<(B, Addresses), String> {
    let addresses = runtime()
        .block_on(backend.setup(model))
        .map_err(|e| chain(&e))?;
    Ok((backend, addresses))
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let name = std::env::var("NETPOL_BACKEND").unwrap_or_else(|_| "oracle".into());
    let ip_family = match std::env::var("NETPOL_IP_FAMILY").as_deref() {
        Err(_) | Ok("ipv4") => IpFamily::Ipv4,
        Ok("ipv6") => IpFamily::Ipv6,
        Ok("dual") => IpFamily::Dual,
        Ok(other) => {
            let message = format!("NETPOL_IP_FAMILY={other} is not a family (ipv4, ipv6, dual)");
            let trial = Trial::test("ip-family", move || Err(message.into()));
            return libtest_mimic::run(&args, vec![trial]).exit_code();
        }
    };
    let cases_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let model = Model::default();
    let cases = match case::load_paths(&[cases_dir], &model) {
        Ok(cases) => cases,
        Err(problems) => {
            let trial = Trial::test("load-cases", move || Err(problems.to_string().into()));
            return libtest_mimic::run(&args, vec![trial]).exit_code();
        }
    };
    // Listing needs no world: don't build one for `--list`.
    let world_needed = !args.list;
    let built = match name.as_str() {
        "oracle" => setup(OracleBackend::new(), &model)
            .map(|(b, a)| trials(&name, b, cases, &model, a, ip_family)),
        "netns" if !world_needed => Ok(trials(
            &name,
            OracleBackend::new(),
            cases,
            &model,
            Addresses::default(),
            ip_family,
        )),
        "netns" => {
            let exe = PathBuf::from(env!("CARGO_BIN_EXE_netpol"));
            setup(NetnsBackend::new(Cni::Reference, exe), &model)
                .map(|(b, a)| trials(&name, b, cases, &model, a, ip_family))
        }
        other => Err(format!(
            "NETPOL_BACKEND={other} is not a backend of these trials (oracle, netns)"
        )),
    };
    let trials = built.unwrap_or_else(|message| {
        vec![Trial::test(format!("{name}/setup"), move || {
            Err(message.into())
        })]
    });
    // The shared backend is dropped with the trials, which removes its world.
    libtest_mimic::run(&args, trials).exit_code()
}
