//! Tests against the kernel, each in network namespaces it creates and
//! deletes itself (never in the root namespace): `apply` is atomic, and
//! local mode enforces real traffic between pods, follows snapshot changes,
//! and leaves its rules in force when killed.
//!
//! The pods' servers and probes are this test binary, re-run inside a pod
//! namespace with `--netpol-helper` (see `support/pods.rs`), so no tool
//! beyond `ip` and `nft` is needed.

#[path = "support/pods.rs"]
mod pods;
mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use netpol_enforcer::local::Status;
use netpol_enforcer::{Nft, Snapshot, compile, render};
use serde_json::{Value, json};

use pods::{CONVERGE, HELPER, POD_IPS, World, fail, helper, spawn_in};
use support::{Netns, gated_world, netns_missing, run};

fn apply_keeps_the_previous_ruleset_when_the_next_is_rejected() -> Result<(), Failed> {
    let netns = Netns::create("atomic").map_err(fail)?;
    let nft = Nft::in_netns(&netns.name);
    let good = golden_ruleset("two-policies-union")?;
    nft.apply(&good).map_err(fail)?;
    let before = nft.run(&["list", "ruleset"], None).map_err(fail)?;

    // Rejected by the kernel, after the delete of the old table in the same batch.
    let other = golden_ruleset("deny-all-ingress")?;
    let end = other.rfind('}').expect("a table");
    let kernel_rejects = format!(
        "{}\tchain broken {{\n\t\tjump nowhere\n\t}}\n}}\n",
        &other[..end]
    );
    let error = nft
        .apply(&kernel_rejects)
        .expect_err("a jump to a missing chain must fail");
    if !error
        .stderr()
        .unwrap_or_default()
        .contains("No such file or directory")
    {
        return Err(format!("unexpected error: {error}").into());
    }
    // Rejected by nft's parser.
    let parser_rejects = other.replace("policy accept;", "policy sometimes;");
    nft.apply(&parser_rejects)
        .expect_err("a syntax error must fail");

    let after = nft.run(&["list", "ruleset"], None).map_err(fail)?;
    if before != after {
        return Err(format!("the ruleset changed\nbefore:\n{before}\nafter:\n{after}").into());
    }
    Ok(())
}

fn golden_ruleset(name: &str) -> Result<String, Failed> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.json"));
    let snapshot = Snapshot::from_json(&fs::read(&path).map_err(fail)?).map_err(fail)?;
    Ok(render(&compile(
        &snapshot,
        netpol_enforcer::golden::GOLDEN_NODE,
    )))
}

fn snapshot(generation: u64, policies: Value) -> Value {
    let pods: Vec<Value> = POD_IPS
        .iter()
        .map(|(name, ip)| json!({"namespace": "x", "name": name, "node": "node-1", "ip": ip, "labels": {"pod": name},
                                 "ports": [{"name": "web", "port": 8080}]}))
        .collect();
    json!({"generation": generation, "namespaces": [{"name": "x"}], "pods": pods, "policies": policies})
}

fn policy(name: &str, spec: Value) -> Value {
    json!({"metadata": {"namespace": "x", "name": name}, "spec": spec})
}

fn publish(path: &Path, snapshot: &Value) -> Result<(), Failed> {
    let aside = path.with_extension("new");
    fs::write(&aside, snapshot.to_string()).map_err(fail)?;
    fs::rename(&aside, path).map_err(fail)
}

fn wait_applied(status: &Path, generation: u64, log: &Path) -> Result<Status, Failed> {
    let deadline = Instant::now() + CONVERGE;
    loop {
        if let Ok(status) = fs::read(status)
            .map_err(fail)
            .and_then(|t| serde_json::from_slice::<Status>(&t).map_err(fail))
            && status.generation == Some(generation)
        {
            return if status.applied {
                Ok(status)
            } else {
                Err(format!("not applied: {status:?}").into())
            };
        }
        if Instant::now() > deadline {
            let log = fs::read_to_string(log).unwrap_or_default();
            return Err(format!(
                "generation {generation} was not reported within {CONVERGE:?}; enforcer log:\n{log}"
            )
            .into());
        }
        thread::sleep(Duration::from_millis(10));
    }
}

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn local_mode_enforces_each_generation_and_keeps_its_rules_when_killed() -> Result<(), Failed> {
    let world = World::build()?;
    let scratch =
        Scratch(std::env::temp_dir().join(format!("netpol-enf-test-{}-local", std::process::id())));
    fs::create_dir_all(&scratch.0).map_err(fail)?;
    let (state, status, log) = (
        scratch.0.join("state.json"),
        scratch.0.join("status.json"),
        scratch.0.join("enforcer.log"),
    );

    // b accepts only a, on the named port `web` (8080); c may only reach a:8080.
    let policies = json!([
        policy(
            "b-from-a",
            json!({"podSelector": {"matchLabels": {"pod": "b"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "a"}}}], "ports": [{"port": "web"}]}]})
        ),
        policy(
            "c-to-a",
            json!({"podSelector": {"matchLabels": {"pod": "c"}}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": {"matchLabels": {"pod": "a"}}}], "ports": [{"port": 8080}]}]})
        ),
    ]);
    publish(&state, &snapshot(1, policies.clone()))?;
    let (state_arg, status_arg) = (
        state.to_string_lossy().into_owned(),
        status.to_string_lossy().into_owned(),
    );
    let enforcer = spawn_in(
        &world.node,
        &[
            env!("CARGO_BIN_EXE_netpol-enforcer"),
            "local",
            "--state",
            &state_arg,
            "--node",
            "node-1",
            "--status",
            &status_arg,
        ],
        Some(&log),
    )?;
    wait_applied(&status, 1, &log)?;
    world.expect(
        "generation 1",
        &[
            ("a", "b", 8080, true),
            ("a", "b", 8081, false),
            ("c", "b", 8080, false),
            ("c", "a", 8080, true),
            ("c", "a", 8081, false),
            // Replies to an isolated pod pass (conntrack): b and c start these.
            ("b", "c", 8080, true),
            ("a", "c", 8081, true),
        ],
    )?;

    publish(&state, &snapshot(2, json!([])))?;
    wait_applied(&status, 2, &log)?;
    world.expect(
        "generation 2 (no policies)",
        &[("a", "b", 8081, true), ("c", "b", 8080, true)],
    )?;

    publish(&state, &snapshot(3, policies))?;
    wait_applied(&status, 3, &log)?;
    let mut enforcer = enforcer;
    run(&["kill", "-TERM", &enforcer.0.id().to_string()]).map_err(fail)?;
    let deadline = Instant::now() + CONVERGE;
    while enforcer.0.try_wait().map_err(fail)?.is_none() {
        if Instant::now() > deadline {
            return Err("the enforcer did not exit on SIGTERM".into());
        }
        thread::sleep(Duration::from_millis(10));
    }
    world.expect(
        "after SIGTERM",
        &[
            ("a", "b", 8080, true),
            ("a", "b", 8081, false),
            ("c", "b", 8080, false),
        ],
    )?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(HELPER) {
        return helper(&args[2..]);
    }
    let arguments = Arguments::from_args();
    let trials = vec![
        Trial::ignorable_test(
            "netns/apply-keeps-the-previous-ruleset-when-the-next-is-rejected",
            || {
                gated_world(
                    netns_missing(),
                    apply_keeps_the_previous_ruleset_when_the_next_is_rejected,
                )
            },
        ),
        Trial::ignorable_test(
            "netns/local-mode-enforces-each-generation-and-keeps-its-rules-when-killed",
            || {
                gated_world(
                    netns_missing(),
                    local_mode_enforces_each_generation_and_keeps_its_rules_when_killed,
                )
            },
        ),
    ];
    libtest_mimic::run(&arguments, trials).exit_code()
}
