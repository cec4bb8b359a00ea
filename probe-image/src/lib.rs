//! netpol's probe agent. One binary runs in every pod of the suite's world: it
//! serves the model's ports (`serve`) and probes many targets at once (`probe`),
//! printing JSON lines that the harness parses with the types exported here.
//!
//! The harness also links this crate and calls [`main_from`] when it is invoked
//! as `netpol-probe` (busybox-style), so one binary does both jobs.
//!
//! Everything runs on one `current_thread` runtime: the agent is started inside a
//! network namespace, and every socket must be made by the thread that is in it.
//! tokio's stdin/stdout do use helper threads, but those only touch fds 0 and 1,
//! where the namespace does not matter.

// Denied rather than forbidden so that `async_socket`, and only it, can allow it.
#![deny(unsafe_code)]

mod async_socket;
mod classify;
mod cli;
mod constants;
mod error;
pub mod exit;
mod lines;
mod measure;
mod probe;
mod sctp;
mod serve;
mod wire;

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::cli::{Cli, Command, FloodArgs, ProbeArgs, ServeArgs, WatchArgs};
use crate::error::Error;
pub use crate::measure::{Flooded, Watched};
pub use crate::wire::{Endpoint, Observation, Outcome, Protocol, Ready, Target};

/// Runs the agent with `args` (the program name first, as `std::env::args_os`
/// gives them) and returns its exit code (see [`exit`]).
pub fn main_from(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(usage) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2.
            let _ = usage.print();
            return ExitCode::from(u8::try_from(usage.exit_code()).unwrap_or(exit::FAILURE));
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(error) => {
            eprintln!("netpol-probe: {}", error.chain());
            ExitCode::from(error.exit_code())
        }
    }
}

/// Whether this kernel can make SCTP sockets (`socket(AF_INET, SOCK_STREAM,
/// IPPROTO_SCTP)` succeeds). Where it cannot, SCTP probes are `unsupported`.
pub fn sctp_supported() -> bool {
    sctp::supported()
}

fn run(cli: Cli) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(async {
        let mut stdout = tokio::io::stdout();
        match cli.command {
            Command::Serve(args) => serve_command(args, &mut stdout).await,
            Command::Probe(args) => probe_command(args, &mut stdout).await,
            Command::Watch(args) => watch_command(args, &mut stdout).await,
            Command::Flood(args) => flood_command(args, &mut stdout).await,
        }
    })
}

async fn serve_command(args: ServeArgs, stdout: &mut tokio::io::Stdout) -> Result<(), Error> {
    let plan = serve::Plan {
        bind: args.bind,
        protocols: args.protocols,
        ports: args.ports,
    };
    serve::serve(&plan, stdout).await
}

async fn probe_command(args: ProbeArgs, stdout: &mut tokio::io::Stdout) -> Result<(), Error> {
    let targets = if args.targets.is_empty() {
        lines::read_targets(tokio::io::stdin()).await?
    } else {
        args.targets
    };
    let timeout = Duration::from_millis(args.timeout_ms);
    probe::probe_all(targets, timeout, args.source_port, stdout)
        .await
        .map_err(Error::Write)
}

async fn watch_command(args: WatchArgs, stdout: &mut tokio::io::Stdout) -> Result<(), Error> {
    let every = Duration::from_millis(args.interval_ms);
    let timeout = Duration::from_millis(args.timeout_ms);
    let duration = Duration::from_millis(args.duration_ms);
    measure::watch(args.target, every, timeout, duration, stdout)
        .await
        .map_err(Error::Write)
}

async fn flood_command(args: FloodArgs, stdout: &mut tokio::io::Stdout) -> Result<(), Error> {
    let workers = usize::try_from(args.workers).unwrap_or(usize::MAX);
    let duration = Duration::from_millis(args.duration_ms);
    measure::flood(args.target, workers, duration, stdout)
        .await
        .map_err(Error::Write)
}
