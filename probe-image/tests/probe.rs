//! `netpol-probe probe`, run as a process against sockets on 127.0.0.1.

mod common;

use std::net::{TcpListener, UdpSocket};
use std::process::Output;
use std::time::{Duration, Instant};

use common::{LOOPBACK, run};
use netpol_probe::{Observation, Outcome, sctp_supported};

fn results(output: Output) -> Vec<Observation> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn closed_tcp_port() -> u16 {
    TcpListener::bind((LOOPBACK, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn targets_on_stdin_are_probed_and_answered_in_input_order() {
    let listener = TcpListener::bind((LOOPBACK, 0)).unwrap();
    let open = listener.local_addr().unwrap().port();
    let closed = closed_tcp_port();
    let stdin = format!(
        r#"[{{"to":"x/a","host":"127.0.0.1","protocol":"tcp","port":{closed}}},
            {{"to":"x/b","host":"127.0.0.1","protocol":"tcp","port":{open}}}]"#
    );
    let lines = results(run(&["probe", "--timeout-ms", "500"], &stdin));
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (lines[0].to.as_str(), lines[0].result),
        ("x/a", Outcome::Refused)
    );
    assert_eq!(
        lines[0].error.as_deref(),
        Some("Connection refused (os error 111)")
    );
    assert_eq!(
        (lines[1].to.as_str(), lines[1].result),
        ("x/b", Outcome::Connected)
    );
    assert_eq!(lines[1].error, None);
}

#[test]
fn twenty_silent_targets_take_one_timeout_not_twenty() {
    const TIMEOUT: Duration = Duration::from_millis(300);
    let silent = UdpSocket::bind((LOOPBACK, 0)).unwrap();
    let port = silent.local_addr().unwrap().port();
    let targets: Vec<String> = (0..20)
        .map(|i| format!("--target=x/{i}={LOOPBACK}:udp/{port}"))
        .collect();
    let mut args = vec!["probe", "--timeout-ms", "300"];
    args.extend(targets.iter().map(String::as_str));

    let start = Instant::now();
    let lines = results(run(&args, ""));
    let took = start.elapsed();

    eprintln!("20 udp timeouts of 300 ms took {took:?} (process included)");
    assert!(took < TIMEOUT * 3 / 2, "took {took:?}");
    assert_eq!(lines.len(), 20);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line.to, format!("x/{i}"));
        assert_eq!(line.result, Outcome::Timeout, "{line:?}");
        assert!(line.micros >= 300_000, "{line:?}");
    }
}

#[test]
fn sctp_on_a_kernel_without_it_is_unsupported() {
    let target = format!("--target=x/a={LOOPBACK}:sctp/80");
    let lines = results(run(&["probe", "--timeout-ms", "300", &target], ""));
    let expected = if sctp_supported() {
        // With SCTP and nothing on port 80 the kernel answers with an ABORT.
        Outcome::Refused
    } else {
        Outcome::Unsupported
    };
    assert_eq!(lines[0].result, expected, "{:?}", lines[0]);
}

#[test]
fn bad_targets_on_stdin_are_exit_code_2_naming_the_problem() {
    let cases = [
        (
            "[{\"to\":",
            "the targets on stdin are not a JSON array of targets: EOF while parsing",
        ),
        (
            "",
            "the targets on stdin are not a JSON array of targets: EOF while parsing",
        ),
        (
            r#"[{"to":"x/a","host":"127.0.0.1","protocol":"icmp","port":80}]"#,
            "unknown variant `icmp`, expected one of `tcp`, `udp`, `sctp`",
        ),
        (
            r#"[{"to":"x/a","host":"127.0.0.1","protocol":"tcp","port":0}]"#,
            "targets[0] (`x/a`): port 0 is out of range (1-65535)",
        ),
    ];
    for (stdin, expected) in cases {
        let output = run(&["probe"], stdin);
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{stdin}: {stderr}");
        assert!(stderr.starts_with("netpol-probe: "), "{stderr}");
        assert!(stderr.contains(expected), "{stdin}: {stderr}");
        assert!(output.stdout.is_empty(), "{stdin}: nothing probed");
    }
}

#[test]
fn a_bad_target_flag_is_exit_code_2() {
    let output = run(&["probe", "--target", "x/a=127.0.0.1:tcp/0"], "");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("port 0 in `x/a=127.0.0.1:tcp/0` is out of range"),
        "{stderr}"
    );
}
