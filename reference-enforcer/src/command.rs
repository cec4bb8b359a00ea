//! External commands through one helper: a timeout, the output kept, and a
//! failure that names a command line a person can paste into a shell.
//! Plain threads, not async: the enforcer is single-threaded by design and
//! only needs the pipes drained while it waits.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A command that failed, with what is needed to run it again by hand.
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

impl CommandError {
    /// What the command wrote to stderr, when it ran and failed.
    pub fn stderr(&self) -> Option<&str> {
        match self {
            CommandError::Failed { stderr, .. } => Some(stderr),
            _ => None,
        }
    }
}

/// Quotes an argument for a POSIX shell when it needs it.
fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The command line as a shell would take it.
pub fn shell_line(argv: &[&str]) -> String {
    argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

/// Runs `argv` with optional stdin, waiting at most `timeout`; returns stdout.
pub fn run(argv: &[&str], stdin: Option<&[u8]>, timeout: Duration) -> Result<String, CommandError> {
    let command = shell_line(argv);
    let (program, args) = argv.split_first().expect("a command has a program");
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| CommandError::Spawn {
            command: command.clone(),
            source,
        })?;

    // Feed and drain on threads so a full pipe can never stall the wait below.
    let writer = child
        .stdin
        .take()
        .zip(stdin.map(<[u8]>::to_vec))
        .map(|(mut pipe, bytes)| {
            thread::spawn(move || {
                // A child that exits early closes the pipe; its status says why.
                let _ = pipe.write_all(&bytes);
            })
        });
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );

    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(100);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(CommandError::Timeout { command, timeout });
            }
            Ok(None) => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(5));
            }
            Err(source) => return Err(CommandError::Spawn { command, source }),
        }
    };
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if status.success() {
        Ok(stdout)
    } else {
        Err(CommandError::Failed {
            command,
            status: status.to_string(),
            stderr: stderr.trim_end().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_line_is_quoted_for_pasting() {
        assert_eq!(shell_line(&["nft", "-f", "-"]), "nft -f -");
        assert_eq!(
            shell_line(&["echo", "a b", "it's"]),
            r"echo 'a b' 'it'\''s'"
        );
    }

    #[test]
    fn stdin_reaches_the_command_and_stdout_comes_back() {
        let out = run(&["cat"], Some(b"hello"), Duration::from_secs(5)).unwrap();
        assert_eq!(out, "hello");
    }

    #[test]
    fn a_failure_carries_stderr_and_the_command() {
        let error = run(
            &["sh", "-c", "echo nope >&2; exit 3"],
            None,
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert_eq!(error.stderr(), Some("nope"));
        assert!(
            error
                .to_string()
                .starts_with("`sh -c 'echo nope >&2; exit 3'` failed"),
            "{error}"
        );
    }

    #[test]
    fn a_command_that_hangs_is_killed_at_the_timeout() {
        let error = run(&["sleep", "5"], None, Duration::from_millis(50)).unwrap_err();
        assert!(matches!(error, CommandError::Timeout { .. }), "{error}");
    }

    #[test]
    fn a_missing_program_is_a_spawn_error() {
        let error = run(&["/nonexistent/netpol-test"], None, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(error, CommandError::Spawn { .. }), "{error}");
    }
}
