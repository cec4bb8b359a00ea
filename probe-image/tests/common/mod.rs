//! Running the built `netpol-probe` binary on loopback.

#![allow(dead_code)] // Each test file uses its own part of this.

use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::process::{Child, ChildStdout, Command, Output, Stdio};

use netpol_probe::Ready;

pub const BINARY: &str = env!("CARGO_BIN_EXE_netpol-probe");
/// The only addresses these tests ever use: loopback, in each family.
pub const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;
pub const LOOPBACK_V6: std::net::Ipv6Addr = std::net::Ipv6Addr::LOCALHOST;

/// `netpol-probe ARGS`, run to completion with `stdin` as its input.
pub fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BINARY)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the built binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A `serve` process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub ready: Ready,
    stdout: BufReader<ChildStdout>,
}

impl Server {
    /// Starts `netpol-probe serve ARGS --bind 127.0.0.1` and waits for its ready line.
    pub fn start(args: &[&str]) -> Server {
        Server::start_on("127.0.0.1", args)
    }

    /// Starts `netpol-probe serve ARGS --bind BIND` and waits for its ready line.
    pub fn start_on(bind: &str, args: &[&str]) -> Server {
        let mut child = Command::new(BINARY)
            .arg("serve")
            .args(args)
            .args(["--bind", bind])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the built binary runs");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let ready = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the ready line `{line}` does not parse: {e}"));
        Server {
            child,
            ready,
            stdout,
        }
    }

    /// Whatever the server printed after its ready line (read after it exits).
    pub fn rest_of_stdout(&mut self) -> String {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut rest).unwrap();
        rest
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
