//! Hostile input is refused in bounded time and memory: every file of the
//! invalid-case corpus (alias bombs and deep nesting among them) under an
//! address-space limit, a file past the size limit, and one just under it
//! packed with a hundred thousand problems.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use netpol_harness::case::{MAX_CASE_BYTES, MAX_SHOWN_PER_FILE};

/// Address space for one `netpol run` (a normal run of the library needs
/// well under half of it).
const MEMORY_KIB: u64 = 256 * 1024;
/// Wall time for refusing one file, in a debug build on a busy machine.
const WITHIN: Duration = Duration::from_secs(10);

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `netpol run --backend oracle --cases FILE` with the memory limit, timed.
fn refuse(file: &Path) -> (Output, Duration) {
    let started = Instant::now();
    let script = format!("ulimit -v {MEMORY_KIB}; exec \"$0\" run --backend oracle --cases \"$1\"");
    let output = Command::new("sh")
        .current_dir(crate_dir())
        .args(["-c", &script, env!("CARGO_BIN_EXE_netpol")])
        .arg(file)
        .output()
        .expect("netpol runs");
    (output, started.elapsed())
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netpol-hostile-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

#[test]
fn every_invalid_case_is_refused_within_bounded_time_and_memory() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(crate_dir().join("tests/invalid-cases"))
        .expect("the corpus")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for file in files {
        let (output, took) = refuse(&file);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{}: {stderr}",
            file.display()
        );
        assert!(took < WITHIN, "{} took {took:?}", file.display());
    }
}

#[test]
fn a_file_past_the_size_limit_is_refused_before_it_is_read() {
    let size = MAX_CASE_BYTES as usize + 1;
    let text = format!("name: too-big\n# {}\n", "x".repeat(size - 17));
    assert_eq!(text.len(), size);
    let dir = scratch("too-big");
    let file = dir.join("too-big.yaml");
    std::fs::write(&file, text).expect("written");
    let (output, took) = refuse(&file);
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.ends_with(&format!(
            "too-big.yaml: file is {size} bytes; a case may have at most {MAX_CASE_BYTES}\n"
        )),
        "{stderr}"
    );
    assert!(took < WITHIN, "took {took:?}");
}

#[test]
fn a_file_just_under_the_limit_full_of_problems_is_refused_with_a_screenful() {
    let dir = scratch("full");
    let file = dir.join("full-of-problems.yaml");
    let mut text = String::from("name: full-of-problems\n");
    let mut i = 0;
    while text.len() < MAX_CASE_BYTES as usize - 32 {
        text.push_str(&format!("k{i}: 1\n"));
        i += 1;
    }
    std::fs::write(&file, &text).expect("written");
    let (output, took) = refuse(&file);
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(took < WITHIN, "{i} keys took {took:?}");
    let lines = stderr.lines().count();
    assert!(lines <= MAX_SHOWN_PER_FILE + 1, "{lines} lines");
}
