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
    if !is_root() {
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

/// Whether this process runs as root (in its user namespace).
pub fn is_root() -> bool {
    effective_uid() == Some(0)
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
