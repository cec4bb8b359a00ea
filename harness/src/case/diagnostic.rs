//! Problems found in a case file, each with its place and field path.

use std::fmt;
use std::path::{Path, PathBuf};

use super::yaml::Pos;

/// One problem: `cases/foo.yaml:23:9: spec.ingress[0].ports[1].endPort: endPort 79 is below port 80`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub pos: Pos,
    /// The field path inside the document, empty for the document itself.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.pos.line > 0 {
            write!(f, ":{}:{}", self.pos.line, self.pos.column)?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem of one or more files; the error type of loading.
#[derive(Debug, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

/// Problems printed per file: a hostile 1 MiB file can hold 100,000 unknown
/// keys, and nobody reads past the first screenful anyway.
pub const MAX_SHOWN_PER_FILE: usize = 50;

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines = Vec::new();
        let mut shown: Vec<(&Path, usize)> = Vec::new();
        for diagnostic in &self.0 {
            let file = diagnostic.file.as_path();
            match shown.iter_mut().find(|(f, _)| *f == file) {
                Some((_, n)) if *n >= MAX_SHOWN_PER_FILE => *n += 1,
                Some((_, n)) => {
                    *n += 1;
                    lines.push(diagnostic.to_string());
                }
                None => {
                    shown.push((file, 1));
                    lines.push(diagnostic.to_string());
                }
            }
        }
        for (file, n) in shown.iter().filter(|(_, n)| *n > MAX_SHOWN_PER_FILE) {
            let more = n - MAX_SHOWN_PER_FILE;
            lines.push(format!("{}: … and {more} more problems", file.display()));
        }
        f.write_str(&lines.join("\n"))
    }
}

/// Collects the problems of one file.
#[derive(Debug)]
pub struct Sink {
    file: PathBuf,
    pub found: Vec<Diagnostic>,
}

impl Sink {
    pub fn new(file: &Path) -> Sink {
        Sink {
            file: file.to_owned(),
            found: Vec::new(),
        }
    }

    pub fn report(&mut self, pos: Pos, path: &str, message: impl Into<String>) {
        self.found.push(Diagnostic {
            file: self.file.clone(),
            pos,
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// Reports the reason of a failed check, if it failed.
    pub fn check(&mut self, pos: Pos, path: &str, result: Result<(), String>) {
        if let Err(reason) = result {
            self.report(pos, path, reason);
        }
    }

    pub fn is_clean(&self) -> bool {
        self.found.is_empty()
    }
}

/// Builds field paths such as `spec.ingress[0].ports[1]`.
pub fn field(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}
