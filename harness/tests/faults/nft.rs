//! `nft` fails: a ruleset the kernel rejects keeps the previous one in
//! force, is reported, and the next good state applies. A wrapper stands in
//! for `nft` on the enforcer's PATH and spoils the batch on demand.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use netpol_harness::timeouts::Timeouts;
use serde_json::json;

use super::support::{self, netpol_exe};

/// Stands in for `nft`: while `reject` exists, appends a chain that jumps to
/// a chain that does not exist, so the kernel refuses the whole batch.
fn rejecting_nft(dir: &Path, real: &Path) -> PathBuf {
    let wrapper = dir.join("wrap");
    std::fs::create_dir_all(&wrapper).expect("folder");
    let script = format!(
        "#!/bin/sh\nif [ -e '{reject}' ] && [ \"$1\" = -f ]; then\n  {{ cat; printf 'table inet netpol {{\\n\\tchain broken {{\\n\\t\\tjump nowhere\\n\\t}}\\n}}\\n'; }} | '{real}' \"$@\"\n  exit $?\nfi\nexec '{real}' \"$@\"\n",
        reject = dir.join("reject").display(),
        real = real.display()
    );
    let path = wrapper.join("nft");
    std::fs::write(&path, script).expect("script");
    Command::new("chmod")
        .arg("+x")
        .arg(&path)
        .status()
        .expect("chmod");
    wrapper
}

fn node_snapshot(generation: u64, deny: &[&str]) -> serde_json::Value {
    let pods: Vec<_> = [("a", "10.244.1.10"), ("b", "10.244.1.11")]
        .iter()
        .map(|(name, ip)| json!({"namespace": "x", "name": name, "node": "node1", "ip": ip, "labels": {"pod": name}}))
        .collect();
    let policies: Vec<_> = deny
        .iter()
        .map(|pod| {
            json!({"metadata": {"namespace": "x", "name": format!("deny-{pod}")},
                          "spec": {"podSelector": {"matchLabels": {"pod": pod}}}})
        })
        .collect();
    json!({"generation": generation, "namespaces": [{"name": "x"}], "pods": pods, "policies": policies})
}

fn publish(state: &Path, snapshot: &serde_json::Value) {
    let aside = state.with_extension("new");
    std::fs::write(&aside, snapshot.to_string()).expect("write");
    std::fs::rename(&aside, state).expect("rename");
}

fn status_of(path: &Path, generation: u64) -> netpol_enforcer::local::Status {
    support::wait_for(Timeouts::NETNS_START, || {
        let text = std::fs::read(path).ok()?;
        let status: netpol_enforcer::local::Status = serde_json::from_slice(&text).ok()?;
        (status.generation == Some(generation)).then_some(status)
    })
    .unwrap_or_else(|| panic!("no status for generation {generation}"))
}

pub fn a_ruleset_the_kernel_rejects_keeps_the_previous_one_is_reported_and_the_next_good_state_applies()
 {
    let scratch = support::Scratch::new("kernel-rejects");
    let real_nft = which::which("nft").expect("nft");
    let wrapper = rejecting_nft(&scratch.dir, &real_nft);
    let bin = scratch.dir.join("bin");
    std::fs::create_dir_all(&bin).expect("folder");
    let enforcer = bin.join(netpol_harness::multicall::ENFORCER);
    std::os::unix::fs::symlink(netpol_exe(), &enforcer).expect("link");
    let (state, status, log) = (
        scratch.dir.join("state.json"),
        scratch.dir.join("status.json"),
        scratch.dir.join("enforcer.log"),
    );
    publish(&state, &node_snapshot(1, &["a"]));
    let path = format!(
        "PATH={}:{}",
        wrapper.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("ip")
        .args(["netns", "exec", &scratch.netns, "env", &path])
        .arg(&enforcer)
        .args(["local", "--node", "node1", "--poll-ms", "5", "--state"])
        .arg(&state)
        .arg("--status")
        .arg(&status)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("enforcer starts");
    let listing = || {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &scratch.netns,
                "nft",
                "list",
                "table",
                "inet",
                "netpol",
            ])
            .output()
            .expect("nft list");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    let first = status_of(&status, 1);
    assert!(first.applied, "{first:?}");
    let good = listing();
    assert!(good.contains("10.244.1.10 : drop"), "{good}");

    std::fs::write(scratch.dir.join("reject"), "").expect("marker");
    publish(&state, &node_snapshot(2, &["b"]));
    let rejected = status_of(&status, 2);
    assert!(!rejected.applied, "{rejected:?}");
    let error = rejected.error.clone().unwrap_or_default();
    assert!(
        error.contains("No such file or directory"),
        "the kernel's reason is reported: {error}"
    );
    assert_eq!(listing(), good, "the previous ruleset stays in force");
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logged.contains("generation 2 not applied, previous ruleset kept"),
        "{logged}"
    );

    std::fs::remove_file(scratch.dir.join("reject")).expect("marker");
    publish(&state, &node_snapshot(3, &["a", "b"]));
    let third = status_of(&status, 3);
    assert!(third.applied, "{third:?}");
    let now = listing();
    assert!(
        now.contains("10.244.1.10 : drop") && now.contains("10.244.1.11 : drop"),
        "{now}"
    );
    let _ = child.kill();
    let _ = child.wait();
}

pub fn a_run_whose_rulesets_the_kernel_rejects_says_so_and_leaves_nothing_behind() {
    let scratch = support::Scratch::new("run-rejected");
    let wrapper = rejecting_nft(&scratch.dir, &which::which("nft").expect("nft"));
    std::fs::write(scratch.dir.join("reject"), "").expect("marker");
    let path = format!(
        "{}:{}",
        wrapper.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let child = Command::new(netpol_exe())
        .current_dir(&root)
        .env("PATH", path)
        .args(["run", "--backend", "netns", "--cases", "cases/default-deny"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("netpol runs");
    let pid = child.id();
    let output = child.wait_with_output().expect("netpol ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("could not apply generation 1"), "{stderr}");
    assert!(
        stderr.contains("No such file or directory"),
        "the kernel's reason: {stderr}"
    );
    // The folder goes last, after the processes and namespaces it names.
    let folder = support::run_folder_of(pid);
    assert!(folder.is_none(), "the run left {folder:?}");
}
