//! `netpol bench engines`: every policy engine netpol runs on the netns world
//! (the reference enforcer in controller mode and each third-party engine),
//! measured in one run, through the same API server build, side by side.
//!
//! Per engine:
//! - **time to enforce** through the API server: the method of `bench
//!   enforce-latency` (a watcher probing x/a → y/a tcp/80 every 2 ms, changes
//!   that alternately isolate y/a and lift it), each change written through
//!   the API once the previous one was seen enforced;
//! - **new-connection rate** cross-node (x/a on node1 → y/a on node2) with
//!   1,000 policies relative to none. Two worlds of the engine exist at once,
//!   one without policies and one with the thousand (checked against the
//!   oracle before any flood), and one-second floods alternate between them,
//!   A B A B …, so a machine whose load drifts treats both alike; each pair
//!   gives a ratio, and the median ratio is reported with its interquartile
//!   range. Toggling the thousand policies in one world instead would time
//!   the engine's reprogramming (a kube-router full sync of 1,000 policies
//!   takes tens of seconds), not the dataplane.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::enforcer::{flood_pairs, median, policies};
use super::latency::{self, percentile};
use super::oracle::ms;
use crate::backend::Backend;
use crate::backend::netns::engines::Engine;
use crate::backend::netns::{Cni, NetnsBackend};
use crate::model::{Addresses, Change, Model, Probe, Protocol, World};
use crate::oracle::Oracle;
use crate::timeouts::Timeouts;

/// Defaults of the command line: the minimums.
pub const CHANGES: usize = 100;
pub const PAIRS: usize = 30;
pub const POLICIES: usize = 1_000;
/// The seed of the generated policies (the same as `bench enforcer`'s rate).
const POLICY_SEED: u64 = 7;
/// Below this interquartile range (in ratio units) around a median whose
/// range contains 1, "no measurable cost" is a claim the spread allows.
pub const PRECISE_IQR: f64 = 0.10;

/// What to measure, in order.
#[derive(Clone, Debug)]
pub enum Subject {
    /// The reference enforcer in controller mode, watching the API server.
    Reference,
    Engine(Engine),
    /// Named in the table with why it cannot run here (not measured).
    Refused {
        name: &'static str,
        version: &'static str,
        reason: String,
    },
}

impl Subject {
    pub fn name(&self) -> &'static str {
        match self {
            Subject::Reference => "reference",
            Subject::Engine(engine) => engine.name(),
            Subject::Refused { name, .. } => name,
        }
    }

    pub fn version(&self) -> &'static str {
        match self {
            Subject::Reference => env!("CARGO_PKG_VERSION"),
            Subject::Engine(engine) => engine.version(),
            Subject::Refused { version, .. } => version,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub changes: usize,
    pub pairs: usize,
    pub policies: usize,
}

/// One engine's figures.
#[derive(Clone, Debug)]
pub struct Figures {
    /// The first world: control plane, engine started and programmed.
    pub setup: Duration,
    pub latency: latency::Measured,
    /// Writing the policies through the API server.
    pub install: Duration,
    /// From the last write until every node's rules last changed.
    pub programmed: Duration,
    /// Per node, bytes of its rules once programmed (ruleset and ipsets).
    pub rule_bytes: Vec<usize>,
    /// tcp/80 cells of the policy world that differ from the oracle.
    pub differing: Vec<String>,
    /// The flood pairs, in flood order.
    pub pairs: super::enforcer::Pairs,
    /// The machine's 1-minute load average when the engine's measurement
    /// began and ended (other work on the machine skews the absolute figures).
    pub load: (f64, f64),
}

/// The 1-minute load average, from /proc/loadavg (0 where unreadable).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

#[derive(Clone, Debug)]
pub enum Outcome {
    Measured(Box<Figures>),
    /// It cannot run here, and why.
    NotRunnable(String),
    /// It ran and the measurement failed: why.
    Failed(String),
}

#[derive(Clone, Debug)]
pub struct Row {
    pub name: &'static str,
    pub version: &'static str,
    pub outcome: Outcome,
}

/// Why `engine` cannot run here, if it cannot: the host (kernel features,
/// tools) or the build.
pub async fn unavailable(engine: Engine) -> Option<String> {
    if let Err(reason) = engine.host_check().await {
        return Some(reason);
    }
    if let Some(missing) = crate::backend::netns::engines::missing_tools(engine.tools()) {
        return Some(missing);
    }
    let dir = match crate::engines::engines_dir() {
        Ok(dir) => dir,
        Err(e) => return Some(e),
    };
    let component = engine.component();
    match crate::engines::status(component, &dir).await {
        crate::engines::Status::Built(_) => None,
        other => Some(format!(
            "{} is {}: run `netpol engines build {}`",
            component.label(),
            other.word(),
            component.name
        )),
    }
}

/// Measures every subject in turn; one that fails does not stop the others.
pub async fn measure(
    subjects: &[Subject],
    exe: PathBuf,
    binaries: crate::controlplane::Binaries,
    model: &Model,
    options: Options,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for subject in subjects {
        let cni = match subject {
            Subject::Reference => Cni::Reference,
            Subject::Engine(engine) => Cni::Engine(*engine),
            Subject::Refused { reason, .. } => {
                rows.push(row(subject, Outcome::NotRunnable(reason.clone())));
                continue;
            }
        };
        if let Cni::Engine(engine) = cni
            && let Some(reason) = unavailable(engine).await
        {
            rows.push(row(subject, Outcome::NotRunnable(reason)));
            continue;
        }
        eprintln!("netpol bench engines: measuring {}", subject.name());
        let world = || NetnsBackend::new(cni, exe.clone()).with_control_plane(binaries.clone());
        let outcome = match measure_one(world, model, options).await {
            Ok(figures) => Outcome::Measured(Box::new(figures)),
            Err(reason) => Outcome::Failed(reason),
        };
        rows.push(row(subject, outcome));
    }
    rows
}

fn row(subject: &Subject, outcome: Outcome) -> Row {
    Row {
        name: subject.name(),
        version: subject.version(),
        outcome,
    }
}

fn chain(e: &crate::backend::BackendError) -> String {
    crate::error::chain(e)
}

/// Both worlds of one engine; each is removed when dropped, on every path.
async fn measure_one(
    world: impl Fn() -> NetnsBackend,
    model: &Model,
    options: Options,
) -> Result<Figures, String> {
    let load_before = load_average();
    let mut open = world();
    let started = Instant::now();
    open.setup(model).await.map_err(|e| chain(&e))?;
    let setup = started.elapsed();
    let latency = latency::measure_on(&mut open, options.changes).await?;
    open.reset().await.map_err(|e| chain(&e))?;
    await_all_connected(&mut open).await?;

    let mut loaded = world();
    let addresses = loaded.setup(model).await.map_err(|e| chain(&e))?;
    let policies = policies(options.policies, POLICY_SEED);
    let changes: Vec<Change> = policies
        .into_iter()
        .map(|p| Change::Apply(Box::new(p)))
        .collect();
    let started = Instant::now();
    loaded.change(&changes).await.map_err(|e| chain(&e))?;
    let install = started.elapsed();
    let (programmed, rule_bytes) = rules_settled(&loaded).await?;
    let differing = against_oracle(&mut loaded, model, addresses, &changes).await?;

    let pairs = flood_pairs(&open, &loaded, options.pairs).await?;
    let removed: Vec<String> = [open.teardown().await, loaded.teardown().await]
        .into_iter()
        .filter_map(Result::err)
        .map(|e| chain(&e))
        .collect();
    if !removed.is_empty() {
        return Err(format!("removing the worlds: {}", removed.join("; ")));
    }
    Ok(Figures {
        setup,
        latency,
        install,
        programmed,
        rule_bytes,
        differing,
        pairs,
        load: (load_before, load_average()),
    })
}

fn tcp_80() -> Probe {
    Probe::new(Protocol::Tcp, 80)
}

/// After the latency changes and a reset: the floods' baseline world must
/// let every cell connect.
async fn await_all_connected(backend: &mut NetnsBackend) -> Result<(), String> {
    let started = Instant::now();
    loop {
        let matrix = backend.probe(&[tcp_80()]).await.map_err(|e| chain(&e))?;
        let table = &matrix[&tcp_80()];
        let n = table.pods().len();
        let closed = (0..n)
            .flat_map(|from| (0..n).map(move |to| (from, to)))
            .filter(|&(from, to)| {
                from != to && *table.get(from, to) != crate::probe::Observed::Connected
            })
            .count();
        if closed == 0 {
            return Ok(());
        }
        if started.elapsed() > Timeouts::BENCH_CHANGE {
            return Err(format!(
                "the world without policies still had {closed} closed tcp/80 cells after {:?}",
                Timeouts::BENCH_CHANGE
            ));
        }
        tokio::time::sleep(Timeouts::BENCH_POLL).await;
    }
}

/// One node's rules as text: its nftables ruleset without counters, and its
/// ipsets where the host has `ipset` (kube-router and Felix keep their pod
/// and CIDR sets there).
async fn node_rules(backend: &NetnsBackend, node: usize) -> Result<String, String> {
    let mut text = String::new();
    let mut commands = vec![vec!["nft", "-s", "list", "ruleset"]];
    if crate::backend::netns::engines::missing_tools(&[("ipset", "ipset")]).is_none() {
        commands.push(vec!["ipset", "save"]);
    }
    for argv in commands {
        let argv: Vec<String> = argv.into_iter().map(String::from).collect();
        let (program, args) = backend.node_command(node, &argv).map_err(|e| chain(&e))?;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = crate::command::run(&program, &args, None, Timeouts::NETNS_COMMAND)
            .await
            .map_err(|e| e.to_string())?;
        text.push_str(&output.stdout);
    }
    Ok(text)
}

/// Waits until no node's rules changed for `Timeouts::BENCH_RULES_STABLE`;
/// the time from the call to their last change, and each node's size then.
async fn rules_settled(backend: &NetnsBackend) -> Result<(Duration, Vec<usize>), String> {
    let nodes = backend.topology().ok_or("no topology")?.nodes.len();
    let started = Instant::now();
    let mut last: Vec<String> = Vec::new();
    let mut changed = Duration::ZERO;
    loop {
        let mut now = Vec::new();
        for node in 0..nodes {
            now.push(node_rules(backend, node).await?);
        }
        if now != last {
            changed = started.elapsed();
            last = now;
        } else if started.elapsed() - changed >= Timeouts::BENCH_RULES_STABLE {
            return Ok((changed, last.iter().map(String::len).collect()));
        }
        if started.elapsed() > Timeouts::BENCH_RULES_DEADLINE {
            return Err(format!(
                "the nodes' rules were still changing {:?} after the policies were written",
                Timeouts::BENCH_RULES_DEADLINE
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The tcp/80 cells (the diagonal aside) where the world with the policies
/// does not do what the oracle says of it, as `from → to: expected …, observed …`.
async fn against_oracle(
    backend: &mut NetnsBackend,
    model: &Model,
    addresses: Addresses,
    changes: &[Change],
) -> Result<Vec<String>, String> {
    let mut world = World::new(model.clone(), addresses);
    for change in changes {
        world.apply(change).map_err(|e| e.to_string())?;
    }
    let table = Oracle::new(&world)
        .map_err(|e| e.to_string())?
        .table(tcp_80());
    let matrix = backend.probe(&[tcp_80()]).await.map_err(|e| chain(&e))?;
    let observed = &matrix[&tcp_80()];
    if observed.pods() != table.pods() {
        return Err("the probed matrix and the oracle's list other pods".into());
    }
    let pods = table.pods();
    let mut differing = Vec::new();
    for from in 0..pods.len() {
        for to in 0..pods.len() {
            let seen = observed.get(from, to);
            if from != to && seen.reach() != Some(table.get(from, to)) {
                differing.push(format!(
                    "{} → {}: expected {}, observed {}",
                    pods[from],
                    pods[to],
                    match table.get(from, to) {
                        crate::truth::Reach::Allowed => "allowed",
                        crate::truth::Reach::Denied => "denied",
                    },
                    seen.word()
                ));
            }
        }
    }
    Ok(differing)
}

/// First quartile, median and third quartile (nearest rank) of `values`.
pub fn quartiles(values: &[f64]) -> Option<(f64, f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        let at = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[at.clamp(1, sorted.len()) - 1]
    };
    Some((rank(25.0), rank(50.0), rank(75.0)))
}

/// What the ratios allow one to say, from their quartiles.
pub fn claim(q1: f64, median: f64, q3: f64) -> String {
    let cost = |r: f64| (1.0 - r) * 100.0;
    if q3 < 1.0 {
        format!(
            "a cost: the whole interquartile range is below 1 (the rate {:.0}–{:.0} % lower with the policies)",
            cost(q3),
            cost(q1)
        )
    } else if q1 > 1.0 {
        format!(
            "faster with the policies over the whole interquartile range (median ×{median:.2}): not a cost, \
             and not a claim either — a drift the interleaving did not cancel"
        )
    } else if q3 - q1 <= PRECISE_IQR {
        format!(
            "no measurable cost: the interquartile range contains 1 and spans {:.2} (≤ {PRECISE_IQR:.2})",
            q3 - q1
        )
    } else {
        format!(
            "no claim: the interquartile range contains 1 but spans {:.2} (> {PRECISE_IQR:.2})",
            q3 - q1
        )
    }
}

/// The table's head, as docs/benchmarks.md carries it.
pub const TABLE_HEADER: &str = "| engine | version | time to enforce p50 / p99 / max | seen | API write p50 | \
    new conn/s, no policy (median) | with policies (median) | ratio median [IQR] | what the spread allows |\n\
    | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";

/// Per-pair ratios with/without.
pub fn ratios(pairs: &[(f64, f64)]) -> Vec<f64> {
    pairs
        .iter()
        .map(|&(without, with)| with / without.max(1e-9))
        .collect()
}

pub fn report(rows: &[Row], options: Options) -> String {
    let mut out = format!(
        "method: per engine, one netns world with the control plane (etcd, kube-apiserver {}) and the engine on both \
         nodes. time to enforce: {} changes through the API server, alternately isolating y/a and lifting it, a \
         watcher in x/a probing y/a tcp/80 every {} ms ({} ms timeout), each change written once the previous one was \
         seen for {} ms; latency = launch of the first probe from which on every probe shows the new state, minus the \
         start of the write. connection rate: a second world of the engine with {} policies written through the API \
         (their tcp/80 matrix checked against the oracle once the nodes' rules stopped changing for {} s); {} pairs of \
         {} s floods x/a → y/a (cross-node, 8 workers), alternating between the world without policies and the one \
         with them; ratio = with / without per pair; median and interquartile range of the ratios\n",
        crate::engines::KUBE_APISERVER.version,
        options.changes,
        latency::WATCH_EVERY.as_millis(),
        latency::WATCH_TIMEOUT.as_millis(),
        latency::CONFIRM.as_millis(),
        options.policies,
        Timeouts::BENCH_RULES_STABLE.as_secs(),
        options.pairs,
        super::enforcer::FLOOD.as_secs(),
    );
    out.push('\n');
    out.push_str(TABLE_HEADER);
    let mut summary = Vec::new();
    for row in rows {
        match &row.outcome {
            Outcome::Measured(f) => {
                let seen = f.latency.seen();
                let answers = f.latency.answers();
                let ratios = ratios(&f.pairs.rates);
                let (without, with): (Vec<f64>, Vec<f64>) = f.pairs.rates.iter().copied().unzip();
                let (rate, allows) = match quartiles(&ratios) {
                    Some((q1, m, q3)) => {
                        summary.push(format!(
                            "{} p50 {:.0} ms p99 {:.0} ms ratio {m:.2} [{q1:.2}–{q3:.2}]",
                            row.name,
                            ms(percentile(&seen, 50.0)),
                            ms(percentile(&seen, 99.0))
                        ));
                        (format!("{m:.2} [{q1:.2}–{q3:.2}]"), claim(q1, m, q3))
                    }
                    None => ("—".into(), "no pairs".into()),
                };
                let allows = if f.differing.is_empty() {
                    allows
                } else {
                    format!(
                        "{allows}; but {} tcp/80 cells of the policy world differ from the oracle (first: {})",
                        f.differing.len(),
                        f.differing[0]
                    )
                };
                out.push_str(&format!(
                    "| {} | {} | {:.0} / {:.0} / {:.0} ms | {} of {} | {:.1} ms | {:.0} | {:.0} | {rate} | {allows} |\n",
                    row.name,
                    row.version,
                    ms(percentile(&seen, 50.0)),
                    ms(percentile(&seen, 99.0)),
                    ms(seen.last().copied().unwrap_or_default()),
                    seen.len(),
                    f.latency.latencies.len(),
                    ms(percentile(&answers, 50.0)),
                    if without.is_empty() { 0.0 } else { median(without) },
                    if with.is_empty() { 0.0 } else { median(with) },
                ));
            }
            Outcome::NotRunnable(reason) | Outcome::Failed(reason) => {
                let (said, summed) = match row.outcome {
                    Outcome::Failed(_) => ("failed", "FAILED"),
                    _ => ("not runnable here", "not runnable"),
                };
                out.push_str(&format!(
                    "| {} | {} | {said}: {} | | | | | | |\n",
                    row.name,
                    row.version,
                    reason.replace('|', "/")
                ));
                summary.push(format!("{} {summed}", row.name));
            }
        }
    }
    out.push('\n');
    for row in rows {
        if let Outcome::Measured(f) = &row.outcome {
            let ratios: Vec<String> = ratios(&f.pairs.rates)
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect();
            out.push_str(&format!(
                "- {}: load average {:.1} → {:.1}; first world ready in {:.1} s; {} policies written in {:.1} s, the nodes' \
                 rules last changed {:.1} s later ({} bytes per node); {} of {} connects failed; ratios in flood order: {}\n",
                row.name,
                f.load.0,
                f.load.1,
                f.setup.as_secs_f64(),
                options.policies,
                f.install.as_secs_f64(),
                f.programmed.as_secs_f64(),
                f.rule_bytes
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                f.pairs.failures,
                f.pairs.connections + f.pairs.failures,
                ratios.join(" ")
            ));
        }
    }
    out.push_str(&format!("\nengines: {}", summary.join("; ")));
    out
}

/// When and on what the figures were taken: the first line of the output.
pub fn header() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!(
        "measured {} by netpol {} ({}), kernel {}, {cores} cores, {} build",
        crate::report::json::rfc3339(std::time::SystemTime::now()),
        env!("CARGO_PKG_VERSION"),
        option_env!("NETPOL_GIT").unwrap_or("git unknown"),
        crate::backend::netns::kernel().unwrap_or_else(|| "unknown".into()),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    )
}

/// Whether any measured subject failed (the command's exit code).
pub fn any_failed(rows: &[Row]) -> bool {
    rows.iter().any(|r| matches!(r.outcome, Outcome::Failed(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartiles_take_the_nearest_rank_and_an_empty_list_has_none() {
        let values: Vec<f64> = (1..=8).map(f64::from).rev().collect();
        assert_eq!(quartiles(&values), Some((2.0, 4.0, 6.0)));
        assert_eq!(quartiles(&[]), None);
    }

    #[test]
    fn the_claim_follows_where_the_interquartile_range_lies() {
        assert!(claim(0.80, 0.85, 0.90).starts_with("a cost"), "below 1");
        assert!(claim(0.97, 1.0, 1.03).starts_with("no measurable cost"));
        assert!(claim(0.6, 1.0, 1.4).starts_with("no claim"));
        assert!(claim(1.1, 1.2, 1.3).starts_with("faster"));
    }

    #[test]
    fn a_policy_world_that_differs_from_the_oracle_is_said_beside_its_ratio() {
        let figures = Figures {
            setup: Duration::from_secs(3),
            latency: latency::Measured::default(),
            install: Duration::from_secs(2),
            programmed: Duration::from_secs(1),
            rule_bytes: vec![10, 20],
            differing: vec!["x/b → y/a: expected denied, observed connected".into()],
            pairs: super::super::enforcer::Pairs {
                rates: vec![(1000.0, 990.0), (1100.0, 1100.0)],
                connections: 4_000,
                failures: 1,
            },
            load: (1.0, 2.0),
        };
        let rows = [
            Row {
                name: "kube-router",
                version: "v2.10.0",
                outcome: Outcome::Measured(Box::new(figures)),
            },
            Row {
                name: "kube-network-policies",
                version: "v1.1.1",
                outcome: Outcome::NotRunnable("needs the nft queue expression".into()),
            },
        ];
        let options = Options {
            changes: 0,
            pairs: 2,
            policies: 1000,
        };
        let text = report(&rows, options);
        assert!(
            text.contains("1 tcp/80 cells of the policy world differ from the oracle"),
            "{text}"
        );
        assert!(
            text.contains(
                "| kube-network-policies | v1.1.1 | not runnable here: needs the nft queue"
            )
        );
        assert!(
            text.ends_with("kube-network-policies not runnable"),
            "{text}"
        );
        assert!(!any_failed(&rows));
    }
}
