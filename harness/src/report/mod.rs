//! What a run tells people and machines: terminal output and results JSON,
//! JUnit, the HTML report and the side-by-side comparison of runs.

pub mod compare;
pub mod console;
pub mod features;
pub mod html;
pub mod json;
pub mod junit;
pub mod runs;
pub mod terminal;
