//! `netpol bench enforcer`: the reference enforcer's compile and apply time
//! as policies grow, and the new-connection rate through a node with and
//! without a thousand policies installed.

use std::time::{Duration, Instant};

use k8s_openapi::api::networking::v1::NetworkPolicy;

use super::oracle::ms;
use super::world::Rng;
use crate::backend::Backend;
use crate::backend::netns::NetnsBackend;
use crate::model::{Change, Model, World};
use crate::timeouts::Timeouts;

/// Policy counts measured for compile and apply.
pub const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];
/// Policies installed while the connection rate is measured.
pub const RATE_POLICIES: usize = 1_000;
/// How long each connection flood lasts (the flood closes by reset, so no
/// source port waits in TIME_WAIT however many floods run).
pub const FLOOD: Duration = Duration::from_secs(1);
/// Flood pairs (without, with policies) of `bench enforcer`.
pub const PAIRS: usize = 30;
const FLOOD_WORKERS: usize = 8;

/// `count` ingress policies over the default model; every one of them leaves
/// `x/a → y/a tcp/80` allowed, so a flood between them measures cost, not denial.
pub fn policies(count: usize, seed: u64) -> Vec<NetworkPolicy> {
    let mut rng = Rng::new(seed);
    let names = ["a", "b", "c"];
    let namespaces = ["x", "y", "z"];
    let mut out: Vec<NetworkPolicy> = (0..count)
        .map(|i| {
            let ns = namespaces[rng.below(3)];
            let peer = match rng.below(4) {
                0 => serde_json::json!({"podSelector": {"matchLabels": {"pod": names[rng.below(3)]}}}),
                1 => serde_json::json!({"namespaceSelector": {"matchLabels": {"ns": namespaces[rng.below(3)]}}}),
                2 => serde_json::json!({"namespaceSelector": {}, "podSelector": {"matchLabels": {"pod": names[rng.below(3)]}}}),
                _ => serde_json::json!({"ipBlock": {"cidr": format!("10.{}.{}.0/24", rng.below(256), rng.below(256))}}),
            };
            let start = 1_000 + rng.below(60_000) as u16;
            let port = match rng.below(3) {
                0 => serde_json::json!({"port": start}),
                1 => serde_json::json!({"protocol": "UDP", "port": start, "endPort": start + rng.below(100) as u16}),
                _ => serde_json::json!({"port": "serve-81-tcp"}),
            };
            let json = serde_json::json!({
                "metadata": {"name": format!("bench-{i}"), "namespace": ns},
                "spec": {"podSelector": {"matchLabels": {"pod": names[rng.below(3)]}}, "policyTypes": ["Ingress"],
                         "ingress": [{"from": [peer], "ports": [port]}]}
            });
            serde_json::from_value(json).expect("a valid policy")
        })
        .collect();
    let keep_open = serde_json::json!({
        "metadata": {"name": "bench-allow-x-a", "namespace": "y"},
        "spec": {"podSelector": {"matchLabels": {"pod": "a"}},
                 "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "x"}}, "podSelector": {"matchLabels": {"pod": "a"}}}],
                              "ports": [{"port": 80}]}]}
    });
    out.push(serde_json::from_value(keep_open).expect("a valid policy"));
    out
}

#[derive(Clone, Debug)]
pub struct SizeFigures {
    pub policies: usize,
    pub compile: Duration,
    pub apply: Duration,
    pub bytes: usize,
    pub warnings: usize,
}

/// Compiles and applies each size in node1 of a `--cni none` world (no
/// enforcer runs there to interfere).
pub async fn measure_sizes(
    backend: &mut NetnsBackend,
    model: &Model,
) -> Result<Vec<SizeFigures>, String> {
    let addresses = backend
        .setup(model)
        .await
        .map_err(|e| crate::error::chain(&e))?;
    let topology = backend.topology().cloned().ok_or("no topology")?;
    let node = &topology.nodes[0];
    let nft = netpol_enforcer::Nft::in_netns(&node.netns);
    let mut figures = Vec::new();
    for (i, size) in SIZES.into_iter().enumerate() {
        let mut world = World::new(model.clone(), addresses.clone());
        for policy in policies(size, i as u64) {
            world
                .apply(&Change::Apply(Box::new(policy)))
                .map_err(|e| e.to_string())?;
        }
        let snapshot = crate::backend::netns::snapshot(&world, &topology, 1);
        let started = Instant::now();
        let ruleset = netpol_enforcer::compile(&snapshot, &node.name);
        let text = netpol_enforcer::render(&ruleset);
        let compile = started.elapsed();
        let started = Instant::now();
        nft.apply(&text)
            .map_err(|e| format!("applying {size} policies: {e}"))?;
        let apply = started.elapsed();
        figures.push(SizeFigures {
            policies: size,
            compile,
            apply,
            bytes: text.len(),
            warnings: ruleset.warnings.len(),
        });
    }
    backend
        .teardown()
        .await
        .map_err(|e| crate::error::chain(&e))?;
    Ok(figures)
}

/// What one flood counted.
#[derive(Clone, Copy, Debug)]
pub struct Flood {
    /// New TCP connections per second from x/a to y/a (across the two nodes).
    pub rate: f64,
    pub connections: u64,
    /// Connects that failed (refused, reset, no source port): counted and
    /// shown; more than [`MOST_FAILURES`] of them fails the measurement.
    pub failures: u64,
}

/// The share of failed connects above which a flood measures a broken path,
/// not a rate: an allowed path fails none but for the odd reset under load.
const MOST_FAILURES: f64 = 0.01;

/// Floods x/a → y/a for [`FLOOD`].
pub(super) async fn flood_rate(backend: &NetnsBackend) -> Result<Flood, String> {
    let topology = backend.topology().ok_or("no topology")?;
    let target = &topology.pods[3];
    let args = [
        "flood".to_owned(),
        "--target".to_owned(),
        format!("{}={}:tcp/80", target.id, target.ip),
        "--workers".to_owned(),
        FLOOD_WORKERS.to_string(),
        "--duration-ms".to_owned(),
        FLOOD.as_millis().to_string(),
    ];
    let (program, args) = backend.agent_command(0, &args).map_err(|e| e.to_string())?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = crate::command::run(&program, &args, None, FLOOD + Timeouts::NETNS_COMMAND)
        .await
        .map_err(|e| e.to_string())?;
    let flooded: netpol_probe::Flooded =
        serde_json::from_str(output.stdout.trim()).map_err(|e| e.to_string())?;
    let tried = (flooded.connections + flooded.failures).max(1) as f64;
    if flooded.connections == 0 || flooded.failures as f64 / tried > MOST_FAILURES {
        return Err(format!(
            "the flood x/a → y/a did not get through: {flooded:?}"
        ));
    }
    Ok(Flood {
        rate: flooded.connections as f64 / (flooded.micros as f64 / 1e6),
        connections: flooded.connections,
        failures: flooded.failures,
    })
}

pub(super) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[derive(Clone, Debug)]
pub struct RateFigures {
    pub pairs: Pairs,
    pub install: Duration,
}

/// Flood pairs: connections per second `(without, with)` per pair, in
/// order, and the connects of all floods, failed and made.
#[derive(Clone, Debug, Default)]
pub struct Pairs {
    pub rates: Vec<(f64, f64)>,
    pub connections: u64,
    pub failures: u64,
}

/// Floods x/a → y/a alternately (A B A B …) on two reference worlds that
/// exist at once, one without policies and one with [`RATE_POLICIES`], so
/// that a machine whose load changes treats both alike and no flood waits
/// for a reprogramming. Both worlds are removed on every path.
pub async fn measure_rate(
    open: &mut NetnsBackend,
    loaded: &mut NetnsBackend,
    model: &Model,
) -> Result<RateFigures, String> {
    open.setup(model)
        .await
        .map_err(|e| crate::error::chain(&e))?;
    loaded
        .setup(model)
        .await
        .map_err(|e| crate::error::chain(&e))?;
    let changes: Vec<Change> = policies(RATE_POLICIES, 7)
        .into_iter()
        .map(|p| Change::Apply(Box::new(p)))
        .collect();
    let started = Instant::now();
    loaded
        .change(&changes)
        .await
        .map_err(|e| crate::error::chain(&e))?;
    let install = started.elapsed();
    let pairs = flood_pairs(open, loaded, PAIRS).await?;
    for world in [open, loaded] {
        world
            .teardown()
            .await
            .map_err(|e| crate::error::chain(&e))?;
    }
    Ok(RateFigures { pairs, install })
}

/// `pairs` flood pairs: first `open` (no policies), then `loaded`.
pub async fn flood_pairs(
    open: &NetnsBackend,
    loaded: &NetnsBackend,
    pairs: usize,
) -> Result<Pairs, String> {
    let mut out = Pairs::default();
    for _ in 0..pairs {
        let without = flood_rate(open).await?;
        let with = flood_rate(loaded).await?;
        out.rates.push((without.rate, with.rate));
        out.connections += without.connections + with.connections;
        out.failures += without.failures + with.failures;
    }
    Ok(out)
}

pub fn report(sizes: &[SizeFigures], rate: &RateFigures) -> String {
    let mut out = String::from(
        "method: generated ingress policies over the default world (pod, namespace, namespace+pod and ipBlock peers; \
         numeric, endPort-range and named ports); compile = snapshot to rendered nft text for node1, apply = one \
         `nft -f -` transaction in node1's namespace\n",
    );
    for s in sizes {
        out.push_str(&format!(
            "{} policies: compile {:.1} ms, apply {:.1} ms, ruleset {} bytes, {} warnings\n",
            s.policies,
            ms(s.compile),
            ms(s.apply),
            s.bytes,
            s.warnings
        ));
    }
    let ratios = super::engines::ratios(&rate.pairs.rates);
    let (without, with): (Vec<f64>, Vec<f64>) = rate.pairs.rates.iter().copied().unzip();
    let (q1, m, q3) = super::engines::quartiles(&ratios).unwrap_or((0.0, 0.0, 0.0));
    out.push_str(&format!(
        "connection rate x/a → y/a (cross-node, {FLOOD_WORKERS} workers, {} pairs of {} s floods alternating between a \
         world without policies and one with {RATE_POLICIES}, installed through the enforcer in {:.0} ms): median \
         {:.0}/s without, {:.0}/s with ({} of {} connects failed); ratio with/without per pair: median {m:.2}, \
         interquartile range {q1:.2}–{q3:.2}: {}\n",
        rate.pairs.rates.len(),
        FLOOD.as_secs(),
        ms(rate.install),
        if without.is_empty() { 0.0 } else { median(without) },
        if with.is_empty() { 0.0 } else { median(with) },
        rate.pairs.failures,
        rate.pairs.connections + rate.pairs.failures,
        super::engines::claim(q1, m, q3),
    ));
    let largest = sizes.last().map_or(0.0, |s| ms(s.compile + s.apply));
    out.push_str(&format!(
        "enforcer: {} policies compile+apply {largest:.0} ms, conn rate {RATE_POLICIES}/0 policies {m:.2} [{q1:.2}–{q3:.2}]",
        sizes.last().map_or(0, |s| s.policies),
    ));
    out
}
