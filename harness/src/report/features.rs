//! NetworkPolicy features, derived from case tags, and how well one run
//! supports each: the rows of the support matrix.
//!
//! [`FEATURES`] is the one place that maps tags to features. A tag that names
//! no feature is listed in [`NOT_FEATURES`], so that a new tag in the library
//! is a decision, not an accident (a test checks every tag of `cases/`).

use std::fmt;

use crate::report::json::CaseRecord;
use crate::verdict::Verdict;

/// One row of the support matrix: a case exercises the feature when it has
/// any of the feature's tags.
#[derive(Debug, PartialEq, Eq)]
pub struct Feature {
    pub name: &'static str,
    pub tags: &'static [&'static str],
}

/// Every feature, in the order the support matrix lists them.
pub const FEATURES: &[Feature] = &[
    feature("ingress isolation", &["ingress"]),
    feature("egress isolation", &["egress"]),
    feature("default deny", &["default-deny"]),
    feature("policyTypes", &["policy-types"]),
    feature("podSelector peers", &["pod-selector"]),
    feature("namespaceSelector peers", &["namespace-selector"]),
    feature("matchExpressions", &["match-expressions"]),
    feature("ipBlock", &["ip-block"]),
    feature("ipBlock except", &["except"]),
    feature("ports", &["port"]),
    feature("named ports", &["named-port"]),
    feature("endPort ranges", &["end-port"]),
    feature("protocol matching", &["protocol"]),
    feature("UDP", &["udp"]),
    feature("SCTP", &["sctp"]),
    // Cases about the second family (`ipv6`): IPv6 blocks, and what
    // dual-stack pods must get right per family; judged in `--ip-family
    // ipv6` or `dual` runs, untested (skipped, with the reason) in ipv4 ones.
    feature("IPv6", &["ipv6"]),
    feature("several policies add up", &["union"]),
    feature("pod relabel", &["label-change"]),
    feature("namespace relabel", &["namespace-relabel"]),
    feature("policy update", &["policy-update"]),
    feature("policy delete", &["policy-delete"]),
];

/// Tags that describe a case without naming a feature: `steps` and
/// `use-case` say how a case is built, `tcp` is probed by nearly every case,
/// `fixture` marks the harness's own test cases.
pub const NOT_FEATURES: &[&str] = &["steps", "use-case", "tcp", "fixture"];

const fn feature(name: &'static str, tags: &'static [&'static str]) -> Feature {
    Feature { name, tags }
}

impl Feature {
    pub fn covers(&self, case: &CaseRecord) -> bool {
        case.tags.iter().any(|t| self.tags.contains(&t.as_str()))
    }
}

/// How one run did on the cases of one feature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Support {
    /// The run has no case of the feature.
    NoCases,
    /// Every judged case passed (`skipped` more were not judged).
    Supported { skipped: usize },
    /// Some judged cases failed, some passed.
    Partial { failing: usize, skipped: usize },
    /// Every judged case failed.
    Unsupported { skipped: usize },
    /// Every case was skipped, for these reasons.
    Untested { reasons: Vec<String> },
}

impl Support {
    /// Judges a feature on one run's cases; expected failures count as failing.
    pub fn of(feature: &Feature, cases: &[CaseRecord]) -> Support {
        let mine: Vec<&CaseRecord> = cases.iter().filter(|c| feature.covers(c)).collect();
        if mine.is_empty() {
            return Support::NoCases;
        }
        let count =
            |wanted: &[Verdict]| mine.iter().filter(|c| wanted.contains(&c.verdict)).count();
        let failing = count(&[Verdict::Failed, Verdict::ExpectedFailure]);
        let passed = count(&[Verdict::Passed]);
        let skipped = count(&[Verdict::Skipped]);
        match (passed, failing) {
            (0, 0) => {
                let mut reasons: Vec<String> = mine
                    .iter()
                    .map(|c| c.reason.clone().unwrap_or_else(|| "no reason given".into()))
                    .collect();
                reasons.sort();
                reasons.dedup();
                Support::Untested { reasons }
            }
            (_, 0) => Support::Supported { skipped },
            (0, _) => Support::Unsupported { skipped },
            _ => Support::Partial { failing, skipped },
        }
    }

    /// One word for colours and CSS classes.
    pub fn class(&self) -> &'static str {
        match self {
            Support::NoCases => "no-cases",
            Support::Supported { .. } => "supported",
            Support::Partial { .. } => "partial",
            Support::Unsupported { .. } => "unsupported",
            Support::Untested { .. } => "untested",
        }
    }
}

impl fmt::Display for Support {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let skipped = |n: usize| {
            if n == 0 {
                String::new()
            } else {
                format!("{n} skipped")
            }
        };
        match self {
            Support::NoCases => write!(f, "no cases"),
            Support::Supported { skipped: 0 } => write!(f, "supported"),
            Support::Supported { skipped: n } => write!(f, "supported ({})", skipped(*n)),
            Support::Partial {
                failing,
                skipped: 0,
            } => write!(f, "partial ({failing} failing)"),
            Support::Partial {
                failing,
                skipped: n,
            } => {
                write!(f, "partial ({failing} failing, {})", skipped(*n))
            }
            Support::Unsupported { skipped: 0 } => write!(f, "unsupported"),
            Support::Unsupported { skipped: n } => write!(f, "unsupported ({})", skipped(*n)),
            Support::Untested { reasons } => {
                write!(f, "untested (skipped: {})", reasons.join("; "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &str, tags: &[&str], verdict: Verdict) -> CaseRecord {
        CaseRecord {
            name: name.into(),
            file: format!("cases/test/{name}.yaml"),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            verdict,
            reason: (verdict == Verdict::Skipped).then(|| "sctp unsupported by backend".into()),
            duration_ms: 0,
            steps: Vec::new(),
        }
    }

    fn sctp() -> &'static Feature {
        FEATURES
            .iter()
            .find(|f| f.name == "SCTP")
            .expect("an SCTP row")
    }

    #[test]
    fn a_feature_is_supported_partial_unsupported_or_untested_by_its_cases() {
        let judge = |verdicts: &[Verdict]| {
            let cases: Vec<CaseRecord> = verdicts
                .iter()
                .enumerate()
                .map(|(i, v)| case(&format!("c{i}"), &["sctp", "ingress"], *v))
                .collect();
            Support::of(sctp(), &cases).to_string()
        };
        use Verdict::*;
        assert_eq!(judge(&[Passed, Passed]), "supported");
        assert_eq!(judge(&[Passed, Skipped]), "supported (1 skipped)");
        assert_eq!(
            judge(&[Passed, Failed, ExpectedFailure]),
            "partial (2 failing)"
        );
        assert_eq!(judge(&[Failed, ExpectedFailure]), "unsupported");
        assert_eq!(
            judge(&[Skipped, Skipped]),
            "untested (skipped: sctp unsupported by backend)"
        );
        assert_eq!(judge(&[]), "no cases");
    }

    #[test]
    fn cases_without_the_features_tags_do_not_count() {
        let cases = [
            case("a", &["sctp"], Verdict::Passed),
            case("b", &["udp"], Verdict::Failed),
        ];
        assert_eq!(
            Support::of(sctp(), &cases),
            Support::Supported { skipped: 0 }
        );
    }

    #[test]
    fn every_tag_of_the_case_library_is_a_feature_or_said_not_to_be_one() {
        let cases = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
        let loaded = crate::case::load_paths(&[cases], &crate::model::Model::default())
            .expect("the library loads");
        let mut unknown: Vec<&str> = loaded
            .iter()
            .flat_map(|c| c.tags.iter().map(String::as_str))
            .filter(|t| !NOT_FEATURES.contains(t) && !FEATURES.iter().any(|f| f.tags.contains(t)))
            .collect();
        unknown.sort();
        unknown.dedup();
        assert!(
            unknown.is_empty(),
            "tags in neither FEATURES nor NOT_FEATURES: {unknown:?}"
        );
    }
}
