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
    /// Every policy engine of the netns world side by side, through the API
    /// server: time to enforce, and the new-connection rate with policies
    /// relative to none (netns, root; `netpol engines build` first).
    Engines {
        /// Only this engine (repeat for several). Default: the reference
        /// and every third-party engine; those that cannot run here are
        /// listed with the reason.
        #[arg(long = "engine", value_name = "ENGINE")]
        engines: Vec<BenchEngine>,
        /// Policy changes timed per engine (the minimum is 100).
        #[arg(long, default_value_t = bench::engines::CHANGES)]
        changes: usize,
        /// Flood pairs (without, with policies) per engine.
        #[arg(long, default_value_t = bench::engines::PAIRS)]
        pairs: usize,
        /// Policies of the loaded world.
        #[arg(long, default_value_t = bench::engines::POLICIES)]
        policies: usize,
    },
}

/// The engines `bench engines` knows, in the order of its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchEngine {
    /// The reference enforcer in controller mode, watching the API server.
    Reference,
    KubeRouter,
    KubeRouterNft,
    CalicoFelix,
    KubeNetworkPolicies,
}

impl BenchEngine {
    const ALL: [BenchEngine; 5] = [
        BenchEngine::Reference,
        BenchEngine::KubeRouter,
        BenchEngine::KubeRouterNft,
        BenchEngine::CalicoFelix,
        BenchEngine::KubeNetworkPolicies,
    ];

    fn subject(self) -> bench::engines::Subject {
        use crate::backend::netns::engines::Engine;
        use bench::engines::Subject;
        match self {
            BenchEngine::Reference => Subject::Reference,
            BenchEngine::KubeRouter => Subject::Engine(Engine::KubeRouter),
            BenchEngine::CalicoFelix => Subject::Engine(Engine::CalicoFelix),
            BenchEngine::KubeNetworkPolicies => Subject::Engine(Engine::KubeNetworkPolicies),
            BenchEngine::KubeRouterNft => Subject::Refused {
                name: "kube-router-nft",
                version: "v2.11+",
                reason: super::cluster::KUBE_ROUTER_NFT_REFUSED.into(),
            },
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, UsageError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError::Message(format!("cannot start the async runtime: {e}")))
}

/// Runs `future` until it ends or SIGINT/SIGTERM arrives; on a signal the
/// future is dropped, and with it every world it built (a netns backend
/// removes its namespaces and processes when dropped).
fn until_signal<F: std::future::Future>(
    runtime: &tokio::runtime::Runtime,
    future: F,
) -> Result<F::Output, Interrupted> {
    runtime.block_on(async {
        tokio::select! {
            out = future => Ok(out),
            signal = super::run::interrupted() => Err(Interrupted(signal)),
        }
    })
}

/// A signal stopped the benchmark: its name.
struct Interrupted(&'static str);

fn netns(cni: Cni) -> Result<NetnsBackend, UsageError> {
    let exe = std::env::current_exe()
        .map_err(|e| UsageError::Message(format!("cannot find the netpol binary: {e}")))?;
    Ok(NetnsBackend::new(cni, exe))
}

pub fn bench(command: BenchCommand) -> Result<u8, UsageError> {
    match measure(command) {
        Ok(code) => Ok(code),
        Err(Stop::Usage(e)) => Err(e),
        Err(Stop::Interrupted(signal)) => {
            eprintln!("netpol bench: {signal}; what it built was removed");
            Ok(exit::INTERRUPTED)
        }
    }
}

/// Why a benchmark ended without its figures.
enum Stop {
    Usage(UsageError),
    /// SIGINT or SIGTERM, named.
    Interrupted(&'static str),
}

impl From<UsageError> for Stop {
    fn from(e: UsageError) -> Stop {
        Stop::Usage(e)
    }
}

impl From<Interrupted> for Stop {
    fn from(Interrupted(signal): Interrupted) -> Stop {
        Stop::Interrupted(signal)
    }
}

fn measure(command: BenchCommand) -> Result<u8, Stop> {
    let model = Model::default();
    let runtime = runtime()?;
    let report = match command {
        BenchCommand::Oracle {
            pods,
            policies,
            seed,
        } => {
            if pods == 0 {
                return Err(UsageError::Message("--pods must be at least 1".into()).into());
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
            let figures = until_signal(&runtime, async {
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
            })?;
            bench::matrix::report(&figures.map_err(UsageError::Message)?, workers)
        }
        BenchCommand::Suite { cases } => {
            let cases = crate::case::load_paths(&cases, &model).map_err(UsageError::from)?;
            let mut backend = netns(Cni::Reference)?;
            let figures = until_signal(&runtime, bench::suite::measure(&mut backend, &cases))?;
            bench::suite::report(&figures.map_err(UsageError::Message)?)
        }
        BenchCommand::Enforcer => {
            let sizes = until_signal(
                &runtime,
                bench::enforcer::measure_sizes(&mut netns(Cni::None)?, &model),
            )?;
            let rate = until_signal(
                &runtime,
                bench::enforcer::measure_rate(
                    &mut netns(Cni::Reference)?,
                    &mut netns(Cni::Reference)?,
                    &model,
                ),
            )?;
            bench::enforcer::report(
                &sizes.map_err(UsageError::Message)?,
                &rate.map_err(UsageError::Message)?,
            )
        }
        BenchCommand::EnforceLatency { changes } => {
            let latencies = until_signal(
                &runtime,
                bench::latency::measure(&mut netns(Cni::Reference)?, &model, changes),
            )?;
            bench::latency::report(&latencies.map_err(UsageError::Message)?)
        }
        BenchCommand::Engines {
            engines,
            changes,
            pairs,
            policies,
        } => {
            if pairs == 0 {
                return Err(UsageError::Message("--pairs must be at least 1".into()).into());
            }
            let engines = if engines.is_empty() {
                BenchEngine::ALL.to_vec()
            } else {
                engines
            };
            let subjects: Vec<_> = engines.into_iter().map(BenchEngine::subject).collect();
            let exe = std::env::current_exe()
                .map_err(|e| UsageError::Message(format!("cannot find the netpol binary: {e}")))?;
            let binaries = runtime
                .block_on(crate::controlplane::Binaries::find())
                .map_err(UsageError::Message)?;
            let options = bench::engines::Options {
                changes,
                pairs,
                policies,
            };
            let rows = until_signal(
                &runtime,
                bench::engines::measure(&subjects, exe, binaries, &model, options),
            )?;
            println!(
                "{}\n\n{}",
                bench::engines::header(),
                bench::engines::report(&rows, options)
            );
            return Ok(if bench::engines::any_failed(&rows) {
                exit::BACKEND_FAILED
            } else {
                exit::PASSED
            });
        }
    };
    println!("{report}");
    Ok(exit::PASSED)
}
#[cfg(test)]
mod tests {
    use super::*;

    const BENCHMARKS: &str = include_str!("../../../docs/benchmarks.md");

    /// What `scripts/regenerate-benchmarks` put between the markers.
    fn engines_block() -> &'static str {
        let begin = "<!-- bench engines: begin -->";
        let end = "<!-- bench engines: end -->";
        let from = BENCHMARKS.find(begin).expect("the begin marker") + begin.len();
        let to = BENCHMARKS.find(end).expect("the end marker");
        &BENCHMARKS[from..to]
    }

    #[test]
    fn the_published_engines_table_is_the_one_this_code_prints_with_every_engine() {
        let block = engines_block();
        assert!(
            block.contains(bench::engines::TABLE_HEADER),
            "docs/benchmarks.md's engines table has another head than the code prints: \
             run scripts/regenerate-benchmarks"
        );
        for engine in BenchEngine::ALL {
            let name = engine.subject().name();
            assert!(
                block.contains(&format!("\n| {name} | ")),
                "no row for {name}: run scripts/regenerate-benchmarks"
            );
        }
        let first = block.trim_start().lines().next().unwrap_or("");
        assert!(
            first.starts_with("measured ") && first.ends_with("release build"),
            "the block's first line says when and with what it was measured: {first}"
        );
        assert!(
            block.lines().any(|l| l.starts_with("engines: ")),
            "no summary line"
        );
    }
}
