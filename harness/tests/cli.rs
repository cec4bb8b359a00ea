//! The `netpol` binary as a user runs it: exit codes, summary line, results
//! file, explanations.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use netpol_harness::report::json::Results;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `netpol`; tests of the command line use `--backend oracle`, the
/// netns backend has its own tests.
fn netpol(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netpol"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("netpol runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

/// A file in a folder of its own, removed with the folder when dropped.
struct TempFile {
    dir: PathBuf,
    path: PathBuf,
}

impl std::ops::Deref for TempFile {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.path
    }
}

impl AsRef<std::path::Path> for TempFile {
    fn as_ref(&self) -> &std::path::Path {
        &self.path
    }
}

impl AsRef<std::ffi::OsStr> for TempFile {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.path.as_os_str()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_file(name: &str) -> TempFile {
    let dir = std::env::temp_dir().join(format!("netpol-cli-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    TempFile {
        path: dir.join(name),
        dir,
    }
}

#[test]
fn the_oracle_passes_the_whole_library_and_writes_a_results_file() {
    let out = temp_file("oracle.json");
    // In both families: only then does every case run (an IPv6 case is not
    // run under ipv4, nor an IPv4 one under ipv6).
    let output = netpol(&[
        "run",
        "--backend",
        "oracle",
        "--ip-family",
        "dual",
        "--output",
        out.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = stdout(&output);
    let results: Results =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("written")).expect("schema");
    let last = text.lines().last().expect("a summary line");
    assert_eq!(
        last,
        format!(
            "netpol: {} passed, 0 failed, 0 skipped",
            results.cases.len()
        )
    );
    assert!(
        results.cases.len() >= 60,
        "only {} cases",
        results.cases.len()
    );
    assert_eq!(results.schema, "netpol-results/v1");
    assert_eq!(results.backend, "oracle");
    assert_eq!(results.ip_family, netpol_harness::model::IpFamily::Dual);
    assert!(
        results
            .cases
            .iter()
            .all(|c| c.steps.iter().all(|s| s.time_to_enforce_ms.is_some()))
    );
    let _ = std::fs::remove_file(out);
}

#[test]
fn the_results_file_has_every_field_of_the_documented_example() {
    let doc = std::fs::read_to_string(root().join("docs/results-format.md")).expect("the contract");
    let example = doc
        .split("```json")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a json example");
    let example: serde_json::Value = serde_json::from_str(example).expect("the example is JSON");
    let out = temp_file("fields.json");
    let output = netpol(&[
        "run",
        "--backend",
        "oracle",
        "--cases",
        "harness/tests/fixtures",
        "--output",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let ours: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("written")).expect("json");
    let mut missing = Vec::new();
    same_keys(&example, &ours, "", &mut missing);
    assert!(
        missing.is_empty(),
        "fields in the contract but not in our output: {missing:?}"
    );
    let _ = std::fs::remove_file(out);
}

/// Every key of `contract` exists in `ours`; maps keyed by probe are compared
/// through their first entry, lists through their first element.
fn same_keys(
    contract: &serde_json::Value,
    ours: &serde_json::Value,
    path: &str,
    missing: &mut Vec<String>,
) {
    use serde_json::Value::{Array, Object};
    match (contract, ours) {
        (Object(want), Object(have)) if path.ends_with(".probes") => {
            if let (Some(w), Some(h)) = (want.values().next(), have.values().next()) {
                same_keys(w, h, &format!("{path}.*"), missing);
            }
        }
        (Object(want), Object(have)) => {
            for (key, value) in want {
                match have.get(key) {
                    Some(ours) => same_keys(value, ours, &format!("{path}.{key}"), missing),
                    None => missing.push(format!("{path}.{key}")),
                }
            }
        }
        (Array(want), Array(have)) => {
            if let (Some(w), Some(h)) = (want.first(), have.first()) {
                same_keys(w, h, &format!("{path}[0]"), missing);
            }
        }
        _ => {}
    }
}

#[test]
fn a_failing_case_exits_1_and_names_the_cell() {
    let output = netpol(&[
        "run",
        "--backend",
        "oracle",
        "--cases",
        "harness/tests/fixtures/wrong-expectation.yaml",
    ]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("FAILED wrong-expectation"), "{text}");
    assert!(
        text.contains("y/a → x/a tcp/80: expected allowed, observed blocked (timeout)"),
        "{text}"
    );
    assert_eq!(
        text.lines().last(),
        Some("netpol: 0 passed, 1 failed, 0 skipped")
    );
}

#[test]
fn filtered_out_cases_are_skipped_with_the_reason() {
    let out = temp_file("filtered.json");
    let output = netpol(&[
        "run",
        "--backend",
        "oracle",
        "--filter",
        "ipblock-",
        "--output",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let results: Results =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("written")).expect("schema");
    let ran: Vec<&str> = results
        .cases
        .iter()
        .filter(|c| c.reason.is_none())
        .map(|c| c.name.as_str())
        .collect();
    assert!(
        !ran.is_empty() && ran.iter().all(|n| n.contains("ipblock-")),
        "{ran:?}"
    );
    let skipped = results
        .cases
        .iter()
        .filter(|c| c.reason.as_deref() == Some("excluded by --filter/--tag"))
        .count();
    assert_eq!(results.summary.skipped, skipped);
    assert_eq!(skipped + ran.len(), results.cases.len());
    let _ = std::fs::remove_file(out);
}

#[test]
fn explain_names_the_deciding_policy_and_rule() {
    let output = netpol(&[
        "explain",
        "union-two-policies-different-sources",
        "--from",
        "z/b",
        "--to",
        "x/a",
        "--probe",
        "tcp/80",
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    insta::assert_snapshot!(stdout(&output), @"
    case union-two-policies-different-sources after step 0
    z/b → x/a tcp/80: allowed
    egress of z/b: not isolated (no policy with Egress selects it): allowed
    ingress of x/a: isolated by x/allow-same-namespace, x/allow-z-b: allowed
      x/allow-same-namespace spec.ingress[0]: no from peer matches z/b
      x/allow-z-b spec.ingress[0]: allows (from[0] matches z/b; any port)
    verdict: allowed (egress of z/b is not isolated; ingress of x/a allowed by x/allow-z-b spec.ingress[0])
    ");
}

#[test]
fn explain_says_when_no_rule_allows() {
    let output = netpol(&[
        "explain",
        "union-two-policies-different-sources",
        "--from",
        "y/a",
        "--to",
        "x/a",
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    insta::assert_snapshot!(stdout(&output), @"
    case union-two-policies-different-sources after step 0
    y/a → x/a tcp/80: blocked
    egress of y/a: not isolated (no policy with Egress selects it): allowed
    ingress of x/a: isolated by x/allow-same-namespace, x/allow-z-b: blocked
      x/allow-same-namespace spec.ingress[0]: no from peer matches y/a
      x/allow-z-b spec.ingress[0]: no from peer matches y/a
    verdict: blocked: no ingress rule of a policy selecting x/a allows it
    ");
}

#[test]
fn cases_list_prints_every_case_as_json() {
    let output = netpol(&["cases", "list", "--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).expect("json");
    assert!(list.len() >= 60);
    assert!(
        list.iter().all(|c| c["name"].is_string()
            && c["tags"].is_array()
            && c["steps"].as_u64() >= Some(1))
    );
}

#[test]
fn a_missing_cases_folder_is_bad_input() {
    let output = netpol(&["run", "--cases", "no-such-folder"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "no-such-folder: no such file or folder\n"
    );
}

#[test]
fn every_yaml_example_of_the_case_format_loads() {
    let doc = std::fs::read_to_string(root().join("docs/case-format.md")).expect("the contract");
    let model = netpol_harness::model::Model::default();
    let blocks: Vec<&str> = doc
        .split("```yaml")
        .skip(1)
        .filter_map(|s| s.split("```").next())
        .collect();
    assert!(blocks.len() >= 4, "{} examples", blocks.len());
    for block in blocks {
        let (text, name) = match block.lines().find_map(|l| l.strip_prefix("name: ")) {
            Some(name) => (
                block.to_owned(),
                name.split_whitespace().next().expect("a name").to_owned(),
            ),
            None => {
                // A bare `expect:` fragment: probe exactly the ports it lists, unless `all` covers the rest
                // (`ipv4`/`ipv6` are families, not ports: what they hold says).
                let keys: Vec<&str> = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("  ")?.split(':').next())
                    .filter(|k| !k.starts_with(' '))
                    .collect();
                let per_family = keys.contains(&"ipv4") || keys.contains(&"ipv6");
                let probes = if keys.contains(&"all") || (per_family && block.contains("    all:"))
                {
                    String::new()
                } else {
                    format!("probes: [{}]\n", keys.join(", "))
                };
                (
                    format!("name: doc-example\n{probes}{block}"),
                    "doc-example".to_owned(),
                )
            }
        };
        let file = Path::new("docs").join(format!("{name}.yaml"));
        if let Err(problems) = netpol_harness::case::parse_case(&text, &file, &model) {
            panic!("example does not load:\n{text}\n{problems}");
        }
    }
}

#[test]
fn a_control_plane_is_refused_off_the_netns_backend_and_without_engines_names_the_build() {
    let output = netpol(&["run", "--backend", "oracle", "--control-plane"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--control-plane runs on the netns backend"),
        "{stderr}"
    );
    // Checked before any world is built.
    let output = Command::new(env!("CARGO_BIN_EXE_netpol"))
        .current_dir(root())
        .env("NETPOL_ENGINES_DIR", temp_file("no-engines-here"))
        .args(["run", "--control-plane", "--filter", "deny"])
        .output()
        .expect("netpol runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(stderr.contains("run `netpol engines build`"), "{stderr}");
}

#[test]
fn explain_judges_the_family_it_is_given() {
    let dir = std::env::temp_dir().join(format!("netpol-explain-family-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a folder");
    let file = dir.join("v4-block.yaml");
    std::fs::write(
        &file,
        "name: v4-block
probes: [tcp/80]
policies:
  - apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: from-v4, namespace: x}
    spec:
      podSelector: {matchLabels: {pod: a}}
      ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0}}]}]
expect:
  ipv4: {all: {default: allow}}
  ipv6: {all: {default: allow, rules: [{from: '*', to: x/a, allow: false}]}}
",
    )
    .expect("written");
    let path = file.display().to_string();
    let explain = |family: &str| {
        let output = netpol(&[
            "explain", &path, "--from", "y/b", "--to", "x/a", "--family", family,
        ]);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        stdout(&output)
    };
    let v4 = explain("ipv4");
    assert!(v4.contains("y/b → x/a tcp/80: allowed"), "{v4}");
    let v6 = explain("ipv6");
    assert!(v6.contains("y/b → x/a tcp/80 (v6): blocked"), "{v6}");
    let _ = std::fs::remove_dir_all(&dir);
}
