//! `netpol-probe serve`, run as a process on 127.0.0.1.

mod common;

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{LOOPBACK, LOOPBACK_V6, Server, run};
use netpol_probe::{Endpoint, Observation, Outcome, Protocol, sctp_supported};

#[test]
fn the_ready_line_lists_every_endpoint_with_its_real_port_then_serves_them() {
    let server = Server::start(&["--ports", "0,0", "--protocols", "tcp,udp"]);
    let serving = &server.ready.serving;
    assert!(server.ready.ready);
    assert!(server.ready.unsupported.is_empty());
    let protocols: Vec<_> = serving.iter().map(|e| e.protocol).collect();
    assert_eq!(
        protocols,
        [Protocol::Tcp, Protocol::Tcp, Protocol::Udp, Protocol::Udp]
    );
    assert!(serving.iter().all(|e| e.port != 0), "{serving:?}");

    let targets: Vec<String> = serving
        .iter()
        .map(|e| format!("--target=lo/{e}={LOOPBACK}:{e}"))
        .collect();
    let mut args = vec!["probe"];
    args.extend(targets.iter().map(String::as_str));
    let output = run(&args, "");
    assert_eq!(output.status.code(), Some(0));
    let lines: Vec<Observation> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    for (line, endpoint) in lines.iter().zip(serving) {
        assert_eq!(
            (line.protocol, line.port),
            (endpoint.protocol, endpoint.port)
        );
        assert_eq!(line.result, Outcome::Connected, "{line:?}");
    }
}

#[test]
fn without_sctp_in_the_kernel_serve_says_so_and_serves_the_rest() {
    let server = Server::start(&["--ports", "0"]);
    let sctp_asked = Endpoint {
        protocol: Protocol::Sctp,
        port: 0,
    };
    if sctp_supported() {
        assert_eq!(server.ready.serving.len(), 3);
        assert!(server.ready.unsupported.is_empty());
    } else {
        let protocols: Vec<_> = server.ready.serving.iter().map(|e| e.protocol).collect();
        assert_eq!(protocols, [Protocol::Tcp, Protocol::Udp]);
        assert_eq!(server.ready.unsupported, [sctp_asked]);
    }
}

#[test]
fn sigterm_stops_the_server_with_exit_code_0() {
    let mut server = Server::start(&["--ports", "0", "--protocols", "tcp"]);
    let killed = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "still serving after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0));
    assert_eq!(server.rest_of_stdout(), "", "exactly one line");
}

#[test]
fn a_port_in_use_is_exit_code_2_naming_protocol_port_and_os_error() {
    let taken = TcpListener::bind((LOOPBACK, 0)).unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = run(
        &[
            "serve",
            "--ports",
            &port,
            "--protocols",
            "udp,tcp",
            "--bind",
            "127.0.0.1",
        ],
        "",
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        output.stdout.is_empty(),
        "no ready line before everything is bound"
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr,
        format!(
            "netpol-probe: cannot bind tcp/{port} on 127.0.0.1: Address already in use (os error 98)\n"
        )
    );
}

#[test]
fn over_ipv6_the_agent_serves_and_dials_as_over_ipv4() {
    let server = Server::start_on("::1", &["--ports", "0", "--protocols", "tcp,udp"]);
    let targets: Vec<String> = server
        .ready
        .serving
        .iter()
        .map(|e| format!("--target=lo6/{e}=[{LOOPBACK_V6}]:{e}"))
        .collect();
    let mut args = vec!["probe"];
    args.extend(targets.iter().map(String::as_str));
    let output = run(&args, "");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let lines: Vec<Observation> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines.iter().all(|l| l.result == Outcome::Connected),
        "{lines:?}"
    );
}
