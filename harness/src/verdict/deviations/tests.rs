use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::error::chain;
use crate::model::{Model, Protocol};
use crate::probe::{Observed, ObservedTable};
use crate::truth::{Reach, TruthTable};
use crate::verdict::Comparison;

const TCP_80: Probe = Probe::new(Protocol::Tcp, 80);
const SCTP_80: Probe = Probe::new(Protocol::Sctp, 80);

fn known(yaml: &str) -> KnownDeviations {
    parse(yaml, Path::new("known.yaml")).expect("a valid list")
}

fn problem(yaml: &str) -> String {
    chain(&parse(yaml, Path::new("known.yaml")).expect_err("an invalid list"))
}

/// A one-step case on tcp/80 (and sctp/80, unsupported) that expects y/a,
/// y/b and z/a → x/a blocked; `connected` lists the cells that went through
/// anyway.
fn case(connected: &[(usize, usize)]) -> CaseResult {
    observed_case(connected, &[])
}

/// [`case`], with the probes of `errors` failed.
fn observed_case(connected: &[(usize, usize)], errors: &[(usize, usize)]) -> CaseResult {
    let pods = Model::default().pod_ids();
    let mut expected = TruthTable::filled(pods.clone(), Reach::Allowed);
    let mut observed = ObservedTable::filled(pods.clone(), Observed::Connected);
    for from in [3, 4, 6] {
        expected.set(from, 0, Reach::Denied);
        observed.set(from, 0, Observed::Timeout);
    }
    for (from, to) in connected {
        observed.set(*from, *to, Observed::Connected);
    }
    for (from, to) in errors {
        observed.set(
            *from,
            *to,
            Observed::Error("probe agent of x/a exited".into()),
        );
    }
    let comparison = Comparison::new(TCP_80, &expected, &observed).unwrap();
    let sctp = Comparison::new(
        SCTP_80,
        &expected,
        &ObservedTable::filled(pods, Observed::Unsupported),
    )
    .unwrap();
    let failed = !comparison.matches();
    let verdict = if failed {
        Verdict::Failed
    } else {
        Verdict::Passed
    };
    let differing = connected.len() + errors.len();
    let reason = failed.then(|| format!("step 0: {differing} cells differ"));
    let failure = failed.then_some(Failure::Cells);
    CaseResult {
        name: "deny-into-x-a".into(),
        file: "cases/test/deny-into-x-a.yaml".into(),
        tags: vec![],
        verdict,
        reason: reason.clone(),
        failure,
        duration: Duration::ZERO,
        steps: vec![StepResult {
            index: 0,
            verdict,
            reason,
            failure,
            attempts: 1,
            time_to_enforce: None,
            comparisons: BTreeMap::from([(TCP_80, comparison), (SCTP_80, sctp)]),
            service: None,
            divergences: Vec::new(),
        }],
    }
}

const WHOLE_CASE: &str = "
deviations:
  - cases: [deny-into-x-a]
    reason: nothing enforces
    link: https://example.com/1
";

#[test]
fn cells_are_written_as_failure_messages_name_them() {
    let cell = CellSpec::parse("step 2: y/a -> x/a tcp/80").unwrap();
    assert_eq!(cell.step, Some(2));
    assert_eq!(cell.to_string(), "step 2: y/a → x/a tcp/80");
    let any_step = CellSpec::parse("z/b → x/a udp/81").unwrap();
    assert_eq!(
        (any_step.step, any_step.probe.to_string()),
        (None, "udp/81".into())
    );
    for bad in [
        "y/a x/a tcp/80",
        "y/a -> x/a",
        "ya -> x/a tcp/80",
        "step x: y/a -> x/a tcp/80",
    ] {
        assert!(CellSpec::parse(bad).is_err(), "{bad}");
    }
    assert!(
        CellSpec::parse("y/a -> x/a icmp/1")
            .unwrap_err()
            .contains("unknown protocol")
    );
}

#[test]
fn a_listed_failing_case_becomes_an_expected_failure_with_its_reason_and_link() {
    let mut result = case(&[(3, 0)]);
    known(WHOLE_CASE).apply(&mut result);
    assert_eq!(result.verdict, Verdict::ExpectedFailure);
    assert_eq!(result.steps[0].verdict, Verdict::ExpectedFailure);
    assert_eq!(
        result.reason.as_deref(),
        Some("known deviation: nothing enforces (https://example.com/1)")
    );
}

#[test]
fn a_failed_probe_is_never_a_known_deviation_and_the_cells_are_named() {
    for list in [WHOLE_CASE, CELLS] {
        let mut result = observed_case(&[(3, 0), (6, 0)], &[(1, 0), (2, 0)]);
        known(list).apply(&mut result);
        assert_eq!(result.verdict, Verdict::Failed);
        assert_eq!(result.steps[0].verdict, Verdict::Failed);
        let reason = result.reason.unwrap();
        assert!(
            reason.ends_with(
                "not a known deviation of known.yaml: 2 cells have no observation, the probe failed \
                 (first: step 0: x/b → x/a tcp/80: expected allowed, observed no answer (error: probe agent of x/a exited))"
            ),
            "{reason}"
        );
    }
}

#[test]
fn a_step_the_backend_could_not_run_is_never_a_known_deviation() {
    let mut result = case(&[(3, 0)]);
    result.steps[0] = StepResult::failed(
        0,
        Failure::Backend,
        "step 0: netns backend: the enforcer of node1 did not apply generation 3".into(),
    );
    result.failure = Some(Failure::Backend);
    known(WHOLE_CASE).apply(&mut result);
    assert_eq!(result.verdict, Verdict::Failed);
    assert!(
        result.reason.as_deref().unwrap().ends_with(
            "step 0 failed without a verdict on cells (step 0: netns backend: the enforcer of node1 did not apply generation 3)"
        ),
        "{:?}",
        result.reason
    );
}

#[test]
fn a_world_that_could_not_be_reset_is_never_a_known_deviation() {
    let mut result = case(&[]);
    result.verdict = Verdict::Failed;
    result.failure = Some(Failure::Backend);
    result.reason = Some("could not reset the world after the case: netns backend: gone".into());
    known(WHOLE_CASE).apply(&mut result);
    assert_eq!(result.verdict, Verdict::Failed);
    assert_eq!(
        result.reason.as_deref(),
        Some(
            "could not reset the world after the case: netns backend: gone; \
             not a known deviation of known.yaml: no step failed, the case failed outside its steps"
        )
    );
}

#[test]
fn a_listed_case_that_passes_fails_so_that_the_list_only_shrinks() {
    let mut result = case(&[]);
    known(WHOLE_CASE).apply(&mut result);
    assert_eq!(result.verdict, Verdict::Failed);
    assert_eq!(
        result.reason.as_deref(),
        Some("listed as a known deviation in known.yaml, but passed: remove it from the list")
    );
}

#[test]
fn unlisted_cases_are_left_alone() {
    let mut result = case(&[(3, 0)]);
    known(&WHOLE_CASE.replace("deny-into-x-a", "other")).apply(&mut result);
    assert_eq!(result.verdict, Verdict::Failed);
}

const CELLS: &str = "
deviations:
  - cases: [deny-into-x-a]
    cells: ['step 0: y/a -> x/a tcp/80', 'z/a -> x/a tcp/80']
    reason: ipBlock except ignored
    link: https://example.com/2
";

#[test]
fn listed_cells_that_all_still_differ_make_an_expected_failure() {
    let mut result = case(&[(3, 0), (6, 0)]);
    known(CELLS).apply(&mut result);
    assert_eq!(
        result.verdict,
        Verdict::ExpectedFailure,
        "{:?}",
        result.reason
    );
}

#[test]
fn a_differing_cell_that_is_not_listed_still_fails_and_is_named() {
    let mut result = case(&[(3, 0), (6, 0), (4, 0)]);
    known(CELLS).apply(&mut result);
    assert_eq!(result.verdict, Verdict::Failed);
    let reason = result.reason.unwrap();
    assert!(
        reason.ends_with(
            "1 of the differing cells is not a known deviation in known.yaml \
             (first: step 0: y/b → x/a tcp/80: expected blocked, observed connected)"
        ),
        "{reason}"
    );
}

#[test]
fn a_listed_cell_that_now_matches_fails_and_is_named() {
    let mut result = case(&[(3, 0)]);
    known(CELLS).apply(&mut result);
    assert_eq!(result.verdict, Verdict::Failed);
    assert_eq!(
        result.reason.as_deref(),
        Some(
            "known deviation `z/a → x/a tcp/80` in known.yaml no longer differs: remove it from the list"
        )
    );
}

#[test]
fn a_listed_cell_of_an_unsupported_protocol_is_never_called_stale() {
    let yaml = CELLS.replace(
        "'z/a -> x/a tcp/80'",
        "'z/a -> x/a tcp/80', 'z/b -> x/a sctp/80'",
    );
    let mut result = case(&[(3, 0), (6, 0)]);
    known(&yaml).apply(&mut result);
    assert_eq!(
        result.verdict,
        Verdict::ExpectedFailure,
        "{:?}",
        result.reason
    );
}

#[test]
fn a_list_says_what_is_wrong_with_it() {
    let two_cases = CELLS.replace("cases: [deny-into-x-a]", "cases: [a, b]");
    assert_eq!(
        problem(&two_cases),
        "known.yaml: deviations[0]: `cells` belong to one case, but `cases` lists 2"
    );
    let twice = format!("{WHOLE_CASE}{}", WHOLE_CASE.replace("deviations:\n", ""));
    assert_eq!(
        problem(&twice),
        "known.yaml: deviations[1]: case `deny-into-x-a` is listed twice"
    );
    let no_link = WHOLE_CASE.replace("https://example.com/1", "''");
    assert_eq!(
        problem(&no_link),
        "known.yaml: deviations[0]: every deviation needs a reason and a link"
    );
    let bad_cell = CELLS.replace("z/a -> x/a tcp/80", "z/a to x/a");
    assert!(problem(&bad_cell).starts_with("known.yaml: deviations[0]: cell `z/a to x/a` is not"));
    let unknown_field = WHOLE_CASE.replace("reason:", "why:");
    assert!(
        problem(&unknown_field).starts_with("known.yaml is not a known-deviations file: "),
        "{}",
        problem(&unknown_field)
    );
}

#[test]
fn the_shipped_lists_load_and_name_only_cases_of_the_library() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let library = crate::case::load_paths(&[root.join("cases")], &Model::default())
        .expect("the library loads");
    let lists = std::fs::read_dir(root.join("results/known-deviations")).expect("the folder");
    let mut seen = 0;
    for entry in lists {
        let path = entry.expect("an entry").path();
        let list = load(&path).unwrap_or_else(|e| panic!("{}", chain(&e)));
        for name in list.cases() {
            assert!(
                library.iter().any(|c| c.name == name),
                "{} lists `{name}`, which is no case of cases/",
                path.display()
            );
        }
        seen += 1;
    }
    assert!(seen >= 1, "no known-deviations file");
}

#[test]
fn the_example_of_the_results_format_is_a_valid_list() {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/results-format.md");
    let doc = std::fs::read_to_string(doc).expect("the contract");
    let example = doc
        .split("```yaml")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a yaml example");
    let list =
        parse(example, Path::new("results-format.md")).unwrap_or_else(|e| panic!("{}", chain(&e)));
    let cells = &list
        .get("ipblock-ingress-except-one-pod")
        .expect("listed")
        .cells;
    assert_eq!(cells.len(), 2);
}
