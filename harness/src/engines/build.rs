//! `go build` of one component from its wrapper module, into the engines
//! folder, checked by its `--version` before it takes the binary's place.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::cache::{self, Status};
use super::{COMPONENTS, Component};
use crate::command::{self, CommandError};
use crate::timeouts::Timeouts;

/// A component that is ready to run.
#[derive(Debug)]
pub struct Built {
    pub path: PathBuf,
    /// False when the pinned binary was already there.
    pub built: bool,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No `go` on PATH: a missing prerequisite (exit 2).
    #[error("{}", go_missing_message(engines))]
    NoGo { engines: PathBuf },
    #[error("cannot prepare {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("building {component} failed")]
    Go {
        component: String,
        #[source]
        source: CommandError,
    },
    #[error(
        "{component} was built but its version check on {binary} says {reported:?}, not {expected:?}"
    )]
    Version {
        component: String,
        binary: PathBuf,
        reported: String,
        expected: String,
    },
}

/// What to do without Go: get it, or place the release binaries by hand.
pub fn go_missing_message(engines: &Path) -> String {
    let places: Vec<String> = COMPONENTS
        .iter()
        .map(|c| format!("  {} (`{}`)", c.binary(engines).display(), c.label()))
        .collect();
    format!(
        "`go` not found on PATH: the engines are built from their Go modules with Go 1.26 or newer \
         (install it from go.dev/dl and put its bin folder, e.g. /usr/local/go/bin, on PATH); \
         or place prebuilt release binaries of exactly these versions here:\n{}",
        places.join("\n")
    )
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Builds `component` into `engines` unless the pinned binary is there.
pub async fn build(component: &Component, engines: &Path) -> Result<Built, BuildError> {
    let started = Instant::now();
    if let Status::Built(path) = cache::status(component, engines).await {
        return Ok(Built {
            path,
            built: false,
            elapsed: started.elapsed(),
        });
    }
    let go = which::which("go").map_err(|_| BuildError::NoGo {
        engines: engines.to_owned(),
    })?;
    let folder = component.folder(engines);
    std::fs::create_dir_all(&folder).map_err(io(&folder))?;
    // The wrapper module is written afresh for each build and removed after.
    let module = folder.join(format!(".module-{}", std::process::id()));
    let result = build_in(component, &go, &module, engines).await;
    let _ = std::fs::remove_dir_all(&module);
    let path = result?;
    Ok(Built {
        path,
        built: true,
        elapsed: started.elapsed(),
    })
}

async fn build_in(
    component: &Component,
    go: &Path,
    module: &Path,
    engines: &Path,
) -> Result<PathBuf, BuildError> {
    std::fs::create_dir_all(module).map_err(io(module))?;
    for (name, text) in [
        ("go.mod", component.wrapper.go_mod),
        ("go.sum", component.wrapper.go_sum),
    ] {
        let path = module.join(name);
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    let partial = component.folder(engines).join(format!(
        "{}.partial-{}",
        component.name,
        std::process::id()
    ));
    let args = go_build_args(component, go, module, &partial);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    command::run("env", &args, None, Timeouts::ENGINE_BUILD)
        .await
        .map_err(|source| BuildError::Go {
            component: component.label(),
            source,
        })?;
    let reported = cache::ask_version(component, &partial)
        .await
        .unwrap_or_else(|e| e);
    if !cache::reports_version(component, &reported) {
        let _ = std::fs::remove_file(&partial);
        return Err(BuildError::Version {
            component: component.label(),
            binary: partial,
            reported: reported.lines().next().unwrap_or("nothing").to_owned(),
            expected: component.version_check.expected(component),
        });
    }
    copy_assets(component, go, module, engines).await?;
    let binary = component.binary(engines);
    std::fs::rename(&partial, &binary).map_err(io(&binary))?;
    Ok(binary)
}

/// Copies the component's assets out of its module as the build resolved
/// it (`go list -m` names its folder in the module cache).
async fn copy_assets(
    component: &Component,
    go: &Path,
    module: &Path,
    engines: &Path,
) -> Result<(), BuildError> {
    if component.assets.is_empty() {
        return Ok(());
    }
    let go = go.display().to_string();
    let module = module.display().to_string();
    let args = [
        "GOWORK=off",
        go.as_str(),
        "-C",
        module.as_str(),
        "list",
        "-mod=readonly",
        "-m",
        "-f",
        "{{.Dir}}",
        component.module,
    ];
    let output = command::run("env", &args, None, Timeouts::ENGINE_VERSION)
        .await
        .map_err(|source| BuildError::Go {
            component: component.label(),
            source,
        })?;
    let dir = PathBuf::from(output.stdout.trim());
    for asset in component.assets {
        let (from, to) = (dir.join(asset.from), component.asset(engines, asset));
        std::fs::copy(&from, &to).map_err(io(&from))?;
        // The module cache is read-only; the copy need not be.
        let _ = std::fs::set_permissions(&to, std::os::unix::fs::PermissionsExt::from_mode(0o644));
    }
    Ok(())
}

/// `env CGO_ENABLED=0 GOWORK=off go -C <module> build …`: a static binary
/// (runs in any namespace, needs no C compiler), from the wrapper's go.mod
/// and go.sum only (`-mod=readonly`: a go.sum that does not match fails
/// instead of being rewritten), without the paths of this machine
/// (`-trimpath`) or of a VCS checkout (`-buildvcs=false`).
pub fn go_build_args(component: &Component, go: &Path, module: &Path, out: &Path) -> Vec<String> {
    let mut args = vec![
        "CGO_ENABLED=0".to_owned(),
        "GOWORK=off".to_owned(),
        go.display().to_string(),
        "-C".to_owned(),
        module.display().to_string(),
        "build".to_owned(),
        "-mod=readonly".to_owned(),
        "-trimpath".to_owned(),
        "-buildvcs=false".to_owned(),
    ];
    let stamps = (component.stamps)(component.version);
    if !stamps.is_empty() {
        let flags: Vec<String> = stamps
            .iter()
            .map(|(name, value)| format!("-X {name}={value}"))
            .collect();
        args.push("-ldflags".to_owned());
        args.push(flags.join(" "));
    }
    args.push("-o".to_owned());
    args.push(out.display().to_string());
    args.push(component.package.to_owned());
    args
}
