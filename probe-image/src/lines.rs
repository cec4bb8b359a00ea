//! The agent's stdin and stdout: a JSON array of targets in, one JSON line per
//! result (or the one ready line) out. Generic over the streams so tests can
//! replay exact byte sequences.

use std::io;

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::Error;
use crate::wire::Target;

/// Reads the whole input, then decodes and checks the targets.
pub(crate) async fn read_targets<R: AsyncRead + Unpin>(mut input: R) -> Result<Vec<Target>, Error> {
    let mut text = Vec::new();
    input
        .read_to_end(&mut text)
        .await
        .map_err(Error::ReadTargets)?;
    let targets: Vec<Target> = serde_json::from_slice(&text).map_err(Error::TargetsJson)?;
    check_targets(&targets)?;
    Ok(targets)
}

/// What JSON decoding cannot say: port 0 decodes as a `u16` but is never a target.
pub(crate) fn check_targets(targets: &[Target]) -> Result<(), Error> {
    match targets.iter().enumerate().find(|(_, t)| t.port == 0) {
        Some((index, target)) => Err(Error::PortZero {
            index,
            to: target.to.clone(),
        }),
        None => Ok(()),
    }
}

/// Writes `value` as one JSON line and flushes it, so a reader waiting for the
/// line (the harness waits for `ready`) sees it at once.
pub(crate) async fn write_line<W, T>(output: &mut W, value: &T) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
    T: Serialize,
{
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    output.write_all(&line).await?;
    output.flush().await
}

#[cfg(test)]
mod tests {
    use tokio_test::io::Builder;

    use super::*;
    use crate::wire::{Observation, Outcome, Protocol};

    #[tokio::test]
    async fn targets_are_read_from_a_json_array_arriving_in_pieces() {
        let input = Builder::new()
            .read(br#"[{"to":"x/b","host":"10.244.1.3","protocol":"tcp","port":80},"#)
            .read(br#" {"to":"y/a","host":"fd00::2","protocol":"udp","port":81}]"#)
            .build();
        let targets = read_targets(input).await.unwrap();
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].address(), "10.244.1.3:80".parse().unwrap());
        assert_eq!(targets[1].to, "y/a");
        assert_eq!(targets[1].protocol, Protocol::Udp);
    }

    #[tokio::test]
    async fn malformed_json_is_bad_input_naming_where() {
        let input = Builder::new().read(b"[{\"to\":").build();
        let error = read_targets(input).await.unwrap_err();
        assert!(matches!(error, Error::TargetsJson(_)), "{error:?}");
        assert_eq!(error.exit_code(), crate::exit::BAD_INPUT);
        assert!(
            error.chain().contains("line 1 column 7"),
            "{}",
            error.chain()
        );
    }

    #[tokio::test]
    async fn an_unknown_protocol_or_field_is_bad_input_naming_it() {
        let icmp = Builder::new()
            .read(br#"[{"to":"x/b","host":"10.0.0.1","protocol":"icmp","port":80}]"#)
            .build();
        let error = read_targets(icmp).await.unwrap_err().chain();
        assert!(error.contains("unknown variant `icmp`"), "{error}");

        let typo = Builder::new()
            .read(br#"[{"to":"x/b","host":"10.0.0.1","protocol":"tcp","prot":80}]"#)
            .build();
        let error = read_targets(typo).await.unwrap_err().chain();
        assert!(error.contains("unknown field `prot`"), "{error}");
    }

    #[tokio::test]
    async fn port_zero_is_bad_input_naming_the_target() {
        let input = Builder::new()
            .read(br#"[{"to":"x/a","host":"10.0.0.1","protocol":"tcp","port":80},"#)
            .read(br#"{"to":"x/b","host":"10.0.0.2","protocol":"tcp","port":0}]"#)
            .build();
        let error = read_targets(input).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "targets[1] (`x/b`): port 0 is out of range (1-65535)"
        );
        assert_eq!(error.exit_code(), crate::exit::BAD_INPUT);
    }

    #[tokio::test]
    async fn a_read_failure_is_not_mistaken_for_bad_json() {
        let input = Builder::new()
            .read(b"[")
            .read_error(io::Error::other("pipe gone"))
            .build();
        let error = read_targets(input).await.unwrap_err();
        assert!(matches!(error, Error::ReadTargets(_)), "{error:?}");
        assert_eq!(
            error.chain(),
            "cannot read the targets from stdin: pipe gone"
        );
    }

    #[tokio::test]
    async fn each_value_is_written_as_exactly_one_line() {
        let first = Observation {
            to: "x/b".into(),
            protocol: Protocol::Tcp,
            port: 80,
            result: Outcome::Connected,
            micros: 1834,
            error: None,
        };
        let second = Observation {
            to: "x/c".into(),
            protocol: Protocol::Udp,
            port: 81,
            result: Outcome::Timeout,
            micros: 1_000_412,
            error: None,
        };
        let mut output = Builder::new()
            .write(b"{\"to\":\"x/b\",\"protocol\":\"tcp\",\"port\":80,\"result\":\"connected\",\"micros\":1834}\n")
            .write(b"{\"to\":\"x/c\",\"protocol\":\"udp\",\"port\":81,\"result\":\"timeout\",\"micros\":1000412}\n")
            .build();
        write_line(&mut output, &first).await.unwrap();
        write_line(&mut output, &second).await.unwrap();
    }

    #[tokio::test]
    async fn a_closed_stdout_is_reported_not_ignored() {
        let mut output = Builder::new()
            .write_error(io::Error::from(io::ErrorKind::BrokenPipe))
            .build();
        let error = write_line(&mut output, &[1, 2]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
    }
}
