//! External commands: one helper that applies a timeout, keeps the output and
//! fails with a command line a person can paste into a shell.

use std::ffi::OsStr;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

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

/// Runs `program args…` with optional stdin, waiting at most `timeout`.
pub async fn run(
    program: &str,
    args: &[&str],
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, CommandError> {
    let command = shell_line(program, args);
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| CommandError::Spawn {
            command: command.clone(),
            source,
        })?;
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A child that exits early closes its stdin; its status tells why.
        let _ = pipe.write_all(bytes).await;
    }
    let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(result) => result.map_err(|source| CommandError::Spawn {
            command: command.clone(),
            source,
        })?,
        Err(_) => return Err(CommandError::Timeout { command, timeout }),
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    if !output.status.success() {
        return Err(CommandError::Failed {
            command,
            status: output.status.to_string(),
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

    #[tokio::test]
    async fn stdin_reaches_the_command() {
        let output = run("cat", &[], Some(b"hello"), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(output.stdout, "hello");
    }
}
