//! netpol: a Kubernetes NetworkPolicy conformance suite.
//!
//! Stages, one module each: `case` (format, validation) → `model` → `oracle`
//! → `backend` → `probe` → `verdict` → `report`; `run` drives them, `cli`
//! parses the command line.

// The one place that enters a namespace (controlplane/sockets.rs) uses
// rustix's safe setns: the crate needs no unsafe code at all.
#![forbid(unsafe_code)]

pub mod backend;
pub mod bench;
pub mod case;
pub mod cidr;
pub mod cli;
pub mod cni;
pub mod command;
pub mod controlplane;
pub mod differential;
pub mod engines;
pub mod error;
pub mod exit;
pub mod generate;
pub mod model;
pub mod multicall;
pub mod oracle;
pub mod probe;
pub mod report;
pub mod run;
pub mod timeouts;
pub mod truth;
pub mod verdict;
pub mod words;
