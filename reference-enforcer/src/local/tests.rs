use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::command::CommandError;

/// A scratch folder removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("netpol-enf-unit-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn options(dir: &Path) -> LocalOptions {
    LocalOptions {
        state: dir.join("state.json"),
        node: "node-1".into(),
        status: dir.join("status.json"),
        poll: Duration::from_millis(1),
    }
}

/// Replaces the state file the way the harness does: write aside, rename.
fn publish(options: &LocalOptions, generation: u64) {
    let text = serde_json::json!({
        "generation": generation,
        "pods": [{"namespace": "x", "name": "a", "node": "node-1", "ip": "10.0.1.1"}],
        "policies": [{"metadata": {"namespace": "x", "name": "deny"}, "spec": {"podSelector": {}}}],
    });
    let aside = options.state.with_extension("new");
    fs::write(&aside, text.to_string()).unwrap();
    fs::rename(&aside, &options.state).unwrap();
}

fn read_status(options: &LocalOptions) -> Status {
    serde_json::from_slice(&fs::read(&options.status).unwrap()).unwrap()
}

#[test]
fn each_change_is_applied_once_and_reported_in_the_status_file() {
    let scratch = Scratch::new("changes");
    let options = options(&scratch.0);
    let mut applied = Vec::new();
    let mut apply = |text: &str| {
        applied.push(text.to_string());
        Ok(())
    };
    let mut watcher = StateWatcher::new(&options.state);

    publish(&options, 1);
    let status = tick(&mut watcher, &options, &mut apply).expect("the first poll reports");
    assert_eq!(status, read_status(&options));
    assert_eq!(
        (status.generation, status.applied, status.error.as_deref()),
        (Some(1), true, None)
    );
    assert!(
        tick(&mut watcher, &options, &mut apply).is_none(),
        "nothing changed"
    );

    publish(&options, 2);
    assert_eq!(
        tick(&mut watcher, &options, &mut apply).unwrap().generation,
        Some(2)
    );
    assert_eq!(applied.len(), 2);
    assert!(applied[1].contains("10.0.1.1 : drop"), "{}", applied[1]);
}

#[test]
fn a_failed_apply_is_reported_and_retried_on_the_next_change() {
    let scratch = Scratch::new("failure");
    let options = options(&scratch.0);
    let mut attempts = 0;
    let mut apply = |_: &str| {
        attempts += 1;
        if attempts == 1 {
            let stderr = "Error: Could not process rule: File exists".to_string();
            return Err(CommandError::Failed {
                command: "nft -f -".into(),
                status: "exit status: 1".into(),
                stderr,
            });
        }
        Ok(())
    };
    let mut watcher = StateWatcher::new(&options.state);

    publish(&options, 5);
    let status = tick(&mut watcher, &options, &mut apply).unwrap();
    assert!(!status.applied);
    assert_eq!(
        status.error.as_deref(),
        Some("`nft -f -` failed (exit status: 1): Error: Could not process rule: File exists")
    );
    assert!(
        tick(&mut watcher, &options, &mut apply).is_none(),
        "no retry without a change"
    );

    publish(&options, 6);
    let status = tick(&mut watcher, &options, &mut apply).unwrap();
    assert_eq!((status.generation, status.applied), (Some(6), true));
}

#[test]
fn an_undecodable_snapshot_is_reported_with_its_generation_when_it_has_one() {
    let scratch = Scratch::new("undecodable");
    let options = options(&scratch.0);
    let mut apply = |_: &str| -> Result<(), ApplyError> { panic!("nothing to apply") };
    let mut watcher = StateWatcher::new(&options.state);

    fs::write(&options.state, r#"{"generation": 9, "pods": "many"}"#).unwrap();
    let status = tick(&mut watcher, &options, &mut apply).unwrap();
    assert_eq!((status.generation, status.applied), (Some(9), false));
    assert!(
        status
            .error
            .unwrap()
            .starts_with("cannot decode the snapshot: ")
    );
}

#[test]
fn a_missing_state_file_is_reported_once() {
    let scratch = Scratch::new("missing");
    let options = options(&scratch.0);
    let mut apply = |_: &str| -> Result<(), ApplyError> { panic!("nothing to apply") };
    let mut watcher = StateWatcher::new(&options.state);

    let status = tick(&mut watcher, &options, &mut apply).unwrap();
    assert_eq!((status.generation, status.applied), (None, false));
    assert!(status.error.unwrap().starts_with("cannot read "));
    assert!(tick(&mut watcher, &options, &mut apply).is_none());
}

#[test]
fn the_status_file_has_the_documented_fields() {
    let status = Status {
        generation: Some(3),
        applied: true,
        error: None,
        warnings: vec!["w".into()],
        micros: 42,
    };
    let value = serde_json::to_value(&status).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"generation": 3, "applied": true, "error": null, "warnings": ["w"], "micros": 42})
    );
}

#[test]
fn an_error_chain_reads_as_one_sentence() {
    let error = crate::golden::GoldenError::Read {
        path: "/x".into(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
    };
    assert_eq!(error_chain(&error), "cannot read /x: gone");
}
