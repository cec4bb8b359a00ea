//! `netpol run --backend netns` as an ordinary user: the run is executed
//! again inside an unprivileged user namespace, where the user is root over
//! their own network and mount namespaces; a private tmpfs on /run holds the
//! `ip netns` names, so nothing outside the namespace ever sees them.

use std::process::Stdio;

use crate::exit;

/// Set in the environment of a run executed again inside a user namespace.
pub const USERNS_MARKER: &str = "NETPOL_IN_USER_NAMESPACE";

/// Runs this command again inside a user namespace and returns its exit
/// code, or `None` when that is not needed (root, or already inside) or not
/// possible (then the backend's preflight says what to do).
pub fn reexec_in_user_namespace() -> Option<u8> {
    if crate::backend::netns::is_root() || std::env::var_os(USERNS_MARKER).is_some() {
        return None;
    }
    let unshare = which::which("unshare").ok()?;
    let allowed = std::process::Command::new(&unshare)
        .args(["--user", "--map-root-user", "--mount", "--net", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !allowed {
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    let mut command = tokio::process::Command::new(unshare);
    command
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "--net",
            "--",
            "sh",
            "-c",
        ])
        .arg(r#"mount -t tmpfs netpol-run /run && exec "$@""#)
        .arg("sh")
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env(USERNS_MARKER, "1");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    runtime.block_on(wait_forwarding_signals(command))
}

/// Starts the inner run and waits for it. SIGINT and SIGTERM are passed on
/// to it (a Ctrl-C reaches it anyway; a `kill` of this process would not),
/// so it removes its world and ends with its own code (130) before this one does.
async fn wait_forwarding_signals(mut command: tokio::process::Command) -> Option<u8> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).ok()?;
    let mut term = signal(SignalKind::terminate()).ok()?;
    let mut child = command.spawn().ok()?;
    let pid = child
        .id()
        .and_then(|id| rustix::process::Pid::from_raw(i32::try_from(id).ok()?));
    let forward = |signal: rustix::process::Signal| {
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, signal);
        }
    };
    let status = loop {
        tokio::select! {
            status = child.wait() => break status.ok()?,
            _ = int.recv() => forward(rustix::process::Signal::INT),
            _ = term.recv() => forward(rustix::process::Signal::TERM),
        }
    };
    // Killed by a signal it could not handle: report it as an interruption.
    Some(status.code().map_or(exit::INTERRUPTED, |code| {
        u8::try_from(code).unwrap_or(exit::BAD_INPUT)
    }))
}
