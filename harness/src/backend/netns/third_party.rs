//! A third-party engine (`engines/`) on every node of a netns world with a
//! control plane: its release's API objects applied, then one process per
//! node namespace with the run's kubeconfig and the node's name, watched
//! until it has programmed its node. The processes are the world's
//! enforcers: stopped with it on every path (teardown, drop, a failed setup).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::engines::{Engine, Launch, NodeEnv};
use super::process::{Process, tail};
use super::{NetnsBackend, error};
use crate::backend::BackendResult;
use crate::engines::Status;
use crate::timeouts::Timeouts;

impl NetnsBackend {
    /// The engine's binary from the engines folder, or what to run to get it.
    pub(super) async fn engine_binary(engine: Engine) -> BackendResult<PathBuf> {
        let dir = crate::engines::engines_dir().map_err(error)?;
        let component = engine.component();
        match crate::engines::status(component, &dir).await {
            Status::Built(path) => Ok(path),
            other => Err(error(format!(
                "--cni {} needs {} ({} at {}): run `netpol engines build {}`",
                engine.name(),
                component.label(),
                other.word(),
                other.path().display(),
                component.name
            ))),
        }
    }

    /// Applies the engine's release objects, starts it on every node and
    /// waits until each has programmed its node.
    pub(super) async fn start_engine(&mut self, engine: Engine) -> BackendResult<()> {
        let engines = crate::engines::engines_dir().map_err(error)?;
        let ready = self.ready()?;
        let api = ready.api.as_ref().ok_or_else(|| {
            error(format!(
                "--cni {} watches an API server: the world needs its control plane",
                engine.name()
            ))
        })?;
        if let Some(text) = engine.manifests(&engines).map_err(error)? {
            let objects = crate::backend::kube::apply::parse_manifests(&text).map_err(error)?;
            let client = api.kube.driver.client.clone();
            crate::backend::kube::apply::apply_manifests(&client, &objects, Timeouts::ENGINE_CRDS)
                .await
                .map_err(|e| crate::backend::kube::backend_error("netns", e))?;
        }
        self.spawn_engines(engine, &engines)?;
        self.await_engines(engine).await
    }

    /// One process per node (also what a restart after `kill_enforcers` runs).
    pub(super) fn spawn_engines(&mut self, engine: Engine, engines: &Path) -> BackendResult<()> {
        let root = self.dir.root.clone();
        let ready = self.ready()?;
        let kubeconfig = ready
            .api
            .as_ref()
            .ok_or_else(|| error("an engine without a control plane"))?
            .plane
            .kubeconfig();
        let mut started = Vec::new();
        for node in &ready.topology.nodes {
            let env = NodeEnv {
                node: node.name.clone(),
                node_ip: node.fabric_ip,
                kubeconfig: kubeconfig.clone(),
                dir: root.join(format!("{}-{}", engine.name(), node.name)),
            };
            let launch = engine.launch(&env, engines);
            let log = root.join(format!("enforcer-{}.log", node.name));
            let name = format!("{} of {}", engine.name(), node.name);
            let process =
                spawn(&ready.tools, &node.netns, &env.dir, &launch, &log, &name).map_err(error)?;
            started.push(process);
        }
        self.ready_mut()?.enforcers.extend(started);
        Ok(())
    }

    /// Until the engine's top chain exists in every node namespace; a
    /// process that exits first fails the setup with the end of its log.
    pub(super) async fn await_engines(&mut self, engine: Engine) -> BackendResult<()> {
        let started = Instant::now();
        let nodes: Vec<(String, String)> = self
            .ready()?
            .topology
            .nodes
            .iter()
            .map(|n| (n.name.clone(), n.netns.clone()))
            .collect();
        for (index, (node, netns)) in nodes.iter().enumerate() {
            let log = self.dir.root.join(format!("enforcer-{node}.log"));
            let shims = self
                .dir
                .root
                .join(format!("{}-{node}", engine.name()))
                .join("bin");
            loop {
                let ready = self.ready_mut()?;
                if let Some(reason) = ready.enforcers.get_mut(index).and_then(|p| p.exited()) {
                    return Err(error(format!("{reason}; its log ends: {}", tail(&log))));
                }
                if programmed(&ready.tools.ip, netns, &shims, engine.programmed()).await {
                    break;
                }
                if started.elapsed() > Timeouts::ENGINE_START {
                    return Err(error(format!(
                        "{} of {node} had not programmed its node (`{}`) within {:?}; its log ends: {}",
                        engine.name(),
                        engine.programmed().join(" "),
                        Timeouts::ENGINE_START,
                        tail(&log)
                    )));
                }
                tokio::time::sleep(Timeouts::NETNS_STATUS_POLL * 100).await;
            }
        }
        eprintln!(
            "netpol: {} {} running on {} nodes, programmed in {:.1?}",
            engine.name(),
            engine.version(),
            nodes.len(),
            started.elapsed()
        );
        Ok(())
    }
}

/// The PATH an engine gets: its shims' folder, then the harness's own.
fn engine_path(shims: &Path) -> OsString {
    let mut path = OsString::from(shims);
    if let Some(own) = std::env::var_os("PATH") {
        path.push(":");
        path.push(own);
    }
    path
}

/// Whether `check` succeeds in `netns` (with the engine's PATH).
async fn programmed(ip: &Path, netns: &str, shims: &Path, check: &[&str]) -> bool {
    let path = engine_path(shims);
    let path = format!("PATH={}", path.to_string_lossy());
    let mut args = vec!["netns", "exec", netns, "env", &path];
    args.extend_from_slice(check);
    let ip = ip.to_string_lossy();
    crate::command::run(&ip, &args, None, Timeouts::NETNS_COMMAND)
        .await
        .is_ok()
}

/// The command line of one node's engine:
/// `ip netns exec <node> [setpriv --pdeathsig KILL --] env -i PATH=… K=V…
/// [unshare --mount --propagation private sh -c 'mount tmpfs…; exec "$@"' sh]
/// <program> <args…>`.
pub fn command_line(
    ip: &Path,
    setpriv: Option<&Path>,
    netns: &str,
    dir: &Path,
    launch: &Launch,
) -> Vec<OsString> {
    let mut argv: Vec<OsString> = vec![ip.into(), "netns".into(), "exec".into(), netns.into()];
    if let Some(setpriv) = setpriv {
        // The engine dies with the harness, even when the harness is SIGKILLed
        // (the flag survives the execs below: none is set-uid).
        argv.extend([
            setpriv.into(),
            "--pdeathsig".into(),
            "KILL".into(),
            "--".into(),
        ]);
    }
    // A clean environment: only what the recipe gives, and PATH.
    argv.extend(["env".into(), "-i".into()]);
    let mut path = OsString::from("PATH=");
    path.push(engine_path(&dir.join("bin")));
    argv.push(path);
    argv.extend(
        launch
            .env
            .iter()
            .map(|(k, v)| OsString::from(format!("{k}={v}"))),
    );
    if !launch.tmpfs.is_empty() {
        let mounts: Vec<String> = launch
            .tmpfs
            .iter()
            .map(|folder| format!("mount -t tmpfs netpol-engine {folder}"))
            .collect();
        argv.extend([
            "unshare".into(),
            "--mount".into(),
            "--propagation".into(),
            "private".into(),
            "sh".into(),
            "-c".into(),
            format!("{} && exec \"$@\"", mounts.join(" && ")).into(),
            "sh".into(),
        ]);
    }
    argv.push(launch.program.clone().into());
    argv.extend(launch.args.iter().map(OsString::from));
    argv
}

/// Writes the engine's files and shims into `dir`, then starts it, its
/// stdout and stderr into `log`.
fn spawn(
    tools: &super::preflight::Tools,
    netns: &str,
    dir: &Path,
    launch: &Launch,
    log: &Path,
    name: &str,
) -> Result<Process, String> {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("cannot create {}: {e}", bin.display()))?;
    for (file, text) in &launch.files {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    for (shim, program) in &launch.shims {
        let target = which::which(program).map_err(|_| {
            format!("{name} runs `{shim}` as `{program}`, which is not on PATH (apt-get install iptables)")
        })?;
        let link = bin.join(shim);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link)
            .map_err(|e| format!("cannot link {}: {e}", link.display()))?;
    }
    let argv = command_line(&tools.ip, tools.setpriv.as_deref(), netns, dir, launch);
    let log_file =
        std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let out = log_file
        .try_clone()
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(log_file)
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    Ok(Process {
        name: name.to_owned(),
        child,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_with_private_state_folders_runs_under_unshare_with_a_tmpfs_over_each() {
        let node = NodeEnv {
            node: "node1".into(),
            node_ip: std::net::Ipv4Addr::new(10, 255, 0, 1),
            kubeconfig: "/tmp/netpol-r/control-plane/kubeconfig".into(),
            dir: "/tmp/netpol-r/calico-felix-node1".into(),
        };
        let launch = Engine::CalicoFelix.launch(&node, Path::new("/e"));
        let argv = command_line(
            Path::new("/sbin/ip"),
            Some(Path::new("/bin/setpriv")),
            "netpol-r-node1",
            &node.dir,
            &launch,
        );
        let words: Vec<String> = argv
            .iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            &words[..9],
            [
                "/sbin/ip",
                "netns",
                "exec",
                "netpol-r-node1",
                "/bin/setpriv",
                "--pdeathsig",
                "KILL",
                "--",
                "env"
            ]
        );
        assert_eq!(words[9], "-i");
        assert!(words[10].starts_with("PATH=/tmp/netpol-r/calico-felix-node1/bin:"));
        assert!(words.contains(&"FELIX_FELIXHOSTNAME=node1".to_owned()));
        let sh = words.iter().position(|w| w == "-c").unwrap();
        assert_eq!(
            words[sh + 1],
            "mount -t tmpfs netpol-engine /var/lib && mount -t tmpfs netpol-engine /run && exec \"$@\""
        );
        // After sh's $0 come the program and its config file in the run folder.
        assert_eq!(words[sh + 2], "sh");
        assert!(words[sh + 3].ends_with("/calico-felix"));
        assert_eq!(
            &words[sh + 4..],
            ["-c", "/tmp/netpol-r/calico-felix-node1/felix.cfg"]
        );
    }

    #[test]
    fn kube_router_names_the_run_folder_on_its_command_line_for_netpol_cleanup() {
        let node = NodeEnv {
            node: "node2".into(),
            node_ip: std::net::Ipv4Addr::new(10, 255, 0, 2),
            kubeconfig: "/tmp/netpol-r/control-plane/kubeconfig".into(),
            dir: "/tmp/netpol-r/kube-router-node2".into(),
        };
        let launch = Engine::KubeRouter.launch(&node, Path::new("/e"));
        let argv = command_line(Path::new("ip"), None, "n", &node.dir, &launch);
        let line: Vec<String> = argv
            .iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect();
        assert!(!line.contains(&"unshare".to_owned()));
        assert!(line.contains(&"--kubeconfig=/tmp/netpol-r/control-plane/kubeconfig".to_owned()));
    }
}
