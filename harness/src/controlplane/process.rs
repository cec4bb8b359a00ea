//! etcd and kube-apiserver as children of the harness, each started inside the
//! control-plane namespace by `ip netns exec` (which execs, so the child is
//! the program itself), with `setpriv --pdeathsig KILL` when available so a
//! SIGKILLed harness takes them along.
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked the child ends:
//! start the control plane from a thread that lives as long as the run (the
//! runtime's thread; not a `spawn_blocking` worker, which ends when idle).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

/// The tools the control plane runs, found on `PATH`.
#[derive(Clone, Debug)]
pub struct Tools {
    pub ip: PathBuf,
    pub setpriv: Option<PathBuf>,
}

impl Tools {
    pub fn find() -> Result<Tools, String> {
        let ip = which::which("ip").map_err(|_| {
            "`ip` not found: install iproute2 (`apt-get install iproute2`)".to_owned()
        })?;
        Ok(Tools {
            ip,
            setpriv: which::which("setpriv").ok(),
        })
    }
}

/// A running engine of the control plane.
#[derive(Debug)]
pub struct Engine {
    pub name: &'static str,
    pub log: PathBuf,
    child: Child,
}

impl Engine {
    /// Starts `program args…` in `netns`, stdout and stderr to `log`.
    pub fn spawn(
        tools: &Tools,
        netns: &str,
        name: &'static str,
        program: &Path,
        args: &[String],
        log: &Path,
    ) -> std::io::Result<Engine> {
        let mut command = Command::new(&tools.ip);
        command.args(["netns", "exec", netns]);
        if let Some(setpriv) = &tools.setpriv {
            command.arg(setpriv).args(["--pdeathsig", "KILL", "--"]);
        }
        command.arg(program).args(args);
        let out = std::fs::File::create(log)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        Ok(Engine {
            name,
            log: log.to_owned(),
            child,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Kills and reaps it; a throwaway store needs no graceful stop.
    pub fn stop(&mut self) -> Result<(), String> {
        if self.exited().is_some() {
            return Ok(());
        }
        let _ = self.child.kill();
        self.child
            .wait()
            .map(drop)
            .map_err(|e| format!("cannot reap {} (pid {}): {e}", self.name, self.pid()))
    }

    /// The last lines it logged, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }
}

/// The last `lines` lines of a log file, `|`-joined on one line.
pub fn tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if all.is_empty() {
        return "no output".to_owned();
    }
    all[all.len().saturating_sub(lines)..].join(" | ")
}
