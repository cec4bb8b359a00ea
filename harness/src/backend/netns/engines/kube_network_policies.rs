//! kube-network-policies (sigs.k8s.io, kindnet's engine, the upstream
//! reference implementation): it sends the first packet of every connection
//! to userspace with the nftables `queue` statement
//! (pkg/dataplane/controller.go:665, `expr.Queue{Num: QueueID}` with the
//! bypass flag while `--fail-open`), decides there, and marks the
//! connection. A kernel without the nftables queue expression
//! (CONFIG_NFT_QUEUE) refuses its ruleset, so it is checked first.

use std::path::Path;

use super::{Launch, NodeEnv};
use crate::timeouts::Timeouts;

pub const TOOLS: &[(&str, &str)] = &[("nft", "nftables"), ("unshare", "util-linux")];

/// Its table, created with its first ruleset (pkg/dataplane/controller.go,
/// `NFTableName` default).
pub const PROGRAMMED: &[&str] = &["nft", "list", "table", "inet", "kube-network-policies"];

/// What the host check reports when the kernel lacks the expression.
pub const NO_QUEUE: &str = "needs the nft queue expression (CONFIG_NFT_QUEUE)";

/// One rule with the statement kube-network-policies programs (its default
/// queue 100, bypass), loaded in a throwaway network namespace.
pub const QUEUE_PROBE: &str = "table inet netpol_queue_check {\n\
    \tchain forward {\n\
    \t\ttype filter hook forward priority 0; policy accept;\n\
    \t\tqueue num 100 bypass\n\
    \t}\n\
    }\n";

/// Loads [`QUEUE_PROBE`] with `unshare --net nft -f -` (on stdin): the namespace exists
/// only while nft runs, so nothing is left and the host's own netfilter is
/// never touched.
pub async fn host_check() -> Result<(), String> {
    if let Some(missing) = super::missing_tools(TOOLS) {
        return Err(format!("kube-network-policies: {missing}"));
    }
    let result = crate::command::run(
        "unshare",
        &["--net", "nft", "-f", "-"],
        Some(QUEUE_PROBE.as_bytes()),
        Timeouts::NETNS_COMMAND,
    )
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) => {
            let detail = crate::error::chain(&e);
            // nft: "Could not process rule: No such file or directory" when the
            // kernel has no `queue` expression (nf_tables looks it up by name).
            if detail.contains("No such file or directory") {
                Err(format!(
                    "kube-network-policies {NO_QUEUE}, which this kernel lacks: loading one \
                     `queue num 100 bypass` rule in a throwaway network namespace fails ({})",
                    last_line(&detail)
                ))
            } else {
                Err(format!(
                    "kube-network-policies: checking the nft queue expression failed: {detail}"
                ))
            }
        }
    }
}

fn last_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|l| l.contains("No such file or directory"))
        .unwrap_or(text)
}

pub fn launch(node: &NodeEnv, engines: &Path) -> Launch {
    Launch {
        program: crate::engines::KUBE_NETWORK_POLICIES.binary(engines),
        args: vec![
            format!("--kubeconfig={}", node.kubeconfig.display()),
            format!("--hostname-override={}", node.node),
            // No container runtime runs here, so no NRI socket: pod IPs come
            // from the API (the world writes them before anything probes).
            "--disable-nri=true".into(),
        ],
        env: Vec::new(),
        files: Vec::new(),
        tmpfs: Vec::new(),
        shims: Vec::new(),
    }
}
