//! The checks nft and the kernel make once a whole transaction is in.

use std::collections::BTreeMap;

use super::model::{Action, LoadError, MAX_JUMP_DEPTH, Match, Selector, Statement, Table};

/// What the kernel checks once the whole transaction is in: every set, map
/// and chain a rule names exists with the key its selectors give, no jump
/// goes to a base chain, and jumps neither loop nor nest too deep.
pub(super) fn validate(table: &str, tables: &Table) -> Result<(), LoadError> {
    let problem = |message: String| LoadError {
        line: 0,
        message: format!("table {table}: {message}"),
    };
    let key_of =
        |selectors: &[Selector]| selectors.iter().map(|s| s.key_type()).collect::<Vec<_>>();
    let mut targets: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, chain) in &tables.chains {
        let out = targets.entry(name).or_default();
        for rule in &chain.rules {
            for found in &rule.matches {
                if let Match::InSet { selectors, set } = found {
                    let Some(declared) = tables.sets.get(set) else {
                        return Err(problem(format!(
                            "`{}` names set {set}, which does not exist",
                            rule.text
                        )));
                    };
                    if declared.key != key_of(selectors) {
                        return Err(problem(format!(
                            "`{}`: the selectors do not match the key of set {set}",
                            rule.text
                        )));
                    }
                }
            }
            let jumps: Vec<&Statement> = match &rule.action {
                Action::Nothing => Vec::new(),
                Action::Verdict(jump) => vec![jump],
                Action::Vmap { selectors, map } => {
                    let Some(declared) = tables.maps.get(map) else {
                        return Err(problem(format!(
                            "`{}` names map {map}, which does not exist",
                            rule.text
                        )));
                    };
                    if declared.key != key_of(selectors) {
                        return Err(problem(format!(
                            "`{}`: the selectors do not match the key of map {map}",
                            rule.text
                        )));
                    }
                    declared.elements.iter().map(|(_, j)| j).collect()
                }
            };
            for jump in jumps {
                if let Statement::Jump(target) | Statement::Goto(target) = jump {
                    match tables.chains.get(target) {
                        None => {
                            return Err(problem(format!(
                                "`{}` jumps to chain {target}, which does not exist (No such file or directory)",
                                rule.text
                            )));
                        }
                        Some(chain) if chain.base.is_some() => {
                            return Err(problem(format!(
                                "`{}` jumps to base chain {target}",
                                rule.text
                            )));
                        }
                        Some(_) => out.push(target),
                    }
                }
            }
        }
    }
    // Depth-first from every chain: a chain on its own path is a loop.
    fn depth<'a>(
        chain: &'a str,
        targets: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
    ) -> Result<usize, String> {
        if path.contains(&chain) {
            return Err(format!("jumps loop: {} → {chain}", path.join(" → ")));
        }
        path.push(chain);
        let mut deepest = 0;
        for next in targets.get(chain).into_iter().flatten() {
            deepest = deepest.max(1 + depth(next, targets, path)?);
        }
        path.pop();
        Ok(deepest)
    }
    for chain in targets.keys() {
        let deepest = depth(chain, &targets, &mut Vec::new()).map_err(problem)?;
        if deepest > MAX_JUMP_DEPTH {
            return Err(problem(format!(
                "jumps from chain {chain} nest {deepest} deep (at most {MAX_JUMP_DEPTH})"
            )));
        }
    }
    Ok(())
}
