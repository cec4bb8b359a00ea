//! A truth table back into the short rule form people write: a default, then
//! as few `{from, to, allow}` rules over `*`, `ns/*`, `*/pod` and `ns/pod` as
//! a greedy search finds.

use crate::model::{Model, PodId};
use crate::truth::{Pattern, Reach, Rule, TruthTable};

/// One rule as a case file writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShortRule {
    pub from: String,
    pub to: String,
    pub allow: bool,
}

/// Every pattern over the model, broadest first (ties go to the broadest).
fn patterns(model: &Model) -> Vec<(String, Pattern)> {
    let mut texts = vec!["*".to_owned()];
    texts.extend(model.namespaces.iter().map(|n| format!("{}/*", n.name)));
    let mut names: Vec<&str> = model.pods.iter().map(|p| p.id.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    texts.extend(names.iter().map(|n| format!("*/{n}")));
    texts.extend(model.pods.iter().map(|p| p.id.to_string()));
    texts
        .into_iter()
        .filter_map(|t| Pattern::parse(&t, model).ok().map(|p| (t, p)))
        .collect()
}

/// The default and the rules that rebuild `table` (diagonal aside).
pub fn short_form(table: &TruthTable, model: &Model) -> (Reach, Vec<ShortRule>) {
    let pods: Vec<PodId> = table.pods().to_vec();
    let n = pods.len();
    let off_diagonal = || {
        (0..n)
            .flat_map(|f| (0..n).map(move |t| (f, t)))
            .filter(|(f, t)| f != t)
    };
    let allowed = off_diagonal()
        .filter(|&(f, t)| table.get(f, t) == Reach::Allowed)
        .count();
    let default = if allowed * 2 >= n * n.saturating_sub(1) {
        Reach::Allowed
    } else {
        Reach::Denied
    };
    let mut current = TruthTable::filled(pods.clone(), default);
    let patterns = patterns(model);
    let members: Vec<Vec<usize>> = patterns
        .iter()
        .map(|(_, p)| (0..n).filter(|&i| p.matches(&pods[i])).collect())
        .collect();
    let mut rules = Vec::new();
    while off_diagonal().any(|(f, t)| current.get(f, t) != table.get(f, t)) {
        let mut best: Option<(i64, usize, usize, Reach)> = None;
        for (fi, from) in members.iter().enumerate() {
            for (ti, to) in members.iter().enumerate() {
                for reach in [Reach::Allowed, Reach::Denied] {
                    let mut gain = 0i64;
                    for &f in from {
                        for &t in to.iter().filter(|&&t| t != f) {
                            let (now, wanted) = (current.get(f, t), table.get(f, t));
                            if now != reach && wanted == reach {
                                gain += 1;
                            } else if now == wanted && wanted != reach {
                                gain -= 1;
                            }
                        }
                    }
                    if best.is_none_or(|(g, ..)| gain > g) {
                        best = Some((gain, fi, ti, reach));
                    }
                }
            }
        }
        // A single wrong cell is always a gain of one, so `best` fixes something.
        let Some((_, fi, ti, reach)) = best else {
            break;
        };
        for &f in &members[fi] {
            for &t in &members[ti] {
                current.set(f, t, reach);
            }
        }
        rules.push(ShortRule {
            from: patterns[fi].0.clone(),
            to: patterns[ti].0.clone(),
            allow: reach == Reach::Allowed,
        });
    }
    (default, rules)
}

/// The rules as the parser reads them, for checking a round trip.
pub fn parsed(rules: &[ShortRule], model: &Model) -> Vec<Rule> {
    rules
        .iter()
        .filter_map(|r| {
            Some(Rule {
                from: Pattern::parse(&r.from, model).ok()?,
                to: Pattern::parse(&r.to, model).ok()?,
                reach: Reach::from_allowed(r.allow),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::rng::Rng;
    use crate::truth::table_from_rules;

    #[test]
    fn a_namespace_isolated_from_the_rest_takes_two_rules() {
        let model = Model::default();
        let pods = model.pod_ids();
        let mut table = TruthTable::filled(pods.clone(), Reach::Allowed);
        for (f, from) in pods.iter().enumerate() {
            for (t, to) in pods.iter().enumerate() {
                if to.namespace == "x" && from.namespace != "x" {
                    table.set(f, t, Reach::Denied);
                }
            }
        }
        let (default, rules) = short_form(&table, &model);
        assert_eq!(default, Reach::Allowed);
        assert_eq!(rules.len(), 2, "{rules:?}");
        let rebuilt = table_from_rules(&pods, default, &parsed(&rules, &model));
        assert!(rebuilt.agrees_with(&table));
    }

    #[test]
    fn any_table_is_rebuilt_exactly_from_its_short_form() {
        let model = Model::default();
        let pods = model.pod_ids();
        let mut rng = Rng::for_case(3, 0);
        for density in [0, 5, 30, 50, 70, 95, 100] {
            for _ in 0..50 {
                let mut table = TruthTable::filled(pods.clone(), Reach::Allowed);
                for f in 0..pods.len() {
                    for t in 0..pods.len() {
                        table.set(f, t, Reach::from_allowed(!rng.chance(density)));
                    }
                }
                let (default, rules) = short_form(&table, &model);
                let rebuilt = table_from_rules(&pods, default, &parsed(&rules, &model));
                assert!(rebuilt.agrees_with(&table), "{rules:?}");
            }
        }
    }
}
