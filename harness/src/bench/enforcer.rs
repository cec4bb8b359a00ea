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

/// Policy counts measured for compile and apply.
pub const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];
/// Policies installed while the connection rate is measured.
pub const RATE_POLICIES: usize = 1_000;
/// How long each connection flood lasts, and how many floods give the median.
/// Short floods: each opens thousands of connections, and their TIME_WAIT
/// ports must not run out over all of them.
pub const FLOOD: Duration = Duration::from_secs(1);
pub const FLOODS: usize = 5;
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

/// New TCP connections per second from x/a to y/a (across the two nodes).
pub(super) async fn flood_rate(backend: &NetnsBackend) -> Result<f64, String> {
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
    let output = crate::command::run(&program, &args, None, FLOOD * 3)
        .await
        .map_err(|e| e.to_string())?;
    let flooded: netpol_probe::Flooded =
        serde_json::from_str(output.stdout.trim()).map_err(|e| e.to_string())?;
    if flooded.connections == 0 || flooded.failures > 0 {
        return Err(format!(
            "the flood did not get through cleanly: {flooded:?}"
        ));
    }
    Ok(flooded.connections as f64 / (flooded.micros as f64 / 1e6))
}

pub(super) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[derive(Clone, Debug)]
pub struct RateFigures {
    pub without: f64,
    pub with: f64,
    pub install: Duration,
}

/// Floods x/a → y/a on a reference world, alternately without and with the
/// policies, so that a machine whose load changes treats both alike.
pub async fn measure_rate(
    backend: &mut NetnsBackend,
    model: &Model,
) -> Result<RateFigures, String> {
    backend
        .setup(model)
        .await
        .map_err(|e| crate::error::chain(&e))?;
    let changes: Vec<Change> = policies(RATE_POLICIES, 7)
        .into_iter()
        .map(|p| Change::Apply(Box::new(p)))
        .collect();
    let (mut without, mut with, mut installs) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..FLOODS {
        backend.reset().await.map_err(|e| crate::error::chain(&e))?;
        without.push(flood_rate(backend).await?);
        let started = Instant::now();
        backend
            .change(&changes)
            .await
            .map_err(|e| crate::error::chain(&e))?;
        installs.push(started.elapsed().as_secs_f64());
        with.push(flood_rate(backend).await?);
    }
    backend
        .teardown()
        .await
        .map_err(|e| crate::error::chain(&e))?;
    let install = Duration::from_secs_f64(median(installs));
    Ok(RateFigures {
        without: median(without),
        with: median(with),
        install,
    })
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
    out.push_str(&format!(
        "connection rate x/a → y/a (cross-node, {FLOOD_WORKERS} workers, medians of {FLOODS} alternating floods of {} s each): \
         {:.0}/s with 0 policies, {:.0}/s with {RATE_POLICIES} policies (installed through the enforcer in {:.0} ms)\n",
        FLOOD.as_secs(),
        rate.without,
        rate.with,
        ms(rate.install)
    ));
    let largest = sizes.last().map_or(0.0, |s| ms(s.compile + s.apply));
    out.push_str(&format!(
        "enforcer: {} policies compile+apply {largest:.0} ms, conn rate {RATE_POLICIES}/0 policies {:.2}",
        sizes.last().map_or(0, |s| s.policies),
        rate.with / rate.without.max(1e-9)
    ));
    out
}
