//! The speed claim that matters most, guarded as a ratio (never an absolute
//! time, which depends on the machine): probing the matrix batched — one agent
//! exec per source pod — beats one process per probe. Needs root, like the
//! netns tests (`common/env.rs`: ignored with the reason without them).

#[macro_use]
#[path = "common/env.rs"]
mod env;

use std::process::Command;

use env::Needs;

fn a_batched_matrix_is_faster_than_one_process_per_probe() {
    let output = Command::new(env!("CARGO_BIN_EXE_netpol"))
        .args(["bench", "matrix", "--probe", "tcp/80", "--workers", "3"])
        .output()
        .expect("netpol runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout.lines().last().expect("a summary line");
    // `matrix: batched <ms> ms, per-probe <ms> ms, ratio <x>`
    let ratio: f64 = last
        .rsplit(' ')
        .next()
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no ratio in {last:?}"));
    assert!(last.starts_with("matrix: batched "), "{last}");
    assert!(
        ratio > 1.0,
        "batched is not faster than per-probe: {stdout}"
    );
    assert!(
        stdout.contains("cells that differ 0"),
        "the two ways disagree: {stdout}"
    );
}

fn main() -> std::process::ExitCode {
    env::run(vec![gated!(
        Needs::Netns,
        a_batched_matrix_is_faster_than_one_process_per_probe
    )])
}
