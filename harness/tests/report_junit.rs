//! JUnit from a small failing run, read back by an independent XML consumer
//! (roxmltree), the way CI systems read it: one test case per case step, the
//! failure message naming the differing cells.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A failing fixture and a passing case of two steps, on the oracle.
fn junit_of_a_failing_run(name: &str) -> String {
    // One folder per test: tests run in parallel and each removes its own.
    let dir = std::env::temp_dir().join(format!("netpol-junit-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join(name);
    let output = Command::new(env!("CARGO_BIN_EXE_netpol"))
        .current_dir(root())
        .args(["run", "--backend", "oracle", "--quiet", "--junit"])
        .arg(&out)
        .args([
            "--cases",
            "harness/tests/fixtures/wrong-expectation.yaml",
            "cases/steps/steps-policy-delete.yaml",
        ])
        .output()
        .expect("netpol runs");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let xml = std::fs::read_to_string(&out).expect("junit written");
    let _ = std::fs::remove_dir_all(dir);
    xml
}

/// Replaces the value of every `attribute="…"`, and of the properties named
/// in `properties`, with `[value]`: times, dates and commits change per run.
fn redact(xml: &str, attributes: &[&str], properties: &[&str]) -> String {
    let mut out = xml.to_owned();
    let prefixes = attributes
        .iter()
        .map(|a| format!(" {a}=\""))
        .chain(properties.iter().map(|p| format!("name=\"{p}\" value=\"")));
    for prefix in prefixes {
        let mut redacted = String::new();
        let mut rest = out.as_str();
        while let Some(at) = rest.find(&prefix) {
            let value_start = at + prefix.len();
            let value_end = value_start + rest[value_start..].find('"').expect("closing quote");
            redacted.push_str(&rest[..value_start]);
            redacted.push_str("[value]");
            rest = &rest[value_end..];
        }
        redacted.push_str(rest);
        out = redacted;
    }
    out
}

#[test]
fn a_failing_steps_message_names_the_differing_cells_for_a_junit_consumer() {
    let xml = junit_of_a_failing_run("consumer.xml");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let suites = doc.root_element();
    assert_eq!(suites.tag_name().name(), "testsuites");
    assert_eq!(suites.attribute("tests"), Some("3"));
    assert_eq!(suites.attribute("failures"), Some("1"));
    let suite = suites
        .children()
        .find(|n| n.has_tag_name("testsuite"))
        .expect("one suite");
    assert_eq!(suite.attribute("name"), Some("netpol oracle/oracle"));
    let cases: Vec<roxmltree::Node> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let names: Vec<&str> = cases.iter().filter_map(|c| c.attribute("name")).collect();
    assert_eq!(
        names,
        [
            "steps-policy-delete step 0",
            "steps-policy-delete step 1",
            "wrong-expectation step 0"
        ]
    );
    let failed = cases[2];
    assert_eq!(
        failed.attribute("classname"),
        Some("fixtures.wrong-expectation")
    );
    let failure = failed
        .children()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure element");
    assert_eq!(
        failure.attribute("message"),
        Some("1 cell differs: y/a → x/a tcp/80: expected allowed, observed blocked (timeout)")
    );
    let body = failure.text().expect("a body");
    for part in ["expected:", "observed:", "-    x/a x/b x/c", "y/a  X   ."] {
        assert!(body.contains(part), "no `{part}` in the body:\n{body}");
    }
    let property = |case: roxmltree::Node, name: &str| {
        case.descendants()
            .find(|n| n.has_tag_name("property") && n.attribute("name") == Some(name))
            .and_then(|n| n.attribute("value").map(str::to_owned))
    };
    let enforced = property(cases[0], "time_to_enforce_ms").expect("a time to enforce");
    assert!(enforced.parse::<u64>().is_ok(), "{enforced}");
    assert_eq!(
        property(failed, "time_to_enforce_ms"),
        None,
        "never enforced"
    );
}

#[test]
fn the_junit_of_a_small_failing_run_is_pinned() {
    let xml = junit_of_a_failing_run("pinned.xml");
    insta::assert_snapshot!(redact(
        &xml,
        &["timestamp", "time"],
        &[
            "time_to_enforce_ms",
            "netpol.git",
            "netpol.version",
            "kernel"
        ]
    ));
}

#[test]
fn the_committed_none_results_rendered_as_junit_fail_every_case_naming_its_cells() {
    let dir = std::env::temp_dir().join(format!("netpol-junit-none-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("none.xml");
    let output = Command::new(env!("CARGO_BIN_EXE_netpol"))
        .current_dir(root())
        .args(["report", "results/netns-none.json", "--junit"])
        .arg(&out)
        .output()
        .expect("netpol runs");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let xml = std::fs::read_to_string(&out).expect("junit written");
    let _ = std::fs::remove_dir_all(dir);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let failures: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .filter_map(|n| n.attribute("message"))
        .collect();
    assert_eq!(failures.len(), 99, "one failed step per case");
    for message in failures {
        assert!(
            message.contains(": expected blocked, observed connected"),
            "{message}"
        );
    }
}
