//! `netpol engines list|build`: the programs of the control-plane tier, built
//! from pinned Go modules into the engines folder.

use std::time::{Duration, Instant};

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use super::{ListFormat, UsageError};
use crate::engines::{self, COMPONENTS, Status};
use crate::exit;

#[derive(Debug, Subcommand)]
pub enum EnginesCommand {
    /// Each engine: pinned version, Go module, whether it is built and where.
    List {
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// Build the pinned versions with the machine's `go` (all, or those named);
    /// those already built are kept. The folder is $NETPOL_ENGINES_DIR, else
    /// $XDG_CACHE_HOME/netpol/engines, else ~/.cache/netpol/engines.
    Build {
        /// Engines to build (default: all).
        #[arg(value_name = "NAME")]
        names: Vec<String>,
    },
}

pub fn engines(command: EnginesCommand) -> Result<u8, UsageError> {
    let dir = engines::engines_dir().map_err(UsageError::Message)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError::Message(format!("cannot start the async runtime: {e}")))?;
    match command {
        EnginesCommand::List { format } => runtime.block_on(list(&dir, format)),
        EnginesCommand::Build { names } => {
            let selected = engines::select(&names).map_err(UsageError::Message)?;
            runtime.block_on(build(&dir, &selected))
        }
    }
}

async fn list(dir: &std::path::Path, format: ListFormat) -> Result<u8, UsageError> {
    let mut rows = Vec::new();
    for component in COMPONENTS {
        rows.push((component, engines::status(component, dir).await));
    }
    match format {
        ListFormat::Text => {
            println!("engines folder: {}", dir.display());
            // Columns as wide as their longest entry (Calico's pin is a
            // pseudo-version), two spaces apart.
            let width = |f: fn(&engines::Component) -> &str| {
                rows.iter().map(|(c, _)| f(c).len()).max().unwrap_or(0) + 2
            };
            let (name, version, module) =
                (width(|c| c.name), width(|c| c.version), width(|c| c.module));
            for (component, status) in &rows {
                let detail = match status {
                    Status::Wrong { reported, .. } => format!(" (it says {reported:?})"),
                    _ => String::new(),
                };
                println!(
                    "{:<name$}{:<version$}{:<module$}{:<15}{}{detail}",
                    component.name,
                    component.version,
                    component.module,
                    status.word(),
                    status.path().display()
                );
            }
        }
        ListFormat::Json => {
            let rows: Vec<serde_json::Value> = rows
                .iter()
                .map(|(c, s)| {
                    serde_json::json!({
                        "name": c.name,
                        "version": c.version,
                        "module": c.module,
                        "package": c.package,
                        "built": matches!(s, Status::Built(_)),
                        "status": s.word(),
                        "path": s.path().display().to_string(),
                    })
                })
                .collect();
            println!("{}", serde_json::Value::Array(rows));
        }
    }
    Ok(exit::PASSED)
}

async fn build(dir: &std::path::Path, selected: &[&engines::Component]) -> Result<u8, UsageError> {
    let started = Instant::now();
    for component in selected {
        let bar = spinner(format!("building {}", component.label()));
        let result = engines::build(component, dir).await;
        bar.finish_and_clear();
        match result {
            Ok(built) if built.built => eprintln!(
                "netpol: {} built in {} → {}",
                component.label(),
                minutes(built.elapsed),
                built.path.display()
            ),
            Ok(built) => eprintln!(
                "netpol: {} already built: {}",
                component.label(),
                built.path.display()
            ),
            // No Go is a missing prerequisite, and so is a build that failed.
            Err(error) => return Err(UsageError::Message(crate::error::chain(&error))),
        }
    }
    eprintln!(
        "netpol: engines ready in {} ({})",
        minutes(started.elapsed()),
        dir.display()
    );
    Ok(exit::PASSED)
}

fn spinner(message: String) -> ProgressBar {
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// `4m12s`, `38s`, `0.4s`.
fn minutes(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0 => format!("{:.1}s", duration.as_secs_f64()),
        1..60 => format!("{secs}s"),
        _ => format!("{}m{:02}s", secs / 60, secs % 60),
    }
}
