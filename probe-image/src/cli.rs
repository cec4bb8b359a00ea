//! The command line: `serve` and `probe`.

use std::net::IpAddr;

use clap::{Args, Parser, Subcommand};

use crate::constants::DEFAULT_TIMEOUT_MS;
use crate::wire::{Protocol, Target};

/// The netpol probe agent: serves the model's ports in a pod and probes many
/// targets at once, one JSON line per result.
#[derive(Debug, Parser)]
#[command(name = "netpol-probe", version)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Bind every protocol × port, print one ready line, serve until SIGTERM/SIGINT.
    Serve(ServeArgs),
    /// Probe every target at once; one JSON result line per target, in order.
    Probe(ProbeArgs),
    /// Probe one target again and again; one line per probe (for time-to-enforce).
    Watch(WatchArgs),
    /// Open and close TCP connections to one target; print the count (for connection rates).
    Flood(FloodArgs),
}

#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    #[arg(long = "target", value_name = "TO=HOST:PROTO/PORT")]
    pub(crate) target: Target,
    /// Launch a probe this often.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) interval_ms: u64,
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) timeout_ms: u64,
    /// Stop launching after this long.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) duration_ms: u64,
}

#[derive(Debug, Args)]
pub(crate) struct FloodArgs {
    #[arg(long = "target", value_name = "TO=HOST:tcp/PORT")]
    pub(crate) target: Target,
    /// Connections in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) workers: u64,
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) duration_ms: u64,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Ports to serve on every protocol (0 asks the kernel for a free one).
    #[arg(long, value_delimiter = ',', required = true, num_args = 1..)]
    pub(crate) ports: Vec<u16>,
    /// Protocols to serve.
    #[arg(long, value_delimiter = ',', default_value = "tcp,udp,sctp")]
    pub(crate) protocols: Vec<Protocol>,
    /// The address to bind.
    #[arg(long, default_value = "0.0.0.0")]
    pub(crate) bind: IpAddr,
}

#[derive(Debug, Args)]
pub(crate) struct ProbeArgs {
    /// The longest one probe may take; all run at once, so this bounds the batch.
    #[arg(long, default_value_t = DEFAULT_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) timeout_ms: u64,
    /// A target, like `x/b=10.244.1.3:tcp/80`. Without any, a JSON array of
    /// targets is read from stdin.
    #[arg(long = "target", value_name = "TO=HOST:PROTO/PORT")]
    pub(crate) targets: Vec<Target>,
    /// Send every UDP probe of the batch from this local port (0: one the
    /// kernel picks per probe). Each probe is its own 5-tuple, since each goes
    /// to its own destination. The harness gives each round a new port, so
    /// that a probe is never taken by conntrack for a flow an earlier round
    /// opened; a port used again replays a flow's 5-tuple, to see how an
    /// enforcer treats a flow it has seen before.
    #[arg(long, default_value_t = 0)]
    pub(crate) source_port: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("netpol-probe").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_defaults_to_every_protocol_on_every_address() {
        let Command::Serve(args) = parse(&["serve", "--ports", "80,81"]).unwrap().command else {
            panic!("not serve");
        };
        assert_eq!(args.ports, [80, 81]);
        assert_eq!(args.protocols, Protocol::ALL);
        assert_eq!(args.bind, IpAddr::from([0, 0, 0, 0]));
    }

    #[test]
    fn probe_takes_repeated_targets_and_a_timeout() {
        let cli = parse(&[
            "probe",
            "--timeout-ms",
            "300",
            "--target",
            "x/a=10.0.0.1:tcp/80",
            "--target",
            "x/b=10.0.0.2:udp/81",
        ])
        .unwrap();
        let Command::Probe(args) = cli.command else {
            panic!("not probe");
        };
        assert_eq!(args.timeout_ms, 300);
        assert_eq!(args.targets[1].to, "x/b");
    }

    #[test]
    fn bad_flags_are_usage_errors_with_exit_code_2() {
        for args in [
            &["serve"][..],
            &["serve", "--ports", "80", "--protocols", "icmp"],
            &["probe", "--timeout-ms", "0"],
            &["probe", "--target", "x/a=10.0.0.1:tcp/0"],
        ] {
            let error = parse(args).unwrap_err();
            assert_eq!(
                error.exit_code(),
                i32::from(crate::exit::BAD_INPUT),
                "{args:?}"
            );
        }
    }
}
