//! netpol-enforcer: the reference NetworkPolicy enforcer of netpol.
//!
//! A pure core — `compile(&Snapshot, node) -> Ruleset`, `render(&Ruleset)
//! -> String` — and one place that touches the kernel, `apply` (nft).
//! `local` is the mode that runs beside the harness's netns backend; `cli`
//! is the command line, reachable from other binaries through `main_from`.
#![forbid(unsafe_code)]

pub mod addr;
pub mod allow;
pub mod cli;
pub mod command;
pub mod compile;
pub mod controller;
#[cfg(any(test, feature = "eval"))]
pub mod eval;
pub mod exit;
pub mod golden;
pub mod local;
pub mod nft;
pub mod policy;
pub mod render;
pub mod ruleset;
pub mod snapshot;

pub use cli::main_from;
pub use compile::compile;
pub use nft::{ApplyError, Nft, apply, check};
pub use render::render;
pub use ruleset::{Direction, Isolation, PodRules, Ruleset};
pub use snapshot::{ContainerPort, Namespace, Pod, Snapshot};
