//! What a backend observed: one raw result per cell, per probed port.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{PodId, Probe};
use crate::truth::{Reach, render_grid};

/// A cell whose probe failed, in observed tables and comparison grids.
pub const ERROR_SYMBOL: char = '!';
/// A cell nobody judged: the diagonal, or a protocol the backend cannot carry.
pub const NOT_JUDGED_SYMBOL: char = '?';

/// The raw result of one probe. Every consumer reads it as one of three
/// values (see [`Observed::reach`]): reached (`Connected`), blocked
/// (`Refused`, `Timeout`), or unknown: a probe that failed (`Error`) observed
/// nothing, and is never read as a block; `Unsupported` was never probed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Observed {
    Connected,
    Refused,
    Timeout,
    /// The probe itself failed (the OS error, or why no answer came).
    Error(String),
    /// The backend cannot carry this protocol: never judged.
    Unsupported,
}

impl Observed {
    /// What the cell says about reachability: `None` when nothing was
    /// observed (the probe failed, or the protocol was never probed).
    pub fn reach(&self) -> Option<Reach> {
        match self {
            Observed::Connected => Some(Reach::Allowed),
            Observed::Refused | Observed::Timeout => Some(Reach::Denied),
            Observed::Error(_) | Observed::Unsupported => None,
        }
    }

    /// Why the probe failed, for an `Error`.
    pub fn failure(&self) -> Option<&str> {
        match self {
            Observed::Error(reason) => Some(reason),
            _ => None,
        }
    }

    /// The cell in an observed table: `.` reached, `X` blocked, `!` the probe
    /// failed, `?` not probed. Only `.` and `X` are case-file syntax, so a
    /// table with a failed probe cannot be pasted into a case as a block.
    pub fn symbol(&self) -> char {
        match (self.reach(), self) {
            (Some(reach), _) => reach.symbol(),
            (None, Observed::Error(_)) => ERROR_SYMBOL,
            (None, _) => NOT_JUDGED_SYMBOL,
        }
    }

    pub fn word(&self) -> &str {
        match self {
            Observed::Connected => "connected",
            Observed::Refused => "refused",
            Observed::Timeout => "timeout",
            Observed::Error(_) => "error",
            Observed::Unsupported => "unsupported",
        }
    }

    /// The word with the error's text, for raw result grids.
    pub fn detail(&self) -> String {
        match self {
            Observed::Error(reason) => format!("error: {reason}"),
            other => other.word().to_owned(),
        }
    }
}

/// One probed port's observations: rows are sources, columns destinations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedTable {
    pods: Vec<PodId>,
    cells: Vec<Observed>,
}

impl ObservedTable {
    pub fn filled(pods: Vec<PodId>, value: Observed) -> ObservedTable {
        let cells = vec![value; pods.len() * pods.len()];
        ObservedTable { pods, cells }
    }

    pub fn pods(&self) -> &[PodId] {
        &self.pods
    }

    pub fn get(&self, from: usize, to: usize) -> &Observed {
        &self.cells[from * self.pods.len() + to]
    }

    pub fn set(&mut self, from: usize, to: usize, value: Observed) {
        let width = self.pods.len();
        self.cells[from * width + to] = value;
    }

    /// The table in case-file syntax (`.` connected, `X` refused or timed
    /// out), with `!` where the probe failed and `?` where nothing was probed.
    pub fn render_lines(&self) -> Vec<String> {
        render_grid(&self.pods, |from, to| {
            self.get(from, to).symbol().to_string()
        })
    }

    /// Raw results, row by row, as words.
    pub fn raw_rows(&self) -> Vec<Vec<String>> {
        (0..self.pods.len())
            .map(|from| {
                (0..self.pods.len())
                    .map(|to| self.get(from, to).detail())
                    .collect()
            })
            .collect()
    }

    pub fn is_unsupported(&self) -> bool {
        self.cells.iter().all(|c| *c == Observed::Unsupported)
    }
}

/// Everything one probing round saw.
pub type Matrix = BTreeMap<Probe, ObservedTable>;

/// One result line of the probe agent (`netpol-probe probe`), as every
/// backend that runs the agent reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentLine {
    /// The target's name as the backend gave it (`x/b`, or with a suffix).
    pub to: String,
    /// `None` for a protocol or port the harness does not know.
    pub probe: Option<Probe>,
    pub observed: Observed,
}

#[derive(Deserialize)]
struct RawLine {
    to: String,
    protocol: String,
    port: u16,
    result: String,
    #[serde(default)]
    error: Option<String>,
}

/// Reads one line of agent output; `None` for anything that is not a result.
pub fn parse_agent_line(line: &str) -> Option<AgentLine> {
    let raw: RawLine = serde_json::from_str(line).ok()?;
    let observed = match raw.result.as_str() {
        "connected" => Observed::Connected,
        "refused" => Observed::Refused,
        "timeout" => Observed::Timeout,
        "unsupported" => Observed::Unsupported,
        _ => Observed::Error(raw.error.unwrap_or(raw.result)),
    };
    let probe = format!("{}/{}", raw.protocol, raw.port).parse().ok();
    Some(AgentLine {
        to: raw.to,
        probe,
        observed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Protocol;

    #[test]
    fn agent_lines_become_observations_and_anything_else_is_skipped() {
        let line = parse_agent_line(
            r#"{"to":"x/b","protocol":"udp","port":81,"result":"timeout","micros":5}"#,
        )
        .unwrap();
        assert_eq!(line.to, "x/b");
        assert_eq!(line.probe, Some(Probe::new(Protocol::Udp, 81)));
        assert_eq!(line.observed, Observed::Timeout);
        let failed = parse_agent_line(
            r#"{"to":"x/b","protocol":"tcp","port":80,"result":"error","error":"oops"}"#,
        )
        .unwrap();
        assert_eq!(failed.observed, Observed::Error("oops".into()));
        assert_eq!(parse_agent_line("netpol-probe: warming up"), None);
    }
}
