//! The command line. It lives in the library so the harness binary can run
//! the enforcer busybox-style through `main_from`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::compile::compile;
use crate::exit;
use crate::local::{self, LocalOptions};
use crate::render::render;
use crate::snapshot::Snapshot;

/// Reference NetworkPolicy enforcer: compiles policies into one nftables
/// ruleset per node and applies it atomically.
#[derive(Debug, Parser)]
#[command(name = "netpol-enforcer", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Enforce for one node from a snapshot file, inside that node's network
    /// namespace; runs until killed and leaves its rules in force.
    Local {
        /// Snapshot JSON, replaced atomically (by rename) by its writer.
        #[arg(long)]
        state: PathBuf,
        /// The node whose pods to enforce for.
        #[arg(long)]
        node: String,
        /// Status JSON written (by rename) after every attempt.
        #[arg(long)]
        status: PathBuf,
        /// How often to look at the snapshot file, in milliseconds.
        #[arg(long, default_value_t = 10)]
        poll_ms: u64,
    },
    /// Enforce for one node from the cluster's API (DaemonSet, deploy/):
    /// reflectors on pods, namespaces, policies and nodes; runs until killed.
    Controller {
        /// This node's name (the DaemonSet passes spec.nodeName).
        #[arg(long)]
        node: String,
        /// Also be the node's CNI: write this conflist (ptp + host-local from
        /// the node's podCIDR) and route to the other nodes' podCIDRs.
        #[arg(long)]
        cni_config: Option<PathBuf>,
        /// Write this file once the first ruleset is in force (for a
        /// readinessProbe).
        #[arg(long)]
        ready_file: Option<PathBuf>,
        /// Reach the API server with this kubeconfig (its current context)
        /// instead of the in-cluster config or $KUBECONFIG: for an enforcer
        /// that runs outside a pod, as on the netns backend's control plane.
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
    },
    /// Print the nft transaction for one node of a snapshot.
    Compile {
        #[arg(long)]
        state: PathBuf,
        #[arg(long)]
        node: String,
    },
}

/// Runs the enforcer's command line; `args` starts with the program name.
pub fn main_from(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(exit::BAD_INPUT));
        }
    };
    let code = match cli.command {
        Command::Local {
            state,
            node,
            status,
            poll_ms,
        } => local::run(&LocalOptions {
            state,
            node,
            status,
            poll: Duration::from_millis(poll_ms.max(1)),
        }),
        Command::Controller {
            node,
            cni_config,
            ready_file,
            kubeconfig,
        } => crate::controller::run(&crate::controller::ControllerOptions {
            node,
            cni_config,
            ready_file,
            kubeconfig,
        }),
        Command::Compile { state, node } => compile_command(&state, &node),
    };
    ExitCode::from(code)
}

fn compile_command(state: &std::path::Path, node: &str) -> u8 {
    let text = match std::fs::read(state) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("netpol-enforcer: cannot read {}: {error}", state.display());
            return exit::BAD_INPUT;
        }
    };
    match Snapshot::from_json(&text) {
        Ok(snapshot) => {
            print!("{}", render(&compile(&snapshot, node)));
            exit::OK
        }
        Err(error) => {
            eprintln!(
                "netpol-enforcer: cannot decode the snapshot {}: {error}",
                state.display()
            );
            exit::BAD_INPUT
        }
    }
}
