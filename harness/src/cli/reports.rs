//! `netpol compare` and `netpol report`: results files read back and shown
//! side by side, as a page, or as JUnit.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::ValueEnum;

use super::UsageError;
use crate::exit;
use crate::report::{compare, html, junit, runs};

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Results files (results-format.md), one column each, labelled `backend/cni`.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "terminal")]
    pub format: CompareFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompareFormat {
    /// Tables for a terminal (coloured when stdout is one).
    Terminal,
    /// GitHub-flavoured Markdown, for a CI job summary.
    Markdown,
}

#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("outputs").required(true).multiple(true))]
pub struct ReportArgs {
    /// Results files (results-format.md).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write one self-contained HTML page here.
    #[arg(long, value_name = "OUT", group = "outputs")]
    pub html: Option<PathBuf>,
    /// Write JUnit XML here (one test suite per results file).
    #[arg(long, value_name = "OUT", group = "outputs")]
    pub junit: Option<PathBuf>,
}

fn load(files: &[PathBuf]) -> Result<Vec<runs::Run>, UsageError> {
    runs::load(files).map_err(|e| UsageError::Message(crate::error::chain(&e)))
}

pub fn compare(args: CompareArgs) -> Result<u8, UsageError> {
    let runs = load(&args.files)?;
    let text = match args.format {
        CompareFormat::Terminal => compare::terminal(&runs, std::io::stdout().is_terminal()),
        CompareFormat::Markdown => compare::markdown(&runs),
    };
    print!("{text}");
    Ok(exit::PASSED)
}

pub fn report(args: ReportArgs) -> Result<u8, UsageError> {
    let runs = load(&args.files)?;
    if let Some(path) = &args.html {
        html::write(path, &runs).map_err(|e| UsageError::Message(crate::error::chain(&e)))?;
        eprintln!("netpol report: wrote {}", path.display());
    }
    if let Some(path) = &args.junit {
        let mut suites = runs.iter().map(|r| junit::report(&r.results));
        let mut all = suites.next().expect("clap requires a file");
        for other in suites {
            all.add_test_suites(other.test_suites);
        }
        let xml = all
            .to_string()
            .map_err(|e| UsageError::Message(crate::error::chain(&junit::JunitError::Render(e))))?;
        std::fs::write(path, xml).map_err(|source| UsageError::Write {
            path: path.clone(),
            source,
        })?;
        eprintln!("netpol report: wrote {}", path.display());
    }
    Ok(exit::PASSED)
}
