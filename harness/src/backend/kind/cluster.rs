//! Executes the steps of `steps`: every external command through
//! `command::run` (timeout, output kept, a pasteable command line on
//! failure), every API step through the shared driver.

use k8s_openapi::api::apps::v1::DaemonSet;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};

use super::bundled;
use super::plan::KindPlan;
use super::steps::{Action, Cmd};
use super::tools;
use crate::backend::kube::apply;
use crate::command::{self, Output};
use crate::timeouts::Timeouts;

/// Runs one command, mapping failure to text.
pub async fn run(cmd: &Cmd) -> Result<Output, String> {
    let full = cmd.full_argv();
    let args: Vec<&str> = full[1..].iter().map(String::as_str).collect();
    command::run(&full[0], &args, None, cmd.timeout)
        .await
        .map_err(|e| crate::error::chain(&e))
}

/// What the steps have found out so far.
#[derive(Default)]
pub struct Progress {
    /// The cluster existed before this run.
    pub reused: bool,
    /// The cluster's API, once its kubeconfig was read.
    pub client: Option<Client>,
}

impl Progress {
    fn client(&self) -> Result<&Client, String> {
        self.client
            .as_ref()
            .ok_or_else(|| "no API client yet (the kubeconfig step comes first)".to_owned())
    }
}

/// Executes one step of the plan; `CreateWorld`, `RunCases`,
/// `CleanNamespaces` and `Keep` belong to the backend and the runner.
pub async fn execute(
    plan: &KindPlan,
    action: &Action,
    progress: &mut Progress,
) -> Result<(), String> {
    match action {
        Action::CheckKind(cmd) => {
            let output = run(cmd).await?;
            if let Some(warning) = tools::check_kind_version(&output.stdout)? {
                eprintln!("netpol: warning: {warning}");
            }
            Ok(())
        }
        Action::FindCluster(cmd) => {
            let output = run(cmd).await?;
            progress.reused = output.stdout.lines().any(|l| l.trim() == plan.cluster);
            Ok(())
        }
        Action::Download {
            fetch,
            file,
            sha256,
            unpack,
        } => {
            run(fetch).await?;
            let bytes =
                std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let digest = sha256_hex(&bytes);
            if digest != *sha256 {
                return Err(format!(
                    "{} has sha256 {digest}, not the pinned {sha256}: refusing to use it",
                    file.display()
                ));
            }
            // tar's -C folder must exist.
            if let Some(dir) = unpack
                .argv
                .iter()
                .position(|a| a == "-C")
                .and_then(|i| unpack.argv.get(i + 1))
            {
                std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {dir}: {e}"))?;
            }
            run(unpack).await.map(drop)
        }
        Action::CreateCluster { config, create } => {
            std::fs::write(config, plan.kind_config())
                .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
            run(create).await.map(drop)
        }
        Action::Kubeconfig { get, path } => {
            let text = run(get).await?.stdout;
            std::fs::write(path, &text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            progress.client = Some(client(&text).await?);
            Ok(())
        }
        Action::Run(cmds) => {
            for cmd in cmds {
                run(cmd).await?;
            }
            Ok(())
        }
        Action::ApplyManifest {
            fetch,
            url,
            rewrites,
        } => {
            let text = run(fetch).await?.stdout;
            let text = rewrite(&text, rewrites).map_err(|e| format!("{url}: {e}"))?;
            apply_text(progress.client()?, &text, url).await
        }
        Action::ApplyBundled { manifests } => {
            for path in manifests {
                let text =
                    bundled::manifest(path).ok_or_else(|| format!("no bundled manifest {path}"))?;
                apply_text(progress.client()?, &text, path).await?;
            }
            Ok(())
        }
        Action::RestartDaemonSet { namespace, name } => {
            restart_daemonset(progress.client()?, namespace, name, &plan.names.run_id)
                .await
                .map_err(|e| crate::error::chain(&e))
        }
        Action::AwaitWorkload(workload) => {
            apply::await_workload(progress.client()?, workload, Timeouts::CNI_READY)
                .await
                .map_err(|e| crate::error::chain(&e))
        }
        Action::AwaitNodes => apply::await_nodes(progress.client()?, Timeouts::CNI_READY)
            .await
            .map(drop)
            .map_err(|e| crate::error::chain(&e)),
        Action::DeleteCluster(cmd) => run(cmd).await.map(drop),
        Action::CreateWorld | Action::RunCases(_) | Action::CleanNamespaces | Action::Keep => {
            Ok(())
        }
    }
}

/// The patch `kubectl rollout restart` makes, under our field manager: a
/// new pod-template annotation rolls every pod of the DaemonSet.
pub fn restart_patch(run_id: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "spec": {"template": {"metadata": {"annotations": {"netpol/restarted-by": run_id}}}}
    })
}

async fn restart_daemonset(
    client: &Client,
    namespace: &str,
    name: &str,
    run_id: &str,
) -> Result<(), kube::Error> {
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), namespace);
    daemonsets
        .patch(
            name,
            &PatchParams::apply(crate::backend::kube::driver::FIELD_MANAGER).force(),
            &Patch::Apply(restart_patch(run_id)),
        )
        .await
        .map(drop)
}

async fn client(kubeconfig: &str) -> Result<Client, String> {
    let parsed = kube::config::Kubeconfig::from_yaml(kubeconfig)
        .map_err(|e| format!("bad kubeconfig from kind: {e}"))?;
    let config =
        kube::Config::from_custom_kubeconfig(parsed, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| format!("cannot use kind's kubeconfig: {e}"))?;
    Client::try_from(config).map_err(|e| format!("cannot make an API client: {e}"))
}

async fn apply_text(client: &Client, text: &str, source: &str) -> Result<(), String> {
    let objects = apply::parse_manifests(text).map_err(|e| format!("{source}: {e}"))?;
    apply::apply_manifests(client, &objects, Timeouts::CNI_READY)
        .await
        .map_err(|e| format!("{source}: {}", crate::error::chain(&e)))?;
    Ok(())
}

/// Applies a recipe's text replacements; one that finds nothing means the
/// upstream manifest changed and the recipe must be looked at again.
pub fn rewrite(text: &str, rewrites: &[(String, String)]) -> Result<String, String> {
    let mut text = text.to_owned();
    for (from, to) in rewrites {
        if !text.contains(from.as_str()) {
            return Err(format!(
                "the manifest no longer contains `{}`: the recipe needs updating",
                from.trim()
            ));
        }
        text = text.replace(from.as_str(), to);
    }
    Ok(text)
}

/// SHA-256 as lower-case hex (ring is already linked for TLS).
pub fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How long a test may let one command run.
    const TEST_COMMAND: std::time::Duration = std::time::Duration::from_secs(10);

    #[test]
    fn a_rewrite_that_finds_nothing_asks_for_the_recipe_to_be_updated() {
        let rewrites = vec![("image: a\n".to_owned(), "image: a:v1\n".to_owned())];
        assert_eq!(
            rewrite("x: 1\nimage: a\n", &rewrites).unwrap(),
            "x: 1\nimage: a:v1\n"
        );
        let error = rewrite("image: b\n", &rewrites).unwrap_err();
        assert!(error.contains("needs updating"), "{error}");
    }

    #[test]
    fn sha256_is_lower_case_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[tokio::test]
    async fn a_command_runs_with_its_environment_and_fails_with_its_line() {
        let cmd = Cmd {
            env: vec![("NETPOL_X", "1".into())],
            argv: vec!["sh".into(), "-c".into(), "test \"$NETPOL_X\" = 2".into()],
            timeout: TEST_COMMAND,
        };
        let error = run(&cmd).await.unwrap_err();
        assert!(
            error.contains("env NETPOL_X=1 sh -c 'test \"$NETPOL_X\" = 2'"),
            "{error}"
        );
    }
}
