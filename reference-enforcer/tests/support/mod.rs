//! What the golden and netns tests share: prerequisites that make a trial
//! ignored with the reason (or, with `NETPOL_REQUIRE_ENV=1`, failed), one
//! world at a time, and a network namespace that is deleted on every path,
//! panics included. The harness's tests gate the same way
//! (`harness/tests/common/env.rs`).

#![allow(dead_code)]

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use libtest_mimic::{Completion, Failed};
use netpol_enforcer::command::{self, CommandError};

/// Set to 1 (as CI does) to turn every skip for missing privileges or tools into a failure.
pub const REQUIRE_ENV: &str = "NETPOL_REQUIRE_ENV";
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| Path::new(&dir).join(program).is_file())
    })
}

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Why `nft` cannot be used here, if it cannot.
pub fn nft_missing() -> Option<String> {
    if !on_path("nft") {
        return Some("`nft` is not on PATH (apt-get install nftables)".into());
    }
    if effective_uid() != Some(0) {
        return Some("nft needs root (CAP_NET_ADMIN), and the tests do not run as root".into());
    }
    None
}

/// Why a network namespace cannot be created here, if it cannot.
pub fn netns_missing() -> Option<String> {
    if !on_path("ip") {
        return Some("`ip` is not on PATH (apt-get install iproute2)".into());
    }
    nft_missing()
}

/// Runs `body` unless `missing` names a reason not to: then the trial is
/// ignored with that reason, or fails when `NETPOL_REQUIRE_ENV=1`.
pub fn gated(
    missing: Option<String>,
    body: impl FnOnce() -> Result<(), Failed>,
) -> Result<Completion, Failed> {
    match missing {
        None => body().map(|()| Completion::Completed),
        Some(reason) if std::env::var(REQUIRE_ENV).as_deref() == Ok("1") => {
            Err(format!("{REQUIRE_ENV}=1 but {reason}").into())
        }
        Some(reason) => {
            eprintln!("skipped: {reason}");
            Ok(Completion::ignored_with(reason))
        }
    }
}

/// Two cores: worlds built side by side would make convergence deadlines lie.
static ONE_WORLD: Mutex<()> = Mutex::new(());

/// `gated`, for a trial that builds a world of namespaces: it waits its turn.
pub fn gated_world(
    missing: Option<String>,
    body: impl FnOnce() -> Result<(), Failed>,
) -> Result<Completion, Failed> {
    gated(missing, || {
        let _turn = ONE_WORLD
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        body()
    })
}

/// `argv`, in the current namespace.
pub fn run(argv: &[&str]) -> Result<String, CommandError> {
    command::run(argv, None, COMMAND_TIMEOUT)
}

/// A network namespace of this test process, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Creates `netpol-enf-test-<pid>-<suffix>`.
    pub fn create(suffix: &str) -> Result<Netns, CommandError> {
        let name = format!("netpol-enf-test-{}-{suffix}", std::process::id());
        run(&["ip", "netns", "add", &name])?;
        Ok(Netns { name })
    }

    /// Runs `argv` inside the namespace.
    pub fn exec(&self, argv: &[&str]) -> Result<String, CommandError> {
        let full: Vec<&str> = ["ip", "netns", "exec", &self.name]
            .into_iter()
            .chain(argv.iter().copied())
            .collect();
        run(&full)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(error) = run(&["ip", "netns", "del", &self.name]) {
            eprintln!("cannot delete network namespace {}: {error}", self.name);
        }
    }
}
