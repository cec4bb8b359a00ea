//! The gate of the tests that build network namespaces: they need root,
//! iproute2 and nftables. Without them a test skips and says why, unless
//! `NETPOL_REQUIRE_NETNS=1` (set by CI) makes that a failure.

/// Whether netns worlds can be built here; `what` names the tests for the skip message.
pub fn privileged(what: &str) -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false);
    let tools = which::which("ip").is_ok() && which::which("nft").is_ok();
    if root && tools {
        return true;
    }
    let reason = if root {
        "`ip` or `nft` missing"
    } else {
        "not root"
    };
    assert!(
        std::env::var("NETPOL_REQUIRE_NETNS").as_deref() != Ok("1"),
        "NETPOL_REQUIRE_NETNS=1 but {reason}"
    );
    eprintln!("skipped: {what} need root, iproute2 and nftables ({reason})");
    false
}
