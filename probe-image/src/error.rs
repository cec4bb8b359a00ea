//! Why the agent stopped, and which exit code says so.

use std::error::Error as _;
use std::io;
use std::net::IpAddr;

use crate::exit;
use crate::wire::Endpoint;

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("cannot start the async runtime")]
    Runtime(#[source] io::Error),
    #[error("cannot read the targets from stdin")]
    ReadTargets(#[source] io::Error),
    #[error("the targets on stdin are not a JSON array of targets")]
    TargetsJson(#[source] serde_json::Error),
    #[error("targets[{index}] (`{to}`): port 0 is out of range (1-65535)")]
    PortZero { index: usize, to: String },
    #[error("cannot bind {endpoint} on {address}")]
    Bind {
        endpoint: Endpoint,
        address: IpAddr,
        #[source]
        source: io::Error,
    },
    #[error("cannot watch for SIGTERM and SIGINT")]
    Signals(#[source] io::Error),
    #[error("cannot write to stdout")]
    Write(#[source] io::Error),
}

impl Error {
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Error::TargetsJson(_) | Error::PortZero { .. } | Error::Bind { .. } => exit::BAD_INPUT,
            Error::Runtime(_) | Error::ReadTargets(_) | Error::Signals(_) | Error::Write(_) => {
                exit::FAILURE
            }
        }
    }

    /// The message and every cause, `: `-separated, for one line on stderr.
    pub(crate) fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut cause = self.source();
        while let Some(next) = cause {
            text.push_str(": ");
            text.push_str(&next.to_string());
            cause = next.source();
        }
        text
    }
}
