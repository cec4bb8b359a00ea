//! The probe pod against Pod Security "restricted", checked the way
//! pod-security-admission checks it (kubernetes
//! staging/src/k8s.io/pod-security-admission/policy/check_*.go, the
//! baseline checks and the restricted ones): a namespace that enforces
//! restricted must admit the suite's pods.

use netpol_harness::backend::kube::Names;
use netpol_harness::model::Model;
use serde_json::Value;

/// Every violation of the restricted profile in a pod, as PSA names them.
fn restricted_violations(pod: &Value) -> Vec<String> {
    let spec = &pod["spec"];
    let pod_security = &spec["securityContext"];
    let containers: Vec<&Value> = spec["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(spec["initContainers"].as_array().into_iter().flatten())
        .collect();
    let mut out = Vec::new();
    // baseline: host namespaces, privileged, host ports and paths, sysctls
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec[field] == true {
            out.push(format!("host namespaces ({field})"));
        }
    }
    let safe_sysctls = [
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
    ];
    for sysctl in pod_security["sysctls"].as_array().into_iter().flatten() {
        let name = sysctl["name"].as_str().unwrap_or_default();
        if !safe_sysctls.contains(&name) {
            out.push(format!("forbidden sysctls ({name})"));
        }
    }
    // restricted: volume types
    let allowed_volumes = [
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ];
    for volume in spec["volumes"].as_array().into_iter().flatten() {
        for key in volume.as_object().into_iter().flatten().map(|(k, _)| k) {
            if key != "name" && !allowed_volumes.contains(&key.as_str()) {
                out.push(format!("restricted volume types ({key})"));
            }
        }
    }
    // runAsNonRoot: true at pod level (or on every container), never false
    let pod_non_root = pod_security["runAsNonRoot"] == true;
    for c in &containers {
        let security = &c["securityContext"];
        let name = c["name"].as_str().unwrap_or_default();
        if security["privileged"] == true {
            out.push(format!("privileged ({name})"));
        }
        for port in c["ports"].as_array().into_iter().flatten() {
            if port["hostPort"].as_i64().unwrap_or(0) != 0 {
                out.push(format!("hostPort ({name})"));
            }
        }
        if security["allowPrivilegeEscalation"] != false {
            out.push(format!("allowPrivilegeEscalation != false ({name})"));
        }
        let dropped = security["capabilities"]["drop"]
            .as_array()
            .is_some_and(|d| d.iter().any(|c| c == "ALL"));
        if !dropped {
            out.push(format!("unrestricted capabilities: drop ALL ({name})"));
        }
        for added in security["capabilities"]["add"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if added != "NET_BIND_SERVICE" {
                out.push(format!("unrestricted capabilities: add {added} ({name})"));
            }
        }
        if security["runAsNonRoot"] == false || !(pod_non_root || security["runAsNonRoot"] == true)
        {
            out.push(format!("runAsNonRoot != true ({name})"));
        }
        if security["runAsUser"] == 0 {
            out.push(format!("runAsUser=0 ({name})"));
        }
        let seccomp = |v: &Value| {
            let kind = v["seccompProfile"]["type"].as_str();
            matches!(kind, Some("RuntimeDefault" | "Localhost"))
        };
        if security["seccompProfile"]["type"] == "Unconfined"
            || !(seccomp(pod_security) || seccomp(security))
        {
            out.push(format!("seccompProfile ({name})"));
        }
    }
    if pod_security["runAsUser"] == 0 {
        out.push("runAsUser=0 (pod)".into());
    }
    out
}

#[test]
fn the_probe_pod_is_admitted_where_pod_security_enforces_restricted() {
    let model = Model::default();
    for names in [Names::plain("abc123"), Names::prefixed("abc123")] {
        let pod = names.pod_object(&model.pods[0], "localhost/netpol-probe:dev", "Never");
        let pod = serde_json::to_value(&pod).unwrap();
        assert_eq!(restricted_violations(&pod), Vec::<String>::new(), "{pod:#}");
        assert_eq!(pod["spec"]["securityContext"]["runAsUser"], 65532);
    }
}

#[test]
fn the_checker_finds_what_restricted_refuses() {
    // The checker itself: a pod with none of the restricted settings.
    let bare = serde_json::json!({"spec": {"hostNetwork": true, "containers": [{"name": "c",
        "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}],
        "volumes": [{"name": "v", "hostPath": {"path": "/"}}]}});
    let found = restricted_violations(&bare);
    for needle in [
        "host namespaces (hostNetwork)",
        "restricted volume types (hostPath)",
        "allowPrivilegeEscalation != false (c)",
        "unrestricted capabilities: drop ALL (c)",
        "unrestricted capabilities: add \"NET_ADMIN\" (c)",
        "runAsNonRoot != true (c)",
        "seccompProfile (c)",
    ] {
        assert!(
            found.iter().any(|f| f == needle),
            "no `{needle}` in {found:?}"
        );
    }
}
