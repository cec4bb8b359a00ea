//! `netpol bench`: measured figures for the claims the project makes about
//! speed. Each measurement prints its method, its figures and one summary line.

pub mod enforcer;
pub mod engines;
pub mod latency;
pub mod matrix;
pub mod oracle;
pub mod suite;
pub mod world;
