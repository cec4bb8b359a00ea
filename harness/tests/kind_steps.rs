//! The dry run is the real plan: the commands a kind setup runs, run
//! here against stand-in programs that log their argv, are the lines
//! the plan prints, in the same order.

use std::path::{Path, PathBuf};

mod stand_in;
use stand_in::stand_in_program;

use netpol_harness::backend::kind::cluster::{self, Progress, sha256_hex};
use netpol_harness::backend::kind::plan::{self, KindPlan};
use netpol_harness::backend::kind::steps::Action;
use netpol_harness::backend::kind::tools::{Engine, Tools};
use netpol_harness::backend::kube::ProbeVia;
use netpol_harness::cni::Cni;
use netpol_harness::cni::versions::KIND;
use netpol_harness::command::shell_line;

const ARCHIVE: &str = "a stand-in for the plugins archive\n";

/// A program that logs its argv (one line, arguments separated by
/// U+001F) and answers what the kind backend reads from it.
fn stand_in(dir: &Path, name: &str, log: &Path) -> PathBuf {
    let path = dir.join(name);
    let script = format!(
        r#"{{ printf '%s' "$0"; for a in "$@"; do printf '\037%s' "$a"; done; echo; }} >> '{log}'
case "{name} $1 $2" in
  "kind version "*) echo "kind {KIND} go1.25 linux/amd64" ;;
  "kind get kubeconfig") printf 'apiVersion: v1\nkind: Config\nclusters: [{{name: k, cluster: {{server: "http://127.0.0.1:9"}}}}]\ncontexts: [{{name: k, context: {{cluster: k, user: u}}}}]\ncurrent-context: k\nusers: [{{name: u, user: {{}}}}]\n' ;;
  "curl -fsSL --retry") shift 4; printf '{archive}' > "$1" ;;
esac
"#,
        log = log.display(),
        archive = ARCHIVE.replace('\n', "\\n"),
    );
    stand_in_program(&path, &script);
    path
}

#[tokio::test]
async fn the_commands_a_kind_setup_runs_are_the_lines_its_dry_run_prints() {
    let root = std::env::temp_dir().join(format!("netpol-kind-steps-{}", std::process::id()));
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = root.join("argv.log");
    let tools = Tools {
        kind: stand_in(&bin, "kind", &log),
        engine: Engine::Docker(stand_in(&bin, "docker", &log)),
        curl: Some(stand_in(&bin, "curl", &log)),
        tar: Some(stand_in(&bin, "tar", &log)),
        chart: None,
    };
    let mut recipe = Cni::Flannel.recipe();
    let digest: &'static str = Box::leak(sha256_hex(ARCHIVE.as_bytes()).into_boxed_str());
    recipe.downloads[0].sha256 = digest;
    let mut plan = KindPlan::new(
        recipe,
        plan::cluster_name(Cni::Flannel),
        false,
        ProbeVia::Pod,
        false,
        "000000",
    );
    plan.work_dir = root.join("work");
    std::fs::create_dir_all(&plan.work_dir).unwrap();
    let workspace = Path::new(".");

    // Every step up to the first that needs a live API server.
    let mut progress = Progress::default();
    let mut expected = Vec::new();
    for step in plan.setup_steps(&tools, workspace) {
        let commands = match &step.action {
            Action::CheckKind(c) | Action::FindCluster(c) => vec![c.clone()],
            Action::Download { fetch, unpack, .. } => vec![fetch.clone(), unpack.clone()],
            Action::CreateCluster { create, .. } => vec![create.clone()],
            Action::Kubeconfig { get, .. } => vec![get.clone()],
            Action::Run(cmds) => cmds.clone(),
            _ => break,
        };
        cluster::execute(&plan, &step.action, &mut progress)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", step.title));
        expected.extend(commands.into_iter().map(|c| c.argv));
    }
    assert!(progress.client.is_some(), "the kubeconfig step connected");
    let logged: Vec<Vec<String>> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| l.split('\u{1f}').map(String::from).collect())
        .collect();
    assert_eq!(
        logged, expected,
        "the executor ran every command of the plan, in order"
    );
    let printed = plan.numbered_steps(&tools, workspace).join("\n");
    let mut from = 0;
    for argv in &logged {
        let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
        let line = shell_line(&argv[0], &args);
        let at = printed[from..].find(&line).unwrap_or_else(|| {
            panic!("`{line}` ran but is not printed (after byte {from}) in\n{printed}")
        });
        from += at + line.len();
    }
    assert!(
        logged
            .iter()
            .any(|a| a.get(1..3) == Some(&["load".to_owned(), "image-archive".to_owned()][..])),
        "images are loaded from an archive: {logged:?}"
    );
    let _ = std::fs::remove_dir_all(&root);
}
