//! Where built engines live, and whether the one there is the pinned version.

use std::path::{Path, PathBuf};

use super::Component;
use crate::timeouts::Timeouts;

/// Overrides the engines folder (prebuilt binaries, CI caches).
pub const ENGINES_DIR_VAR: &str = "NETPOL_ENGINES_DIR";

/// `$NETPOL_ENGINES_DIR`, else `$XDG_CACHE_HOME/netpol/engines`, else
/// `~/.cache/netpol/engines` (the XDG default).
pub fn engines_dir() -> Result<PathBuf, String> {
    engines_dir_from(|name| std::env::var_os(name))
}

/// [`engines_dir`] with the environment given, for tests.
pub fn engines_dir_from(
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<PathBuf, String> {
    let var = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(dir) = var(ENGINES_DIR_VAR) {
        return Ok(PathBuf::from(dir));
    }
    // The XDG spec says a relative XDG_CACHE_HOME is invalid and to be ignored.
    if let Some(cache) = var("XDG_CACHE_HOME").map(PathBuf::from)
        && cache.is_absolute()
    {
        return Ok(cache.join("netpol").join("engines"));
    }
    let home = var("HOME").ok_or_else(|| {
        format!("neither {ENGINES_DIR_VAR}, XDG_CACHE_HOME nor HOME is set: set {ENGINES_DIR_VAR} to a folder for the engines")
    })?;
    Ok(PathBuf::from(home)
        .join(".cache")
        .join("netpol")
        .join("engines"))
}

impl Component {
    /// `<engines>/<name>-<version>/`.
    pub fn folder(&self, engines: &Path) -> PathBuf {
        engines.join(format!("{}-{}", self.name, self.version))
    }

    /// `<engines>/<name>-<version>/<name>`: where a build puts it, and where a
    /// prebuilt release binary of exactly this version may be placed.
    pub fn binary(&self, engines: &Path) -> PathBuf {
        self.folder(engines).join(self.name)
    }
}

/// What the engines folder holds for one component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// The binary is there and reports the pinned version.
    Built(PathBuf),
    Missing(PathBuf),
    /// A binary is there but reports something else (its first line), or
    /// could not be asked (the error).
    Wrong {
        path: PathBuf,
        reported: String,
    },
}

impl Status {
    pub fn word(&self) -> &'static str {
        match self {
            Status::Built(_) => "built",
            Status::Missing(_) => "not built",
            Status::Wrong { .. } => "wrong version",
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            Status::Built(path) | Status::Missing(path) | Status::Wrong { path, .. } => path,
        }
    }
}

/// Does `output` (of `--version`) say exactly `component`'s version?
pub fn reports_version(component: &Component, output: &str) -> bool {
    let expected = (component.version_line)(component.version);
    output.lines().any(|line| line.trim() == expected)
}

/// Asks the binary at `path` its version; `Ok` is what it printed.
pub async fn ask_version(component: &Component, path: &Path) -> Result<String, String> {
    let program = path.to_string_lossy();
    crate::command::run(
        &program,
        component.version_args,
        None,
        Timeouts::ENGINE_VERSION,
    )
    .await
    .map(|output| output.stdout)
    .map_err(|e| crate::error::chain(&e))
}

/// Whether `component` is built in `engines`, by running its `--version`.
pub async fn status(component: &Component, engines: &Path) -> Status {
    let path = component.binary(engines);
    if !path.exists() {
        return Status::Missing(path);
    }
    match ask_version(component, &path).await {
        Ok(output) if reports_version(component, &output) => Status::Built(path),
        Ok(output) => Status::Wrong {
            path,
            reported: output.lines().next().unwrap_or("nothing").to_owned(),
        },
        Err(reported) => Status::Wrong { path, reported },
    }
}
