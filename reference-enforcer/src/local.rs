//! Local mode: beside the netns backend, inside one node's network
//! namespace. Polls the snapshot file the harness replaces by rename,
//! compiles and applies on every change, and reports each attempt in a
//! status file.
//!
//! There is no signal handler on purpose: SIGTERM or SIGINT ends the process
//! with the default action, which removes nothing, so the last ruleset stays
//! in force (fail closed) and a restarted enforcer reconciles from the file.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::compile::compile;
use crate::nft::{self, ApplyError};
use crate::render::render;
use crate::snapshot::Snapshot;

/// Reread the file this often even when its metadata looks unchanged: an
/// in-place rewrite of the same size within one mtime tick would otherwise
/// go unseen.
pub const FULL_READ_EVERY: Duration = Duration::from_secs(1);

/// What `netpol-enforcer local` needs.
#[derive(Clone, Debug)]
pub struct LocalOptions {
    pub state: PathBuf,
    pub node: String,
    pub status: PathBuf,
    pub poll: Duration,
}

/// The status file, rewritten (atomically) after every attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The snapshot's generation; `null` when the file could not be read
    /// far enough to find it.
    pub generation: Option<u64>,
    /// True when the kernel now holds this generation's ruleset.
    pub applied: bool,
    pub error: Option<String>,
    pub warnings: Vec<String>,
    /// Compile, render and apply, in microseconds.
    pub micros: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    modified: Option<SystemTime>,
}

/// Tells when the state file's content changed.
#[derive(Debug)]
pub struct StateWatcher {
    path: PathBuf,
    stamp: Option<Stamp>,
    last: Option<Result<Vec<u8>, String>>,
    last_read: Instant,
}

impl StateWatcher {
    pub fn new(path: &Path) -> StateWatcher {
        StateWatcher {
            path: path.to_path_buf(),
            stamp: None,
            last: None,
            last_read: Instant::now(),
        }
    }

    /// The new content (or why it cannot be read) when it changed since the
    /// last call; the first call always reports.
    pub fn poll(&mut self) -> Option<Result<Vec<u8>, String>> {
        let stamp = fs::metadata(&self.path).ok().map(|m| Stamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            modified: m.modified().ok(),
        });
        let due = self.last_read.elapsed() >= FULL_READ_EVERY;
        if self.last.is_some() && stamp == self.stamp && !due {
            return None;
        }
        self.stamp = stamp;
        self.last_read = Instant::now();
        let current =
            fs::read(&self.path).map_err(|e| format!("cannot read {}: {e}", self.path.display()));
        if self.last.as_ref() == Some(&current) {
            return None;
        }
        self.last = Some(current.clone());
        Some(current)
    }
}

/// An error and its sources, one sentence: "a: b: c".
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The generation of a snapshot that does not decode, when it has one.
fn generation_hint(content: &[u8]) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_slice(content).ok()?;
    value.get("generation")?.as_u64()
}

/// One attempt: decode, compile for `node`, render, apply.
pub fn reconcile(
    content: &[u8],
    node: &str,
    apply: &mut dyn FnMut(&str) -> Result<(), ApplyError>,
) -> Status {
    let started = Instant::now();
    let micros =
        |started: Instant| u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let snapshot = match Snapshot::from_json(content) {
        Ok(snapshot) => snapshot,
        Err(error) => {
            return Status {
                generation: generation_hint(content),
                applied: false,
                error: Some(format!("cannot decode the snapshot: {error}")),
                warnings: Vec::new(),
                micros: micros(started),
            };
        }
    };
    let ruleset = compile(&snapshot, node);
    let result = apply(&render(&ruleset));
    Status {
        generation: Some(snapshot.generation),
        applied: result.is_ok(),
        error: result.err().map(|e| error_chain(&e)),
        warnings: ruleset.warnings,
        micros: micros(started),
    }
}

/// Writes `status` to `path` by rename, so a reader never sees half a file.
pub fn write_status(path: &Path, status: &Status) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let mut text = serde_json::to_vec(status).map_err(std::io::Error::other)?;
    text.push(b'\n');
    fs::write(&temporary, text)?;
    fs::rename(&temporary, path)
}

/// One poll: when the state changed, reconcile and write the status.
pub fn tick(
    watcher: &mut StateWatcher,
    options: &LocalOptions,
    apply: &mut dyn FnMut(&str) -> Result<(), ApplyError>,
) -> Option<Status> {
    let status = match watcher.poll()? {
        Ok(content) => reconcile(&content, &options.node, apply),
        Err(error) => Status {
            generation: None,
            applied: false,
            error: Some(error),
            warnings: Vec::new(),
            micros: 0,
        },
    };
    if let Err(error) = write_status(&options.status, &status) {
        eprintln!(
            "netpol-enforcer: cannot write status {}: {error}",
            options.status.display()
        );
    }
    Some(status)
}

fn describe(status: &Status) -> String {
    let generation = status
        .generation
        .map_or_else(|| "?".to_string(), |g| g.to_string());
    match &status.error {
        None => format!(
            "generation {generation} applied in {} µs ({} warnings)",
            status.micros,
            status.warnings.len()
        ),
        Some(error) => {
            format!("generation {generation} not applied, previous ruleset kept: {error}")
        }
    }
}

/// Runs until killed; see the module comment for why there is no clean exit.
pub fn run(options: &LocalOptions) -> ! {
    let mut watcher = StateWatcher::new(&options.state);
    let mut apply = |text: &str| nft::apply(text);
    loop {
        if let Some(status) = tick(&mut watcher, options, &mut apply) {
            eprintln!(
                "netpol-enforcer: node {}: {}",
                options.node,
                describe(&status)
            );
        }
        thread::sleep(options.poll);
    }
}

#[cfg(test)]
mod tests;
