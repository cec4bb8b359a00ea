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
}

impl Timeouts {
    /// The oracle computes the answer: there is nothing to wait for.
    pub const ORACLE: Timeouts = Timeouts {
        enforce: Duration::ZERO,
        poll: Duration::ZERO,
    };
    /// Namespaces on one machine: the enforcer reacts within milliseconds.
    pub const NETNS: Timeouts = Timeouts {
        enforce: Duration::from_secs(10),
        poll: Duration::from_millis(50),
    };
    /// Real clusters: controllers, API watches and datapaths take longer.
    pub const CLUSTER: Timeouts = Timeouts {
        enforce: Duration::from_secs(60),
        poll: Duration::from_millis(500),
    };
}
