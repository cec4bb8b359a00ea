//! The checks behind each fuzz target. Every check panics on a broken
//! invariant; returning is success. Shared with the workspace's
//! `harness/tests/fuzz_regressions.rs`, which replays saved inputs (this file
//! and `snapshot_input.rs` are included there by path, as
//! `harness/tests/common/{agreement,projection}.rs` are here, so they name
//! only `crate::{snapshot_input, agreement, projection}` and the workspace's
//! crates).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use netpol_harness::case;
use netpol_harness::model::Model;
use netpol_harness::truth;

/// A case file's bytes: loading never panics, and a case that loads has one
/// full table per probed port in every step (or the oracle fills them in).
pub fn case_load(bytes: &[u8]) {
    if bytes.len() as u64 > case::MAX_CASE_BYTES {
        return;
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let model = Model::default();
    if let Ok(case) = case::parse_case(text, Path::new("cases/fuzz.yaml"), &model) {
        for step in &case.steps {
            let complete = step.expect == case::Expectation::Oracle
                || case.probes.iter().all(|p| step.expect.table(p).is_some());
            assert!(complete, "a step without a table for a probed port");
        }
    }
}

/// A truth table's text: parsing never panics, and what parses prints back
/// into the same table.
pub fn truth_table(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let pods = Model::default().pod_ids();
    if let Ok(table) = truth::parse(text, &pods) {
        let again = truth::parse(&table.render(), &pods).expect("a rendered table parses");
        assert_eq!(again, table, "render and parse disagree");
    }
}

/// How often the compiler target also asks the kernel (`nft -c`): every
/// input would make the target a hundred times slower.
pub const NFT_CHECK_EVERY: u64 = 256;

static COMPILED: AtomicU64 = AtomicU64::new(0);

/// A snapshot: the compiler never panics, renders deterministically, the
/// text loads into the in-memory nftables (`netpol_enforcer::eval`) as
/// `nft -f` would load it, the rulesets let through exactly what the
/// oracle allows when a cluster could hold the snapshot, and (for a
/// sample, when `nft` can be run) the kernel's parser accepts the text.
pub fn enforcer_compile(input: &crate::snapshot_input::Input) {
    let bytes = serde_json::to_vec(&input.snapshot()).expect("json");
    let Ok(snapshot) = netpol_enforcer::Snapshot::from_json(&bytes) else {
        return;
    };
    let text = compiled_text(&snapshot);
    evaluated(&snapshot, &text);
    let n = COMPILED.fetch_add(1, Ordering::Relaxed);
    if n.is_multiple_of(NFT_CHECK_EVERY) && nft_usable() {
        nft_accepts(&text);
    }
}

/// Compiles for the first node, twice, and renders: the two must agree.
pub fn compiled_text(snapshot: &netpol_enforcer::Snapshot) -> String {
    let node = crate::snapshot_input::NODES[0];
    let first = netpol_enforcer::render(&netpol_enforcer::compile(snapshot, node));
    let second = netpol_enforcer::render(&netpol_enforcer::compile(snapshot, node));
    assert_eq!(first, second, "the compiler is not deterministic");
    assert!(
        first.contains("table inet netpol {\n"),
        "no table:\n{first}"
    );
    first
}

/// The root-free half of the target, for one compiled snapshot and its
/// text: the text loads, and the nodes' rulesets for the part of the
/// snapshot a cluster could hold (`projection::project`) agree with the oracle
/// cell by cell. Returns whether the oracle was asked.
pub fn evaluated(snapshot: &netpol_enforcer::Snapshot, text: &str) -> bool {
    if let Err(error) = netpol_enforcer::eval::Nftables::load(text) {
        panic!("nft would refuse the compiler's output: {error}\n{text}");
    }
    let Some(valid) = crate::projection::project(snapshot) else {
        return false;
    };
    let nodes = crate::snapshot_input::NODES;
    let fabric = crate::agreement::fabric(&valid.snapshot, nodes).unwrap_or_else(|e| panic!("{e}"));
    if let Err(problems) =
        crate::agreement::compare(&valid.world, &valid.endpoints, &fabric, &valid.probes)
    {
        panic!(
            "the enforcer's rulesets and the oracle disagree on the valid part of the snapshot,\n{}\n{}",
            serde_json::to_string(&valid.snapshot).unwrap_or_default(),
            problems.join("\n")
        );
    }
    true
}

/// Whether `nft -c` can run here (root and nft installed).
pub fn nft_usable() -> bool {
    static USABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *USABLE.get_or_init(|| netpol_enforcer::check("table inet netpol_fuzz_probe {}\n").is_ok())
}

/// `nft -c` must accept `text`; it checks against the kernel and commits nothing.
pub fn nft_accepts(text: &str) {
    if let Err(error) = netpol_enforcer::check(text) {
        panic!(
            "nft -c rejects the compiler's output: {}\n{text}",
            netpol_enforcer::local::error_chain(&error)
        );
    }
}
