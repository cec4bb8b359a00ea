//! Golden files: `tests/golden/<name>.json` snapshots and the `<name>.nft`
//! rulesets they compile to for node `node-1`. The `.nft` files are written
//! only by `NETPOL_UPDATE_GOLDEN=1 cargo test -p netpol-enforcer --test
//! golden_files`, never by hand, and compared exactly by `cargo test`. A
//! development tool: the shipped enforcer has no command for it.

use std::fs;
use std::path::{Path, PathBuf};

use crate::compile::compile;
use crate::render::render;
use crate::snapshot::Snapshot;

/// The node every golden snapshot is compiled for; the snapshots also put
/// pods on other nodes, so remote peers show up in the rulesets.
pub const GOLDEN_NODE: &str = "node-1";

#[derive(Debug, thiserror::Error)]
pub enum GoldenError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot decode the snapshot {}", path.display())]
    Decode {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One golden pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoldenCase {
    pub name: String,
    pub snapshot: PathBuf,
    pub expected: PathBuf,
}

/// How a golden file compares with what the compiler renders now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Same,
    Missing,
    /// The first differing line (1-based) and both versions of it.
    Differs {
        line: usize,
        expected: String,
        actual: String,
    },
    /// A `.nft` file whose snapshot is gone.
    Orphan,
}

fn read(path: &Path) -> Result<String, GoldenError> {
    fs::read_to_string(path).map_err(|source| GoldenError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn names_with(dir: &Path, extension: &str) -> Result<Vec<String>, GoldenError> {
    let entries = fs::read_dir(dir).map_err(|source| GoldenError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| GoldenError::Read {
                path: dir.to_path_buf(),
                source,
            })?
            .path();
        if path.extension().is_some_and(|e| e == extension)
            && let Some(stem) = path.file_stem()
        {
            names.push(stem.to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// The golden pairs in `dir`, sorted by name.
pub fn cases(dir: &Path) -> Result<Vec<GoldenCase>, GoldenError> {
    Ok(names_with(dir, "json")?
        .into_iter()
        .map(|name| GoldenCase {
            snapshot: dir.join(format!("{name}.json")),
            expected: dir.join(format!("{name}.nft")),
            name,
        })
        .collect())
}

/// Compiles and renders a golden snapshot.
pub fn render_case(case: &GoldenCase) -> Result<String, GoldenError> {
    let text = read(&case.snapshot)?;
    let snapshot = Snapshot::from_json(text.as_bytes()).map_err(|source| GoldenError::Decode {
        path: case.snapshot.clone(),
        source,
    })?;
    Ok(render(&compile(&snapshot, GOLDEN_NODE)))
}

/// Compares one case's `.nft` file with a fresh rendering.
pub fn compare(case: &GoldenCase) -> Result<Outcome, GoldenError> {
    let actual = render_case(case)?;
    if !case.expected.exists() {
        return Ok(Outcome::Missing);
    }
    let expected = read(&case.expected)?;
    if expected == actual {
        return Ok(Outcome::Same);
    }
    let mut expected_lines = expected.lines();
    let mut actual_lines = actual.lines();
    for line in 1.. {
        let (e, a) = (expected_lines.next(), actual_lines.next());
        if e != a || (e.is_none() && a.is_none()) {
            let show =
                |l: Option<&str>| l.map_or_else(|| "<end of file>".to_string(), str::to_string);
            return Ok(Outcome::Differs {
                line,
                expected: show(e),
                actual: show(a),
            });
        }
    }
    unreachable!("the loop returns at the first difference")
}

/// Every case that is not `Same`, plus orphaned `.nft` files.
pub fn check(dir: &Path) -> Result<Vec<(String, Outcome)>, GoldenError> {
    let cases = cases(dir)?;
    let mut problems = Vec::new();
    for case in &cases {
        let outcome = compare(case)?;
        if outcome != Outcome::Same {
            problems.push((case.name.clone(), outcome));
        }
    }
    for name in names_with(dir, "nft")? {
        if !cases.iter().any(|c| c.name == name) {
            problems.push((name, Outcome::Orphan));
        }
    }
    Ok(problems)
}

/// Rewrites every `.nft` file that differs and removes orphans; returns the
/// names of what changed.
pub fn update(dir: &Path) -> Result<Vec<String>, GoldenError> {
    let mut changed = Vec::new();
    for (name, outcome) in check(dir)? {
        let path = dir.join(format!("{name}.nft"));
        let result = if outcome == Outcome::Orphan {
            fs::remove_file(&path)
        } else {
            let case = GoldenCase {
                name: name.clone(),
                snapshot: dir.join(format!("{name}.json")),
                expected: path.clone(),
            };
            fs::write(&path, render_case(&case)?)
        };
        result.map_err(|source| GoldenError::Write { path, source })?;
        changed.push(name);
    }
    Ok(changed)
}
