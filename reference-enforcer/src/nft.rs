//! The only place the enforcer changes the kernel: `nft -f -`, with the
//! rendered transaction on stdin. nft applies a file as one netlink batch,
//! so either all of it takes effect or none does.

use std::time::Duration;

use crate::command::{self, CommandError};

/// How long one nft run may take; a ruleset for hundreds of pods applies in
/// milliseconds, so this only catches a wedged netlink socket.
pub const NFT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a ruleset was not applied; `stderr()` has nft's own explanation.
pub type ApplyError = CommandError;

/// How to reach nft: in the current network namespace, or in a named one.
#[derive(Clone, Debug)]
pub struct Nft {
    prefix: Vec<String>,
}

impl Default for Nft {
    fn default() -> Self {
        Nft {
            prefix: vec!["nft".into()],
        }
    }
}

impl Nft {
    /// nft in the network namespace `ip netns` knows as `name`.
    pub fn in_netns(name: &str) -> Nft {
        Nft {
            prefix: ["ip", "netns", "exec", name, "nft"]
                .map(String::from)
                .to_vec(),
        }
    }

    /// Runs nft with `args` (and stdin), returning its stdout.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String, CommandError> {
        let argv: Vec<&str> = self
            .prefix
            .iter()
            .map(String::as_str)
            .chain(args.iter().copied())
            .collect();
        command::run(&argv, stdin.map(str::as_bytes), NFT_TIMEOUT)
    }

    /// Applies a transaction.
    pub fn apply(&self, text: &str) -> Result<(), ApplyError> {
        self.run(&["-f", "-"], Some(text)).map(drop)
    }

    /// Validates a transaction without committing it (`nft -c`).
    pub fn check(&self, text: &str) -> Result<(), ApplyError> {
        self.run(&["-c", "-f", "-"], Some(text)).map(drop)
    }
}

/// Applies a rendered ruleset in the current network namespace.
pub fn apply(text: &str) -> Result<(), ApplyError> {
    Nft::default().apply(text)
}

/// Checks a rendered ruleset with `nft -c -f -` in the current network namespace.
pub fn check(text: &str) -> Result<(), ApplyError> {
    Nft::default().check(text)
}
