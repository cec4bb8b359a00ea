//! `netpol bench …`: each prints its method and figures, then one summary line.

use std::path::PathBuf;

use clap::Subcommand;

use super::UsageError;
use crate::backend::netns::{Cni, NetnsBackend};
use crate::bench;
use crate::exit;
use crate::model::{Model, Probe};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The default matrix probed batched and one process per probe (netns).
    Matrix {
        /// Probed ports (default: tcp/80 tcp/81 udp/80 udp/81).
        #[arg(long = "probe", value_name = "PROTO/PORT")]
        probes: Vec<Probe>,
        /// Per-probe processes running at once.
        #[arg(long, default_value_t = 3)]
        workers: usize,
    },
    /// The whole case library on netns: cases per second and wall time.
    Suite {
        #[arg(long = "cases", value_name = "PATH", default_value = "cases")]
        cases: Vec<PathBuf>,
    },
    /// The oracle on a generated world: cells per second.
    Oracle {
        #[arg(long, default_value_t = 1000)]
        pods: usize,
        #[arg(long, default_value_t = 1000)]
        policies: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// The reference enforcer: compile and apply time by policy count, and
    /// the connection rate through a node with and without policies (netns).
    Enforcer,
    /// From a policy write to the first probe that sees it enforced (netns).
    EnforceLatency {
        #[arg(long, default_value_t = 120)]
        changes: usize,
    },
}

fn runtime() -> Result<tokio::runtime::Runtime, UsageError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError::Message(format!("cannot start the async runtime: {e}")))
}

fn netns(cni: Cni) -> Result<NetnsBackend, UsageError> {
    let exe = std::env::current_exe()
        .map_err(|e| UsageError::Message(format!("cannot find the netpol binary: {e}")))?;
    Ok(NetnsBackend::new(cni, exe))
}

pub fn bench(command: BenchCommand) -> Result<u8, UsageError> {
    let model = Model::default();
    let report = match command {
        BenchCommand::Oracle {
            pods,
            policies,
            seed,
        } => {
            if pods == 0 {
                return Err(UsageError::Message("--pods must be at least 1".into()));
            }
            bench::oracle::report(&bench::oracle::measure(pods, policies, seed))
        }
        BenchCommand::Matrix { probes, workers } => {
            let probes = if probes.is_empty() {
                Probe::DEFAULTS.to_vec()
            } else {
                probes
            };
            let mut backend = netns(Cni::Reference)?;
            let figures = runtime()?.block_on(async {
                use crate::backend::Backend;
                backend
                    .setup(&model)
                    .await
                    .map_err(|e| crate::error::chain(&e))?;
                let figures = bench::matrix::measure(&mut backend, &probes, workers).await;
                backend
                    .teardown()
                    .await
                    .map_err(|e| crate::error::chain(&e))?;
                figures
            });
            bench::matrix::report(&figures.map_err(UsageError::Message)?, workers)
        }
        BenchCommand::Suite { cases } => {
            let cases = crate::case::load_paths(&cases, &model)?;
            let mut backend = netns(Cni::Reference)?;
            let figures = runtime()?.block_on(bench::suite::measure(&mut backend, &cases));
            bench::suite::report(&figures.map_err(UsageError::Message)?)
        }
        BenchCommand::Enforcer => {
            let runtime = runtime()?;
            let sizes = runtime.block_on(bench::enforcer::measure_sizes(
                &mut netns(Cni::None)?,
                &model,
            ));
            let rate = runtime.block_on(bench::enforcer::measure_rate(
                &mut netns(Cni::Reference)?,
                &model,
            ));
            bench::enforcer::report(
                &sizes.map_err(UsageError::Message)?,
                &rate.map_err(UsageError::Message)?,
            )
        }
        BenchCommand::EnforceLatency { changes } => {
            let latencies = runtime()?.block_on(bench::latency::measure(
                &mut netns(Cni::Reference)?,
                &model,
                changes,
            ));
            bench::latency::report(&latencies.map_err(UsageError::Message)?)
        }
    };
    println!("{report}");
    Ok(exit::PASSED)
}
