//! The manifests of `deploy/`, compiled in, so a kind run applies exactly
//! the files a person would.

use crate::cni::versions::ENFORCER_IMAGE;

/// The image `deploy/daemonset.yaml` names; replaced by the run's image.
const DEPLOYED_IMAGE: &str = "image: localhost/netpol-enforcer:dev";

const FILES: [(&str, &str); 3] = [
    (
        "deploy/namespace.yaml",
        include_str!("../../../../deploy/namespace.yaml"),
    ),
    (
        "deploy/rbac.yaml",
        include_str!("../../../../deploy/rbac.yaml"),
    ),
    (
        "deploy/daemonset.yaml",
        include_str!("../../../../deploy/daemonset.yaml"),
    ),
];

/// One bundled manifest, with the enforcer image of this build.
pub fn manifest(path: &str) -> Option<String> {
    FILES
        .iter()
        .find(|(name, _)| *name == path)
        .map(|(_, text)| text.replace(DEPLOYED_IMAGE, &format!("image: {ENFORCER_IMAGE}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_manifest_parses_and_names_the_enforcer_image() {
        for (path, _) in FILES {
            let text = manifest(path).unwrap();
            let objects = crate::backend::kube::apply::parse_manifests(&text).unwrap();
            assert!(!objects.is_empty(), "{path}");
        }
        assert!(
            manifest("deploy/daemonset.yaml")
                .unwrap()
                .contains(ENFORCER_IMAGE)
        );
    }

    #[test]
    fn the_enforcer_asks_for_net_admin_only_and_reads_exactly_four_resources() {
        let daemonset = manifest("deploy/daemonset.yaml").unwrap();
        assert!(daemonset.contains("drop: [ALL]") && daemonset.contains("add: [NET_ADMIN]"));
        assert!(daemonset.contains("hostNetwork: true"));
        let rbac = manifest("deploy/rbac.yaml").unwrap();
        assert!(rbac.contains("resources: [pods, namespaces, nodes]"));
        assert!(rbac.contains("resources: [networkpolicies]"));
        assert_eq!(rbac.matches("verbs: [get, list, watch]").count(), 2);
    }

    #[test]
    fn the_enforcer_is_ready_only_once_the_file_its_controller_writes_exists() {
        let text = manifest("deploy/daemonset.yaml").unwrap();
        let objects = crate::backend::kube::apply::parse_manifests(&text).unwrap();
        let container = &objects[0].data["spec"]["template"]["spec"]["containers"][0];
        let file = container["args"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|a| a.as_str()?.strip_prefix("--ready-file="))
            .expect("the controller is told where to signal readiness");
        assert_eq!(
            container["readinessProbe"]["exec"]["command"],
            serde_json::json!(["test", "-e", file]),
            "the probe looks for the file the controller writes"
        );
    }
}
