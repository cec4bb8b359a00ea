//! The long-lived children of a netns world: a probe agent in every pod, an
//! enforcer on every node. Each runs through `ip netns exec`, so no thread of
//! the harness ever enters a namespace.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::preflight::Tools;

/// A child with a name for messages.
pub struct Process {
    pub name: String,
    pub child: Child,
}

impl Process {
    /// Starts `program args…` inside `netns`, stdout piped, stderr to `log`.
    pub fn spawn(
        tools: &Tools,
        netns: &str,
        program: &Path,
        args: &[String],
        log: &Path,
        name: &str,
    ) -> Result<Process, String> {
        let mut command = Command::new(&tools.ip);
        command.args(["netns", "exec", netns]);
        if let Some(setpriv) = &tools.setpriv {
            // The child dies with the harness, even when the harness is SIGKILLed.
            command.arg(setpriv).args(["--pdeathsig", "KILL", "--"]);
        }
        command.arg(program).args(args);
        let log_file = std::fs::File::create(log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Process {
            name: name.to_owned(),
            child,
        })
    }

    /// Waits for the first line the child prints (its "ready" line).
    pub fn first_line(&mut self, timeout: Duration, log: &Path) -> Result<String, String> {
        let stdout = self
            .child
            .stdout
            .take()
            .ok_or_else(|| format!("{}: no stdout", self.name))?;
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let mut reader = BufReader::new(stdout);
            let read = reader.read_line(&mut line).map(|_| line);
            let _ = sender.send(read);
            // Keep draining so the child never blocks on a full pipe.
            let mut sink = String::new();
            while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        match receiver.recv_timeout(timeout) {
            Ok(Ok(line)) if !line.is_empty() => Ok(line),
            Ok(_) => Err(format!(
                "{} exited before it was ready: {}",
                self.name,
                tail(log)
            )),
            Err(_) => Err(format!(
                "{} was not ready within {timeout:?}: {}",
                self.name,
                tail(log)
            )),
        }
    }

    /// `Some(reason)` when the child has exited, or is exiting. A killed
    /// multi-threaded child shows as a zombie (and closes its sockets, so
    /// that connections to it are refused) before it can be reaped: `wait`
    /// alone would call it alive a moment too long.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{} exited ({status})", self.name)),
            Ok(None) if dying(self.child.id()) => Some(format!("{} is exiting", self.name)),
            Ok(None) => None,
            Err(e) => Some(format!("{}: {e}", self.name)),
        }
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether process `pid` is gone or exiting (a zombie, or dead), by its
/// state in `/proc/<pid>/stat`.
fn dying(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // The state follows the command name, which is in parentheses and may hold anything.
    let state = stat
        .rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next());
    matches!(state, Some('Z' | 'X' | 'x'))
}

/// The last line a child logged, for error messages.
pub(super) fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines().last().unwrap_or("no output").to_owned()
}

/// `netpol` is also the probe agent and the enforcer, chosen by the name it is
/// run under; a run links those names to the running binary.
pub fn link_binaries(exe: &Path, bin_dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    std::fs::create_dir_all(bin_dir)
        .map_err(|e| format!("cannot create {}: {e}", bin_dir.display()))?;
    let link = |name: &str| -> Result<PathBuf, String> {
        let path = bin_dir.join(name);
        let _ = std::fs::remove_file(&path);
        std::os::unix::fs::symlink(exe, &path)
            .map_err(|e| format!("cannot link {}: {e}", path.display()))?;
        Ok(path)
    };
    Ok((
        link(crate::multicall::PROBE)?,
        link(crate::multicall::ENFORCER)?,
    ))
}
