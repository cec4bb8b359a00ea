//! Where built engines live, and whether the one there is the pinned version.

use std::path::{Path, PathBuf};

use super::{Asset, Component, VersionCheck};
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

    /// Where an asset of this component is kept.
    pub fn asset(&self, engines: &Path, asset: &Asset) -> PathBuf {
        self.folder(engines).join(asset.to)
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

impl VersionCheck {
    /// What the version output must have, for messages.
    pub fn expected(&self, component: &Component) -> String {
        match self {
            VersionCheck::Line { line, .. } => line(component.version),
            VersionCheck::Within { part, .. } => part(component.version),
            VersionCheck::GoBuildInfo => go_build_info_line(component),
        }
    }
}

/// The line `go version -m` prints for the module of the main package at
/// the pin: `mod<TAB>module<TAB>version<TAB>h1:…` (the hash is left out).
/// Built from a wrapper module it is still the package's own module.
fn go_build_info_line(component: &Component) -> String {
    format!("mod\t{}\t{}", component.module, component.version)
}

/// Does `output` (of the version command) say exactly `component`'s version?
pub fn reports_version(component: &Component, output: &str) -> bool {
    let expected = component.version_check.expected(component);
    match component.version_check {
        VersionCheck::Line { .. } => output.lines().any(|line| line.trim() == expected),
        VersionCheck::Within { .. } => output.lines().any(|line| line.contains(&expected)),
        // With its hash: a replaced module's line has none, the next line
        // (`=>`) names what was built instead.
        VersionCheck::GoBuildInfo => output
            .lines()
            .any(|line| line.trim().starts_with(&format!("{expected}\th1:"))),
    }
}

/// Asks the binary at `path` its version; `Ok` is what it printed (stdout
/// then stderr: kube-router prints its version on stderr).
pub async fn ask_version(component: &Component, path: &Path) -> Result<String, String> {
    let program = path.to_string_lossy().into_owned();
    let (program, args): (String, Vec<&str>) = match &component.version_check {
        VersionCheck::Line { args, .. } | VersionCheck::Within { args, .. } => {
            (program.clone(), args.to_vec())
        }
        VersionCheck::GoBuildInfo => {
            let go = which::which("go").map_err(|_| {
                format!(
                    "`go` not found on PATH: {} has no version flag and `go version -m` reads its version",
                    component.name
                )
            })?;
            (go.display().to_string(), vec!["version", "-m", &program])
        }
    };
    crate::command::run(&program, &args, None, Timeouts::ENGINE_VERSION)
        .await
        .map(|output| format!("{}{}", output.stdout, output.stderr))
        .map_err(|e| crate::error::chain(&e))
}

/// Whether `component` is built in `engines`, by running its `--version`.
pub async fn status(component: &Component, engines: &Path) -> Status {
    let path = component.binary(engines);
    if !path.exists() {
        return Status::Missing(path);
    }
    // A binary without its assets (copied after it) is an unfinished build.
    if let Some(asset) = component
        .assets
        .iter()
        .map(|a| component.asset(engines, a))
        .find(|a| !a.exists())
    {
        return Status::Missing(asset);
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
