//! The gate of the tests that need more than every machine has: root with
//! iproute2 and nftables (network namespaces, rulesets), `setpriv`, a
//! browser. Each such test is a libtest-mimic trial (its binary has
//! `harness = false` in Cargo.toml and a `main` listing every trial, plain
//! ones too: a `#[test]` there would never run, which `tests/gating.rs`
//! checks). Include it with `#[macro_use] #[path = "common/env.rs"] mod env;`
//! and list trials with `gated!(Needs::Netns, f)` and `plain!(f)`. A trial whose environment is missing is reported `ignored` with
//! the reason, never `ok`; with `NETPOL_REQUIRE_ENV=1` (set by `.ci/run`) it
//! fails instead. Trials that build network namespace worlds take turns
//! (`ONE_WORLD`): two cores shared by worlds built side by side would make
//! probe timeouts and wall-clock assertions lie.

#![allow(dead_code, unused_macros)]

use std::process::ExitCode;
use std::sync::{Mutex, MutexGuard};

use libtest_mimic::{Arguments, Completion, Trial};

/// Set to 1 (as CI does) to turn every missing environment into a failure.
pub const REQUIRE_ENV: &str = "NETPOL_REQUIRE_ENV";

/// What a trial needs beyond `cargo test`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Root, `ip` and `nft`: the trial builds network namespaces.
    Netns,
    /// Netns, and `setpriv` to run as an ordinary user.
    NetnsAndSetpriv,
    /// Root and `nft`, for `nft -c` only: no namespace is built.
    Nft,
    /// Debian's headless Chromium at `CHROMIUM`.
    Chromium,
    /// Netns, and etcd and kube-apiserver built (`netpol engines build`).
    ControlPlane,
}

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// One world at a time in this test process.
static ONE_WORLD: Mutex<()> = Mutex::new(());

fn root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn tool(name: &str, package: &str) -> Option<String> {
    which::which(name)
        .is_err()
        .then(|| format!("`{name}` is not on PATH (apt-get install {package})"))
}

/// Why `needs` is not met here, if it is not.
pub fn missing(needs: Needs) -> Option<String> {
    let privileged = || {
        if root() {
            None
        } else {
            Some("not root: needs root for network namespaces and nftables".to_owned())
        }
    };
    match needs {
        Needs::Netns => tool("ip", "iproute2")
            .or_else(|| tool("nft", "nftables"))
            .or_else(privileged),
        Needs::NetnsAndSetpriv => missing(Needs::Netns).or_else(|| tool("setpriv", "util-linux")),
        Needs::Nft => tool("nft", "nftables").or_else(privileged),
        Needs::ControlPlane => missing(Needs::Netns).or_else(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(netpol_harness::controlplane::Binaries::find())
                .err()
        }),
        Needs::Chromium => (!std::path::Path::new(CHROMIUM).exists())
            .then(|| format!("{CHROMIUM} is absent (apt-get install chromium)")),
    }
}

/// Whether a missing environment is a failure (`NETPOL_REQUIRE_ENV=1`).
pub fn required() -> bool {
    std::env::var(REQUIRE_ENV).as_deref() == Ok("1")
}

/// The number in environment variable `name`, or `default` when it is unset.
pub fn number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text} is not a number")),
        Err(_) => default,
    }
}

/// The world lock; a trial that panicked while holding it poisons nothing.
pub fn one_world() -> MutexGuard<'static, ()> {
    ONE_WORLD
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A trial that runs `body` (which panics on failure) where `needs` is met.
pub fn trial(name: &str, needs: Needs, body: impl FnOnce() + Send + 'static) -> Trial {
    Trial::ignorable_test(name, move || {
        if let Some(reason) = missing(needs) {
            if required() {
                return Err(format!("{REQUIRE_ENV}=1 but {reason}").into());
            }
            return Ok(Completion::ignored_with(reason));
        }
        let _turn = matches!(
            needs,
            Needs::Netns | Needs::NetnsAndSetpriv | Needs::ControlPlane
        )
        .then(one_world);
        body();
        Ok(Completion::Completed)
    })
}

/// A trial that needs nothing: it runs everywhere.
pub fn test(name: &str, body: impl FnOnce() + Send + 'static) -> Trial {
    Trial::test(name, move || {
        body();
        Ok(())
    })
}

/// Runs the trials, sorted by name, with the command line's filters.
pub fn run(mut trials: Vec<Trial>) -> ExitCode {
    trials.sort_by(|a, b| a.name().cmp(b.name()));
    libtest_mimic::run(&Arguments::from_args(), trials).exit_code()
}

/// `signals :: sigint` (as `stringify!` writes a path) as `signals::sigint`,
/// the name `#[test]` would give the function.
pub fn name(path: &str) -> String {
    path.split_whitespace().collect()
}

/// `gated!(Needs::Netns, f)`: the trial of `f`, named after it.
macro_rules! gated {
    ($needs:expr, $f:path) => {
        crate::env::trial(&crate::env::name(stringify!($f)), $needs, $f)
    };
}

/// `plain!(f)`: the trial of `f`, which needs nothing, named after it.
macro_rules! plain {
    ($f:path) => {
        crate::env::test(&crate::env::name(stringify!($f)), $f)
    };
}
