//! The short form of expectations: a default, then rules over pod patterns.

use super::{Reach, TruthTable};
use crate::model::{Model, PodId};

/// `ns/pod`, `ns/*`, `*/pod` or `*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    namespace: Option<String>,
    pod: Option<String>,
}

impl Pattern {
    /// Parses a pattern whose names must exist in the model.
    pub fn parse(text: &str, model: &Model) -> Result<Pattern, String> {
        let (namespace, pod) = if text == "*" {
            (None, None)
        } else {
            let shape = || {
                format!("`{text}` is not a pod pattern (write `ns/pod`, `ns/*`, `*/pod` or `*`)")
            };
            let (ns, pod) = text.split_once('/').ok_or_else(shape)?;
            if pod.contains('/') || ns.is_empty() || pod.is_empty() {
                return Err(shape());
            }
            let wild = |part: &str| (part != "*").then(|| part.to_owned());
            (wild(ns), wild(pod))
        };
        let pattern = Pattern { namespace, pod };
        if let Some(ns) = &pattern.namespace
            && !model.has_namespace(ns)
        {
            return Err(format!(
                "unknown namespace `{ns}` in `{text}` (namespaces are {})",
                model.namespace_list()
            ));
        }
        if !model.pods.iter().any(|p| pattern.matches(&p.id)) {
            return Err(format!(
                "unknown pod `{text}` (pods are {})",
                model.pod_range()
            ));
        }
        Ok(pattern)
    }

    pub fn matches(&self, pod: &PodId) -> bool {
        self.namespace
            .as_ref()
            .is_none_or(|ns| *ns == pod.namespace)
            && self.pod.as_ref().is_none_or(|name| *name == pod.name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub from: Pattern,
    pub to: Pattern,
    pub reach: Reach,
}

/// Starts every cell at `default`, then applies the rules in order (a later rule wins).
pub fn table_from_rules(pods: &[PodId], default: Reach, rules: &[Rule]) -> TruthTable {
    let mut table = TruthTable::filled(pods.to_vec(), default);
    for rule in rules {
        for (from, source) in pods.iter().enumerate() {
            if !rule.from.matches(source) {
                continue;
            }
            for (to, destination) in pods.iter().enumerate() {
                if rule.to.matches(destination) {
                    table.set(from, to, rule.reach);
                }
            }
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_by_namespace_and_pod_name() {
        let model = Model::default();
        let x_any = Pattern::parse("x/*", &model).unwrap();
        assert!(x_any.matches(&PodId::new("x", "c")));
        assert!(!x_any.matches(&PodId::new("y", "c")));
        let any_a = Pattern::parse("*/a", &model).unwrap();
        assert!(any_a.matches(&PodId::new("z", "a")));
        assert!(!any_a.matches(&PodId::new("z", "b")));
        assert!(
            Pattern::parse("*", &model)
                .unwrap()
                .matches(&PodId::new("y", "b"))
        );
    }

    #[test]
    fn bad_patterns_name_the_allowed_shapes_and_unknown_names() {
        let model = Model::default();
        assert!(
            Pattern::parse("x/a/b", &model)
                .unwrap_err()
                .contains("write `ns/pod`")
        );
        assert!(
            Pattern::parse("x/d", &model)
                .unwrap_err()
                .contains("unknown pod `x/d`")
        );
        assert!(
            Pattern::parse("w/*", &model)
                .unwrap_err()
                .contains("unknown namespace `w`")
        );
        assert!(Pattern::parse("xa", &model).is_err());
    }

    #[test]
    fn later_rules_win() {
        let model = Model::default();
        let rules = [
            Rule {
                from: Pattern::parse("*", &model).unwrap(),
                to: Pattern::parse("x/a", &model).unwrap(),
                reach: Reach::Denied,
            },
            Rule {
                from: Pattern::parse("x/*", &model).unwrap(),
                to: Pattern::parse("x/a", &model).unwrap(),
                reach: Reach::Allowed,
            },
        ];
        let table = table_from_rules(&model.pod_ids(), Reach::Allowed, &rules);
        assert_eq!(table.get(1, 0), Reach::Allowed);
        assert_eq!(table.get(3, 0), Reach::Denied);
        assert_eq!(table.get(3, 1), Reach::Allowed);
    }
}
