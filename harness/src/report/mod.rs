//! What a run tells people and machines: terminal output and results JSON.

pub mod json;
pub mod terminal;
