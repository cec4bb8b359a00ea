//! The rules of the tests that need an environment (`common/env.rs`),
//! checked across the workspace: their binaries list their trials by hand,
//! so a plain `#[test]` added there would silently never run; and one
//! switch, `NETPOL_REQUIRE_ENV`, turns a missing environment into a failure.

use std::path::{Path, PathBuf};

const CRATES: [&str; 3] = ["harness", "reference-enforcer", "probe-image"];

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `[[test]]` targets of a manifest that have `harness = false`.
fn hand_listed(manifest: &str) -> Vec<String> {
    manifest
        .split("[[test]]")
        .skip(1)
        .filter_map(|section| {
            let body = section.split("\n[").next().unwrap_or_default();
            let name = body.lines().find_map(|l| {
                let value = l.trim().strip_prefix("name")?.trim().strip_prefix('=')?;
                Some(value.trim().trim_matches('"').to_owned())
            })?;
            body.lines()
                .any(|l| l.split_whitespace().collect::<String>() == "harness=false")
                .then_some(name)
        })
        .collect()
}

/// `dir` and everything under it that ends in `.rs`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found
}

#[test]
fn binaries_that_list_their_trials_by_hand_hold_no_plain_test_that_would_never_run() {
    let mut hidden = Vec::new();
    let mut binaries = 0;
    for name in CRATES {
        let dir = workspace().join(name);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("a manifest");
        for test in hand_listed(&manifest) {
            binaries += 1;
            let tests = dir.join("tests");
            let mut files = vec![tests.join(format!("{test}.rs"))];
            files.extend(rust_files(&tests.join(&test)));
            for file in files {
                let text = std::fs::read_to_string(&file).unwrap_or_default();
                for (number, line) in text.lines().enumerate() {
                    if line.trim_start().starts_with("#[test]") {
                        hidden.push(format!("{}:{}", file.display(), number + 1));
                    }
                }
            }
        }
    }
    assert!(
        binaries >= 8,
        "only {binaries} binaries with harness = false"
    );
    assert!(
        hidden.is_empty(),
        "`#[test]` in a `harness = false` binary never runs; list it in `main` (plain!/gated!): {hidden:?}"
    );
}

/// Text files of the repository, build output and git aside.
fn text_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        if path.is_dir() {
            text_files(&path, found);
        } else {
            found.push(path);
        }
    }
}

#[test]
fn one_switch_turns_a_missing_environment_into_a_failure() {
    let retired = [
        concat!("NETPOL_REQUIRE", "_NETNS"),
        concat!("NETPOL_REQUIRE", "_ENGINES"),
    ];
    let mut files = Vec::new();
    text_files(&workspace(), &mut files);
    let mentions: Vec<String> = files
        .iter()
        .filter(|f| std::fs::read_to_string(f).is_ok_and(|t| retired.iter().any(|r| t.contains(r))))
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        mentions.is_empty(),
        "{retired:?} are retired: the switch is NETPOL_REQUIRE_ENV ({mentions:?})"
    );
    let ci = std::fs::read_to_string(workspace().join(".ci/run")).expect(".ci/run");
    assert!(
        ci.lines()
            .any(|l| l.trim() == "export NETPOL_REQUIRE_ENV=1"),
        ".ci/run must set the switch"
    );
}
