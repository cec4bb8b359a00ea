//! A tiny routed world for the netns tests: one node namespace, pods as
//! namespaces with a veth to it (pod `eth0` /32, default route via
//! 169.254.1.1, as the netns backend lays them out). The pods' servers and
//! probes are the test binary itself, re-run with `--netpol-helper`.

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use libtest_mimic::Failed;

use crate::support::{Netns, run};

pub const HELPER: &str = "--netpol-helper";
/// A denied connection is a dropped SYN: this long without an answer is "denied".
pub const DENIED_AFTER: Duration = Duration::from_millis(300);
/// How long the enforcer may take to pick up a snapshot.
pub const CONVERGE: Duration = Duration::from_secs(5);
pub const PORTS: [u16; 2] = [8080, 8081];

/// `serve` (listen on PORTS until killed) and `connect IP PORT` (exit 0 when
/// a TCP connection is made within DENIED_AFTER).
pub fn helper(args: &[String]) -> ExitCode {
    match args {
        [mode] if mode == "serve" => {
            for port in PORTS {
                let listener = TcpListener::bind(("0.0.0.0", port)).expect("bind");
                thread::spawn(move || for _ in listener.incoming() {});
            }
            println!("ready");
            loop {
                thread::park();
            }
        }
        [mode, ip, port] if mode == "connect" => {
            let address = SocketAddr::new(ip.parse().expect("ip"), port.parse().expect("port"));
            ExitCode::from(u8::from(
                TcpStream::connect_timeout(&address, DENIED_AFTER).is_err(),
            ))
        }
        _ => ExitCode::from(2),
    }
}

/// A process killed (SIGKILL) and reaped on drop.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn spawn_in(netns: &Netns, argv: &[&str], log: Option<&Path>) -> Result<Running, Failed> {
    let output = |path: Option<&Path>| match path {
        Some(path) => fs::File::create(path)
            .map(Stdio::from)
            .map_err(|e| Failed::from(e.to_string())),
        None => Ok(Stdio::null()),
    };
    let child = Command::new("ip")
        .args(["netns", "exec", &netns.name])
        .args(argv)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(output(log)?)
        .spawn()
        .map_err(|e| format!("cannot start {argv:?} in {}: {e}", netns.name))?;
    Ok(Running(child))
}

pub fn fail(error: impl std::fmt::Display) -> Failed {
    Failed::from(error.to_string())
}

/// One node, three pods on it, routed as the netns backend does it.
pub struct World {
    // Field order is drop order: processes before the namespaces they run in.
    servers: Vec<Running>,
    pods: Vec<(String, Netns)>,
    pub node: Netns,
}

pub const POD_IPS: [(&str, &str); 3] = [("a", "10.99.0.1"), ("b", "10.99.0.2"), ("c", "10.99.0.3")];

impl World {
    pub fn build() -> Result<World, Failed> {
        let node = Netns::create("e2e-node").map_err(fail)?;
        let mut world = World {
            servers: Vec::new(),
            pods: Vec::new(),
            node,
        };
        world
            .node
            .exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"])
            .map_err(fail)?;
        for (name, ip) in POD_IPS {
            let pod = Netns::create(&format!("e2e-{name}")).map_err(fail)?;
            let (n, p) = (world.node.name.clone(), pod.name.clone());
            let host_side = format!("h-{name}");
            let ip32 = format!("{ip}/32");
            world.pods.push((name.to_string(), pod));
            for argv in [
                vec![
                    "ip", "-n", &n, "link", "add", &host_side, "type", "veth", "peer", "name",
                    "eth0", "netns", &p,
                ],
                vec![
                    "ip",
                    "-n",
                    &n,
                    "addr",
                    "add",
                    "169.254.1.1/32",
                    "dev",
                    &host_side,
                ],
                vec!["ip", "-n", &n, "link", "set", &host_side, "up"],
                vec!["ip", "-n", &n, "route", "add", &ip32, "dev", &host_side],
                vec!["ip", "-n", &p, "link", "set", "lo", "up"],
                vec!["ip", "-n", &p, "addr", "add", &ip32, "dev", "eth0"],
                vec!["ip", "-n", &p, "link", "set", "eth0", "up"],
                vec!["ip", "-n", &p, "route", "add", "169.254.1.1", "dev", "eth0"],
                vec![
                    "ip",
                    "-n",
                    &p,
                    "route",
                    "add",
                    "default",
                    "via",
                    "169.254.1.1",
                    "dev",
                    "eth0",
                ],
            ] {
                run(&argv).map_err(fail)?;
            }
        }
        let exe = std::env::current_exe().map_err(fail)?;
        let exe = exe.to_string_lossy().into_owned();
        for (_, pod) in &world.pods {
            let server = spawn_in(pod, &[&exe, HELPER, "serve"], None)?;
            world.servers.push(server);
        }
        Ok(world)
    }

    pub fn pod(&self, name: &str) -> &Netns {
        &self
            .pods
            .iter()
            .find(|(n, _)| n == name)
            .expect("a pod of POD_IPS")
            .1
    }

    pub fn connects(&self, from: &str, to: &str, port: u16) -> bool {
        let ip = POD_IPS
            .iter()
            .find(|(n, _)| *n == to)
            .expect("a pod of POD_IPS")
            .1;
        let exe = std::env::current_exe().expect("the test binary");
        let exe = exe.to_string_lossy();
        self.pod(from)
            .exec(&[&exe, HELPER, "connect", ip, &port.to_string()])
            .is_ok()
    }

    /// Every (from, to, port) cell whose reachability differs from `expected`.
    pub fn mismatches(&self, expected: &[(&str, &str, u16, bool)]) -> Vec<String> {
        expected
            .iter()
            .filter(|&&(from, to, port, allowed)| self.connects(from, to, port) != allowed)
            .map(|(from, to, port, allowed)| {
                format!(
                    "{from}->{to}:{port} expected {}",
                    if *allowed { "allowed" } else { "denied" }
                )
            })
            .collect()
    }

    /// Probes until the matrix matches (servers may still be starting) or CONVERGE passes.
    pub fn expect(&self, what: &str, expected: &[(&str, &str, u16, bool)]) -> Result<(), Failed> {
        let deadline = Instant::now() + CONVERGE;
        loop {
            let wrong = self.mismatches(expected);
            if wrong.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("{what}: {}", wrong.join(", ")).into());
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}
