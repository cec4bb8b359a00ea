//! Every file under `tests/invalid-cases/` holds one defect: `netpol run` must
//! refuse it with exit 2 before touching a backend, and say what is wrong.
//! The messages are pinned, one snapshot per file.

use std::path::Path;
use std::process::Command;

#[test]
fn every_invalid_case_exits_2_with_its_pinned_message() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join("tests/invalid-cases"))
        .expect("the invalid-cases folder exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 25, "only {} invalid cases", files.len());
    for file in files {
        let relative = file.strip_prefix(root).expect("inside the crate");
        let output = Command::new(env!("CARGO_BIN_EXE_netpol"))
            .current_dir(root)
            .args(["run", "--backend", "oracle", "--cases"])
            .arg(relative)
            .output()
            .expect("netpol runs");
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name");
        assert_eq!(output.status.code(), Some(2), "{name}: {output:?}");
        assert!(
            output.stdout.is_empty(),
            "{name} printed to stdout: {output:?}"
        );
        let stderr = String::from_utf8(output.stderr).expect("utf-8 message");
        insta::assert_snapshot!(name, stderr);
    }
}

#[test]
fn all_problems_of_a_file_are_reported_together() {
    let text = r#"
name: several-problems
probes: [tcp/80, icmp/80]
policies:
  - apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: p, namespace: w}
    spec:
      podSelecter: {}
      ingress:
        - ports: [{port: 0}, {protocol: tcp, endPort: 81}]
expect:
  tcp/80: {default: allow, rules: [{from: "x/d", to: "*", allow: false}]}
"#;
    let model = netpol_harness::model::Model::default();
    let problems =
        netpol_harness::case::parse_case(text, Path::new("cases/several-problems.yaml"), &model)
            .expect_err("the case is broken");
    insta::assert_snapshot!(problems.to_string(), @r"
    cases/several-problems.yaml:3:18: probes[1]: unknown protocol `icmp` in probe `icmp/80` (allowed: tcp, udp, sctp)
    cases/several-problems.yaml:7:36: policies[0].metadata.namespace: unknown namespace `w` (namespaces are x, y, z)
    cases/several-problems.yaml:9:7: policies[0].spec.podSelecter: unknown field `podSelecter` (allowed: podSelector, policyTypes, ingress, egress)
    cases/several-problems.yaml:11:26: policies[0].spec.ingress[0].ports[0].port: port 0 is out of range (1-65535)
    cases/several-problems.yaml:11:41: policies[0].spec.ingress[0].ports[1].protocol: unsupported protocol `tcp` (allowed: TCP, UDP, SCTP)
    cases/several-problems.yaml:11:55: policies[0].spec.ingress[0].ports[1].endPort: endPort may not be specified when `port` is not specified
    cases/several-problems.yaml:13:43: expect.tcp/80.rules[0].from: unknown pod `x/d` (pods are x/a … z/c)
    ");
}
