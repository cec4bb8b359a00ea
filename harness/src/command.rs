//! External commands: one helper that applies a timeout, keeps the output and
//! fails with a command line a person can paste into a shell.

use std::ffi::OsStr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::timeouts::Timeouts;

/// A command that failed, with everything needed to run it again by hand.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("`{command}` could not start")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` did not finish within {timeout:?}")]
    Timeout { command: String, timeout: Duration },
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
}

/// What a finished command printed.
#[derive(Debug)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

/// Quotes an argument for a POSIX shell when it needs it.
fn quote(arg: &OsStr) -> String {
    let text = arg.to_string_lossy();
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c));
    if plain {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The command line as a shell would take it.
pub fn shell_line(program: &str, args: &[&str]) -> String {
    std::iter::once(program)
        .chain(args.iter().copied())
        .map(|a| quote(OsStr::new(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A running command in its own process group. Dropped before it finished
/// (a timeout, or the run stopped by a signal dropping the future that
/// waits for it), it SIGKILLs the whole group — the command and anything it
/// started — and reaps the command before the drop returns, so an
/// interrupted run leaves no process behind, not even for a moment.
struct Group {
    child: tokio::process::Child,
    finished: bool,
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // `id` is `None` once tokio has reaped the child: then nothing is left to kill.
        let Some(pid) = self.child.id() else { return };
        if let Some(group) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
            let _ = rustix::process::kill_process_group(group, Signal::KILL);
        }
        let deadline = Instant::now() + Timeouts::REAP;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(None) => std::thread::sleep(Timeouts::REAP_POLL),
                Ok(Some(_)) | Err(_) => return,
            }
        }
    }
}

async fn read_all(pipe: Option<impl tokio::io::AsyncRead + Unpin>) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = pipe {
        // A pipe that fails mid-way keeps what was read; the status tells why.
        let _ = pipe.read_to_end(&mut bytes).await;
    }
    bytes
}

/// Runs `program args…` with optional stdin, waiting at most `timeout`.
/// The command runs in its own process group, killed whole (and reaped) if
/// it outlives the timeout or the caller stops waiting.
pub async fn run(
    program: &str,
    args: &[&str],
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, CommandError> {
    let command = shell_line(program, args);
    let child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|source| CommandError::Spawn {
            command: command.clone(),
            source,
        })?;
    let mut group = Group {
        child,
        finished: false,
    };
    let input = group.child.stdin.take();
    let stdout = group.child.stdout.take();
    let stderr = group.child.stderr.take();
    let write = async move {
        if let (Some(bytes), Some(mut pipe)) = (stdin, input) {
            // A child that exits early closes its stdin; its status tells why.
            let _ = pipe.write_all(bytes).await;
        }
    };
    let finished = async {
        let (_, stdout, stderr, status) = tokio::join!(
            write,
            read_all(stdout),
            read_all(stderr),
            group.child.wait()
        );
        status.map(|status| (status, stdout, stderr))
    };
    let (status, stdout, stderr) = match tokio::time::timeout(timeout, finished).await {
        Ok(result) => result.map_err(|source| CommandError::Spawn {
            command: command.clone(),
            source,
        })?,
        Err(_) => return Err(CommandError::Timeout { command, timeout }),
    };
    group.finished = true;
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    let stderr = String::from_utf8_lossy(&stderr).trim().to_owned();
    if !status.success() {
        return Err(CommandError::Failed {
            command,
            status: status.to_string(),
            stderr,
        });
    }
    Ok(Output { stdout, stderr })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_can_be_pasted_into_a_shell() {
        assert_eq!(
            shell_line("ip", &["-n", "netpol-1-x-a", "addr"]),
            "ip -n netpol-1-x-a addr"
        );
        assert_eq!(
            shell_line("sh", &["-c", "echo 'hi' > f"]),
            r"sh -c 'echo '\''hi'\'' > f'"
        );
        assert_eq!(shell_line("x", &[""]), "x ''");
    }

    #[tokio::test]
    async fn a_failing_command_reports_its_status_and_stderr() {
        let error = run(
            "sh",
            &["-c", "echo oops >&2; exit 3"],
            None,
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "`sh -c 'echo oops >&2; exit 3'` failed (exit status: 3): oops"
        );
    }

    #[tokio::test]
    async fn a_command_that_hangs_is_stopped_at_its_timeout() {
        let error = run("sleep", &["5"], None, Duration::from_millis(100))
            .await
            .unwrap_err();
        assert!(matches!(error, CommandError::Timeout { .. }), "{error}");
    }

    /// Whether process `pid` exists, dead but unreaped (a zombie) included.
    fn exists(pid: &str) -> bool {
        std::path::Path::new("/proc").join(pid).exists()
    }

    fn is_zombie_or_gone(pid: &str) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.is_empty() || stat.rsplit(") ").next().is_some_and(|s| s.starts_with('Z'))
    }

    #[tokio::test]
    async fn a_command_given_up_on_is_killed_with_its_children_and_reaped_before_the_drop_returns()
    {
        // A shell (the command) that starts a child of its own, then waits.
        let dir = std::env::temp_dir().join(format!("netpol-reap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pids = dir.join("pids");
        let script = format!("sleep 30 & echo $$ $! > {}; wait", pids.display());
        let args = ["-c", script.as_str()];
        let started = run("sh", &args, None, Duration::from_secs(30));
        // Give up on it as an interrupted run does: by dropping the future.
        let waited = tokio::time::timeout(Duration::from_secs(2), async {
            tokio::pin!(started);
            loop {
                tokio::select! {
                    _ = &mut started => panic!("the command ended by itself"),
                    () = tokio::time::sleep(Duration::from_millis(10)) => {
                        if std::fs::read_to_string(&pids).is_ok_and(|t| t.ends_with('\n')) {
                            return;
                        }
                    }
                }
            }
        })
        .await;
        assert!(waited.is_ok(), "the command never started its child");
        let text = std::fs::read_to_string(&pids).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let [shell, child] = text.split_whitespace().collect::<Vec<_>>()[..] else {
            panic!("two pids: {text}");
        };
        // The command itself is gone, reaped: not even a zombie is left.
        assert!(!exists(shell), "the command {shell} is still there");
        // Its child was killed with its group (init reaps it, a moment later).
        let deadline = Instant::now() + Duration::from_secs(2);
        while !is_zombie_or_gone(child) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            is_zombie_or_gone(child),
            "the command's child {child} still runs"
        );
    }

    #[tokio::test]
    async fn stdin_reaches_the_command() {
        let output = run("cat", &[], Some(b"hello"), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(output.stdout, "hello");
    }
}
