//! Third-party policy engines on the netns world (`netpol run --cni
//! kube-router|calico-felix|kube-network-policies`), for real. Trials that
//! need root, tools or the built engines are reported ignored with the
//! reason, or fail with `NETPOL_REQUIRE_ENV=1` (CI).

#[macro_use]
#[path = "common/env.rs"]
mod env;

use std::path::PathBuf;
use std::process::Command;

use env::Needs;

fn netpol_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_netpol"))
}

fn cases() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cases")
}

/// Whether this kernel takes one nftables `queue` rule, asked directly
/// (in a network namespace of its own, gone when nft exits).
fn kernel_has_nft_queue() -> bool {
    use std::io::Write;
    let mut child = Command::new("unshare")
        .args(["--net", "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("unshare runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(
            b"table ip t {\n chain c {\n  type filter hook input priority 0;\n  queue num 7\n }\n}\n",
        )
        .expect("write");
    child.wait().expect("wait").success()
}

/// On a kernel without the nftables queue expression (this machine's), the
/// run stops before building anything, exit 2, saying what is missing; on
/// one with it the check passes and the run goes on to need the control plane.
fn kube_network_policies_is_refused_with_exit_2_where_the_kernel_lacks_nft_queue() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("knp-queue-check");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let output = Command::new(netpol_exe())
        .args([
            "run",
            "--cni",
            "kube-network-policies",
            "--filter",
            "deny-all",
        ])
        .arg("--cases")
        .arg(cases())
        .env("NETPOL_ENGINES_DIR", dir.join("engines"))
        .output()
        .expect("netpol runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if kernel_has_nft_queue() {
        assert!(
            !stderr.contains("needs the nft queue expression"),
            "the kernel has it: {stderr}"
        );
        return;
    }
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("kube-network-policies needs the nft queue expression (CONFIG_NFT_QUEUE)"),
        "{stderr}"
    );
    assert!(stderr.contains("No such file or directory"), "{stderr}");
}

/// kube-router's nftables backend is v2.11+, which the proxy here does not
/// serve: refused before anything, exit 2, with that reason.
fn kube_router_nft_is_refused_with_the_reason_it_cannot_be_built_here() {
    let output = Command::new(netpol_exe())
        .args(["run", "--cni", "kube-router-nft", "--cases"])
        .arg(cases())
        .output()
        .expect("netpol runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("answers 403 for the .mod and .zip of v2.11.x"),
        "{stderr}"
    );
}

fn main() -> std::process::ExitCode {
    env::run(vec![
        gated!(
            Needs::Netns,
            kube_network_policies_is_refused_with_exit_2_where_the_kernel_lacks_nft_queue
        ),
        plain!(kube_router_nft_is_refused_with_the_reason_it_cannot_be_built_here),
    ])
}
