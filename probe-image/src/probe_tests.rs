//! Probes against real sockets on 127.0.0.1 only, in process.

use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use super::*;

const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;
const SHORT: Duration = Duration::from_millis(300);

fn target(protocol: Protocol, port: u16) -> Target {
    Target {
        to: format!("lo/{protocol}-{port}"),
        host: LOOPBACK.into(),
        protocol,
        port,
    }
}

/// A port nothing listens on: bound, noted, released.
fn closed_tcp_port() -> u16 {
    TcpListener::bind((LOOPBACK, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn payloads_carry_the_magic_and_the_nonce_in_hex() {
    assert_eq!(&payload(0xfeed), b"netpol-probe 000000000000feed\n");
    assert_ne!(nonce(), nonce());
}

#[test]
fn resends_happen_four_times_per_timeout_but_never_in_a_busy_loop() {
    assert_eq!(
        resend_period(Duration::from_millis(1000)),
        Duration::from_millis(250)
    );
    assert_eq!(resend_period(Duration::from_millis(1)), MIN_RESEND_PERIOD);
}

#[test]
fn only_refusals_and_errors_keep_the_error_text() {
    let refused = Finding::failed(&io::Error::from_raw_os_error(111));
    assert_eq!(refused.outcome, Outcome::Refused);
    assert!(refused.error.unwrap().contains("os error 111"));
    let timeout = Finding::failed(&io::Error::from_raw_os_error(110));
    assert_eq!(timeout, Finding::timeout());
}

#[tokio::test]
async fn a_listening_tcp_port_is_connected() {
    let listener = TcpListener::bind((LOOPBACK, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = probe(target(Protocol::Tcp, port), SHORT, 0).await;
    assert_eq!(seen.result, Outcome::Connected, "{seen:?}");
    assert_eq!(seen.error, None);
    assert!(seen.micros < 300_000, "{seen:?}");
}

#[tokio::test]
async fn a_closed_tcp_port_is_refused_with_the_os_error() {
    let seen = probe(target(Protocol::Tcp, closed_tcp_port()), SHORT, 0).await;
    assert_eq!(seen.result, Outcome::Refused, "{seen:?}");
    assert!(seen.error.unwrap().contains("os error 111"));
}

#[tokio::test]
async fn a_udp_echo_is_connected_even_when_the_first_datagrams_are_lost() {
    let server = UdpSocket::bind((LOOPBACK, 0)).unwrap();
    let port = server.local_addr().unwrap().port();
    // Drops the first datagram as a lossy network would, echoes the second.
    let echo = std::thread::spawn(move || {
        let mut buffer = [0; 64];
        let (_, _) = server.recv_from(&mut buffer).unwrap();
        let (length, peer) = server.recv_from(&mut buffer).unwrap();
        server.send_to(&buffer[..length], peer).unwrap();
    });
    let seen = probe(target(Protocol::Udp, port), Duration::from_millis(800), 0).await;
    echo.join().unwrap();
    assert_eq!(seen.result, Outcome::Connected, "{seen:?}");
    // The echo can only come after the first resend, a quarter of the timeout in.
    assert!(seen.micros >= 200_000, "{seen:?}");
}

#[tokio::test]
async fn a_udp_answer_that_is_not_our_payload_does_not_count() {
    let server = UdpSocket::bind((LOOPBACK, 0)).unwrap();
    let port = server.local_addr().unwrap().port();
    // Answers every datagram with one changed byte, until the probe has given up.
    let liar = std::thread::spawn(move || {
        server.set_read_timeout(Some(SHORT * 2)).unwrap();
        let mut buffer = [0; 64];
        while let Ok((length, peer)) = server.recv_from(&mut buffer) {
            buffer[length - 2] ^= 1;
            server.send_to(&buffer[..length], peer).unwrap();
        }
    });
    let seen = probe(target(Protocol::Udp, port), SHORT, 0).await;
    liar.join().unwrap();
    assert_eq!(seen.result, Outcome::Timeout, "{seen:?}");
}

#[tokio::test]
async fn a_closed_udp_port_is_refused_by_the_icmp_port_unreachable() {
    let port = {
        let socket = UdpSocket::bind((LOOPBACK, 0)).unwrap();
        socket.local_addr().unwrap().port()
    };
    let seen = probe(target(Protocol::Udp, port), SHORT, 0).await;
    assert_eq!(seen.result, Outcome::Refused, "{seen:?}");
    assert!(seen.error.unwrap().contains("os error 111"));
}

#[tokio::test]
async fn a_silent_udp_port_times_out_at_the_timeout() {
    let silent = UdpSocket::bind((LOOPBACK, 0)).unwrap();
    let port = silent.local_addr().unwrap().port();
    let seen = probe(target(Protocol::Udp, port), SHORT, 0).await;
    assert_eq!(seen.result, Outcome::Timeout, "{seen:?}");
    assert_eq!(seen.error, None);
    assert!((300_000..450_000).contains(&seen.micros), "{seen:?}");
    // It was asked four times, since datagrams can be lost, and not once more.
    silent.set_nonblocking(true).unwrap();
    let mut buffer = [0; 64];
    let received = std::iter::from_fn(|| silent.recv(&mut buffer).ok()).count();
    assert_eq!(received, 4);
}

#[tokio::test]
async fn sctp_is_unsupported_exactly_where_the_kernel_lacks_it() {
    let seen = probe(target(Protocol::Sctp, closed_tcp_port()), SHORT, 0).await;
    if sctp::supported() {
        assert_ne!(seen.result, Outcome::Unsupported, "{seen:?}");
    } else {
        assert_eq!(seen.result, Outcome::Unsupported, "{seen:?}");
        assert_eq!(seen.error, None);
    }
}

#[tokio::test]
async fn a_batch_takes_one_timeout_and_prints_in_input_order() {
    let silent = UdpSocket::bind((LOOPBACK, 0)).unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let listener = TcpListener::bind((LOOPBACK, 0)).unwrap();
    let open_port = listener.local_addr().unwrap().port();
    let mut targets: Vec<_> = (0..20)
        .map(|_| target(Protocol::Udp, silent_port))
        .collect();
    // The fast one last: it must still be printed last.
    targets.push(target(Protocol::Tcp, open_port));

    let mut output = Vec::new();
    let start = Instant::now();
    probe_all(targets, SHORT, 0, &mut output).await.unwrap();
    let took = start.elapsed();

    assert!(took < SHORT * 3 / 2, "21 probes took {took:?}");
    let lines: Vec<Observation> = String::from_utf8(output)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 21);
    assert!(lines[..20].iter().all(|l| l.result == Outcome::Timeout));
    assert_eq!(lines[20].result, Outcome::Connected);
    assert_eq!(lines[20].protocol, Protocol::Tcp);
}

#[tokio::test]
async fn every_udp_probe_of_a_batch_leaves_from_the_given_source_port_and_gets_its_own_answer() {
    // Two echo servers, each answering from its own port, and one closed port.
    let servers: Vec<UdpSocket> = (0..2)
        .map(|_| UdpSocket::bind((LOOPBACK, 0)).unwrap())
        .collect();
    let ports: Vec<u16> = servers
        .iter()
        .map(|s| s.local_addr().unwrap().port())
        .collect();
    let echoes: Vec<_> = servers
        .into_iter()
        .map(|server| {
            std::thread::spawn(move || {
                let mut buffer = [0; 64];
                let (length, peer) = server.recv_from(&mut buffer).unwrap();
                server.send_to(&buffer[..length], peer).unwrap();
                peer.port()
            })
        })
        .collect();
    let closed = {
        let socket = UdpSocket::bind((LOOPBACK, 0)).unwrap();
        socket.local_addr().unwrap().port()
    };
    let source_port = {
        let socket = UdpSocket::bind((LOOPBACK, 0)).unwrap();
        socket.local_addr().unwrap().port()
    };
    let targets = vec![
        target(Protocol::Udp, ports[0]),
        target(Protocol::Udp, closed),
        target(Protocol::Udp, ports[1]),
    ];

    let mut output = Vec::new();
    probe_all(targets, SHORT, source_port, &mut output)
        .await
        .unwrap();

    let results: Vec<Outcome> = String::from_utf8(output)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Observation>(line).unwrap().result)
        .collect();
    assert_eq!(
        results,
        [Outcome::Connected, Outcome::Refused, Outcome::Connected]
    );
    for echo in echoes {
        assert_eq!(echo.join().unwrap(), source_port);
    }
}
