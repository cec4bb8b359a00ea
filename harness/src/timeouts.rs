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
    /// A step that changes something but expects what the world showed
    /// before (a policy that selects nobody yet, a label no policy reads)
    /// has nothing visible to wait for: its first round matches whether or
    /// not the change is in force. Where nobody acknowledges a change (an
    /// engine watching the API programs it on its own time, and may program
    /// it wrongly), such a step is judged only on matching rounds from this
    /// long after the change on. Zero where the backend waits for the
    /// enforcers' acknowledgement, or computes the answer.
    pub settle: Duration,
}

impl Timeouts {
    /// A cluster whose CNI enforces no NetworkPolicy (kind's Flannel row):
    /// an isolating step can only fail there, so waiting the whole
    /// `CLUSTER.enforce` for it only costs time (118 of the library's 125
    /// steps isolate something: about 2 h at 60 s, under 15 min at 5 s).
    /// Five seconds are still several probing rounds after the API has the change.
    pub const CLUSTER_UNENFORCED: Timeouts = Timeouts {
        enforce: Duration::from_secs(5),
        ..Timeouts::CLUSTER
    };
    /// The oracle computes the answer: there is nothing to wait for.
    pub const ORACLE: Timeouts = Timeouts {
        enforce: Duration::ZERO,
        poll: Duration::ZERO,
        probe: Duration::ZERO,
        settle: Duration::ZERO,
    };
    /// Namespaces on one machine: a connection takes well under 5 ms even on a
    /// loaded 2-core machine, so 250 ms without an answer is a drop (and every
    /// blocked cell costs that much); the enforcer applies a change within
    /// milliseconds.
    pub const NETNS: Timeouts = Timeouts {
        enforce: Duration::from_secs(10),
        poll: Duration::from_millis(50),
        probe: Duration::from_millis(250),
        settle: Duration::ZERO,
    };
    /// The reference enforcer in controller mode (`--control-plane`): it
    /// learns each change through an API watch and nobody acknowledges it.
    /// Its times to enforce are 0.6–0.75 s (results/netns-reference-controller.json):
    /// a step with nothing visible to wait for is judged from 2 s on.
    pub const NETNS_CONTROLLER: Timeouts = Timeouts {
        settle: Duration::from_secs(2),
        ..Timeouts::NETNS
    };
    /// A third-party engine on the netns world: probes as on netns, but the
    /// engine learns each change through an API watch and reprograms on its
    /// own time (kube-router rebuilds its chains and ipsets with a full
    /// sync per change; Felix batches its updates), so a step may take more
    /// than the reference enforcer's milliseconds.
    /// Their slowest steps took 0.6–1.5 s in the committed runs (kube-router,
    /// Felix), so a step with nothing visible to wait for is judged from 3 s on.
    pub const NETNS_ENGINE: Timeouts = Timeouts {
        enforce: Duration::from_secs(20),
        settle: Duration::from_secs(3),
        ..Timeouts::NETNS
    };
    /// Real clusters: controllers, API watches and datapaths take longer.
    /// A step with nothing visible to wait for is judged from
    /// `NO_POLICY_AFTER` on: twice the slowest CNI's time to program a policy.
    pub const CLUSTER: Timeouts = Timeouts {
        enforce: Duration::from_secs(60),
        poll: Duration::from_millis(500),
        probe: Duration::from_secs(2),
        settle: Timeouts::NO_POLICY_AFTER,
    };

    /// How long a step waits at least before stopping early, failed, when
    /// the probes keep seeing the no-policy matrix (`run::NO_POLICY_ROUNDS`;
    /// half the enforce deadline when that is shorter). Enforcing CNIs on
    /// kind program a policy within a few seconds of its write (Calico,
    /// Cilium, Antrea, kube-router: 1-5 s); twice the slowest of those
    /// still ends a step on a CNI that enforces nothing well before 60 s.
    pub const NO_POLICY_AFTER: Duration = Duration::from_secs(10);
    /// The cluster backends, after setup and after every reset: how long
    /// the world without policy may take to show every cell connected
    /// before the backend fails (a datapath not up yet, or the previous
    /// case's rules still in force, would be judged otherwise).
    pub const BASELINE: Duration = Duration::from_secs(60);

    /// One `ip` command of the netns backend (they take milliseconds).
    pub const NETNS_COMMAND: Duration = Duration::from_secs(10);
    /// A probe agent's ready line, or an enforcer's acknowledgement of a snapshot.
    pub const NETNS_START: Duration = Duration::from_secs(10);
    /// How often the enforcers' status files are read while waiting for an
    /// acknowledgement: an apply takes a few milliseconds, and reading a small
    /// file costs microseconds.
    pub const NETNS_STATUS_POLL: Duration = Duration::from_millis(2);

    /// After SIGKILL to a command's process group, how long to wait for the
    /// command to be reaped: the kernel ends a killed process at once, unless
    /// it is stuck in the kernel, which this bounds.
    pub const REAP: Duration = Duration::from_secs(5);
    /// How often a killed command is checked for having exited.
    pub const REAP_POLL: Duration = Duration::from_millis(1);

    /// A probe pod of a cluster: scheduled, image present, container started.
    pub const POD_READY: Duration = Duration::from_secs(120);
    /// A CNI's DaemonSets and Deployments, and every node, after install
    /// (images are pulled from the internet here).
    pub const CNI_READY: Duration = Duration::from_secs(300);
    /// A namespace being deleted, until it is gone: its probe pods end
    /// within their 1 s grace period, but finalizers can take longer.
    pub const NAMESPACE_GONE: Duration = Duration::from_secs(120);
    /// A new namespace's `default` ServiceAccount, which the controller
    /// manager creates within seconds; pods are refused until it exists.
    pub const SERVICE_ACCOUNT: Duration = Duration::from_secs(30);
    /// How often the cluster backends look again while they wait on the API.
    pub const API_POLL: Duration = Duration::from_millis(500);
    /// One exec of the probe agent, beyond the probes' own timeout.
    pub const EXEC_SLACK: Duration = Duration::from_secs(30);
    /// `kind create cluster` (node image pull included).
    pub const KIND_CREATE: Duration = Duration::from_secs(600);
    /// `docker build` of one image (a cold cargo build included).
    pub const IMAGE_BUILD: Duration = Duration::from_secs(1800);
    /// Any other external command of the kind backend: `kind load`,
    /// `kind delete`, `helm install`, `curl`, `docker exec`.
    pub const KIND_COMMAND: Duration = Duration::from_secs(300);

    /// `go build` of one engine: a cold kube-apiserver build compiles ~2,000
    /// packages, minutes on a loaded 2-core machine (module downloads included).
    pub const ENGINE_BUILD: Duration = Duration::from_secs(3600);
    /// A third-party engine started in a node namespace having programmed
    /// its first rules: it first lists everything from the API server
    /// (kube-router's informer cache sync allows a minute).
    pub const ENGINE_START: Duration = Duration::from_secs(90);
    /// The CRDs an engine's release installs being Established.
    pub const ENGINE_CRDS: Duration = Duration::from_secs(60);
    /// An engine binary's `--version` (it prints and exits at once).
    pub const ENGINE_VERSION: Duration = Duration::from_secs(30);
    /// etcd of the control plane answering `/health` with `"health":"true"`
    /// (it starts in about a second).
    pub const ETCD_HEALTHY: Duration = Duration::from_secs(30);
    /// kube-apiserver answering `/readyz` with `ok`: its post-start hooks
    /// (RBAC bootstrap roles, priority-and-fairness, CRDs) take seconds, more
    /// on a loaded machine.
    pub const APISERVER_READY: Duration = Duration::from_secs(120);
    /// One TCP connect to the control plane over the fabric (it answers in
    /// milliseconds; a refused connect fails at once).
    pub const API_CONNECT: Duration = Duration::from_secs(10);
    /// The pause between two health checks of the control plane.
    pub const CONTROL_PLANE_POLL: Duration = Duration::from_millis(100);

    /// `netpol bench`: one policy change, from its write until the watcher
    /// confirms the new state. kube-router takes up to ~2 s per change here
    /// (a full sync each); a change not confirmed by then counts as missed
    /// and the next one is written anyway.
    pub const BENCH_CHANGE: Duration = Duration::from_secs(30);
    /// `netpol bench`: how often the watcher's lines are looked at while a
    /// change is awaited (they arrive every couple of milliseconds).
    pub const BENCH_POLL: Duration = Duration::from_millis(10);
    /// `netpol bench engines`: a node's rules (its nftables ruleset and its
    /// ipsets) count as programmed once unchanged this long: engines that
    /// batch (Felix) or sync on a timer write in bursts a second apart.
    pub const BENCH_RULES_STABLE: Duration = Duration::from_secs(3);
    /// `netpol bench engines`: how long an engine may take to program a
    /// thousand policies (kube-router's full sync of 1,000 policies with
    /// their ipsets takes tens of seconds on a loaded 2-core machine).
    pub const BENCH_RULES_DEADLINE: Duration = Duration::from_secs(600);
}
