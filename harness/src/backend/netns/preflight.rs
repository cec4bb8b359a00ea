//! What the netns backend needs before it touches anything, each missing piece
//! reported with the fix.

use std::path::PathBuf;

/// The tools the backend runs, found on `PATH`.
#[derive(Clone, Debug)]
pub struct Tools {
    pub ip: PathBuf,
    /// `setpriv --pdeathsig` makes children die with the harness, even on SIGKILL.
    pub setpriv: Option<PathBuf>,
}

/// Checks privileges and tools; `needs_nft` for the reference enforcer.
pub fn check(needs_nft: bool) -> Result<Tools, String> {
    if !cfg!(target_os = "linux") {
        return Err(
            "the netns backend needs Linux network namespaces; use --backend oracle elsewhere"
                .into(),
        );
    }
    if effective_uid() != Some(0) {
        return Err(
            "the netns backend creates network namespaces and needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN), \
             or a kernel that lets ordinary users create user namespaces \
             (`sysctl kernel.unprivileged_userns_clone=1`, and on Ubuntu \
             `sysctl kernel.apparmor_restrict_unprivileged_userns=0`): \
             run it as root, e.g. `sudo -E env PATH=\"$PATH\" cargo run -p netpol-harness -- run`, \
             or use `--backend oracle`"
                .into(),
        );
    }
    let ip = which::which("ip")
        .map_err(|_| "`ip` not found: install iproute2 (`apt-get install iproute2`)".to_owned())?;
    if needs_nft && which::which("nft").is_err() {
        return Err("`nft` not found: the reference enforcer needs nftables (`apt-get install nftables`), or run with `--cni none`".into());
    }
    Ok(Tools {
        ip,
        setpriv: which::which("setpriv").ok(),
    })
}

/// The effective user id, from `/proc/self/status` (no libc needed).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The running kernel, for the results file.
pub fn kernel() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Set in the environment of a run re-executed inside a user namespace.
pub const USERNS_MARKER: &str = "NETPOL_IN_USER_NAMESPACE";

/// An ordinary user gets the netns backend inside an unprivileged user
/// namespace, where they are root over their own network and mount
/// namespaces; a private tmpfs on /run holds `ip netns` names. Returns the
/// re-executed run's exit code, or `None` when no re-execution is needed or
/// possible (then `check` explains what to do).
pub fn reexec_in_user_namespace() -> Option<u8> {
    if effective_uid() == Some(0) || std::env::var_os(USERNS_MARKER).is_some() {
        return None;
    }
    let unshare = which::which("unshare").ok()?;
    let allowed = std::process::Command::new(&unshare)
        .args(["--user", "--map-root-user", "--mount", "--net", "true"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !allowed {
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    let status = std::process::Command::new(unshare)
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
        .env(USERNS_MARKER, "1")
        .status()
        .ok()?;
    Some(status.code().map_or(crate::exit::INTERRUPTED, |code| {
        u8::try_from(code).unwrap_or(crate::exit::BAD_INPUT)
    }))
}
