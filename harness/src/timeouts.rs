//! Every wait of the harness, named, in one place.

use std::time::Duration;

/// How long the runner waits, and how often it looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// After a step's changes, how long the observed matrix may take to equal
    /// the expectation before the step fails.
    pub enforce: Duration,
    /// The pause between two probing rounds while waiting for enforcement.
    pub poll: Duration,
    /// How long one probe waits for a connection or an echo.
    pub probe: Duration,
}

impl Timeouts {
    /// The oracle computes the answer: there is nothing to wait for.
    pub const ORACLE: Timeouts = Timeouts {
        enforce: Duration::ZERO,
        poll: Duration::ZERO,
        probe: Duration::ZERO,
    };
    /// Namespaces on one machine: a connection takes ~2 ms, so 500 ms without
    /// an answer is a drop; the enforcer applies a change within milliseconds.
    pub const NETNS: Timeouts = Timeouts {
        enforce: Duration::from_secs(10),
        poll: Duration::from_millis(50),
        probe: Duration::from_millis(500),
    };
    /// Real clusters: controllers, API watches and datapaths take longer.
    pub const CLUSTER: Timeouts = Timeouts {
        enforce: Duration::from_secs(60),
        poll: Duration::from_millis(500),
        probe: Duration::from_secs(2),
    };

    /// One `ip` command of the netns backend (they take milliseconds).
    pub const NETNS_COMMAND: Duration = Duration::from_secs(10);
    /// A probe agent's ready line, or an enforcer's acknowledgement of a snapshot.
    pub const NETNS_START: Duration = Duration::from_secs(10);
}
