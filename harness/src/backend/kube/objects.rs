//! The objects of the model world, as Kubernetes objects: pure builders, so
//! the dry-run plan, the driver and the tests see exactly the same YAML.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort as KubeContainerPort, Namespace, Pod,
    PodSecurityContext, PodSpec, SeccompProfile, SecurityContext, Service, ServicePort,
    ServiceSpec, Sysctl, TopologySpreadConstraint,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::model::{self, Model, NAMESPACE_NAME_LABEL, PodId, Protocol};

/// Marks everything netpol creates, whatever the run.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "netpol");
/// The run an object belongs to; cleanup deletes by this label.
pub const RUN_LABEL: &str = "netpol/run";
/// A probe pod's stable identity, which its Service selects: case steps
/// relabel pods, so Services must not select on model labels.
pub const PROBE_LABEL: &str = "netpol/probe";
/// The container of every probe pod.
pub const CONTAINER: &str = "probe";
/// Where the agent lives in the probe image (probe-image/Dockerfile).
pub const AGENT: &str = "/netpol-probe";
/// What the probe pods meet, for the plans.
pub const POD_SECURITY: &str = "Pod Security \"restricted\": non-root uid 65532, no privilege escalation, every capability dropped, RuntimeDefault seccomp, read-only root; the one sysctl, net.ipv4.ip_unprivileged_port_start=0 (to bind 80 and 81), is in the safe set allowed from baseline up";
/// The probe image's user (probe-image/Dockerfile `USER 65532:65532`).
pub const PROBE_USER: i64 = 65532;

/// Maps the model's namespaces (`x`) to the cluster's. On a kind cluster the
/// harness owns, they are the same; on someone else's cluster every name
/// gets a run-specific prefix, so nothing of theirs is ever touched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    pub run_id: String,
    prefix: String,
}

impl Names {
    /// Model names as they are (a cluster made for this run).
    pub fn plain(run_id: &str) -> Names {
        Names {
            run_id: run_id.to_owned(),
            prefix: String::new(),
        }
    }

    /// `netpol-<run>-x` (an existing cluster).
    pub fn prefixed(run_id: &str) -> Names {
        Names {
            run_id: run_id.to_owned(),
            prefix: format!("netpol-{run_id}-"),
        }
    }

    pub fn namespace(&self, model_namespace: &str) -> String {
        format!("{}{model_namespace}", self.prefix)
    }

    /// The model namespace of a cluster namespace, if it is one of ours.
    pub fn model_namespace<'a>(&self, namespace: &'a str) -> Option<&'a str> {
        namespace.strip_prefix(self.prefix.as_str())
    }

    /// `app.kubernetes.io/managed-by=netpol,netpol/run=<id>`.
    pub fn selector(&self) -> String {
        format!(
            "{}={},{RUN_LABEL}={}",
            MANAGED_BY.0, MANAGED_BY.1, self.run_id
        )
    }

    fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned()),
            (RUN_LABEL.to_owned(), self.run_id.clone()),
        ])
    }

    fn meta(&self, namespace: Option<String>, name: &str, extra: &model::Labels) -> ObjectMeta {
        let mut labels = self.labels();
        labels.extend(extra.clone());
        ObjectMeta {
            name: Some(name.to_owned()),
            namespace,
            labels: Some(labels),
            ..ObjectMeta::default()
        }
    }

    /// A model namespace with its labels, less the name label the API server owns.
    pub fn namespace_object(&self, ns: &model::Namespace) -> Namespace {
        let mut labels = ns.labels.clone();
        labels.remove(NAMESPACE_NAME_LABEL);
        Namespace {
            metadata: self.meta(None, &self.namespace(&ns.name), &labels),
            ..Namespace::default()
        }
    }

    /// A probe pod: the agent serving every model port, one container port
    /// named `serve-<port>-<proto>` each.
    pub fn pod_object(&self, pod: &model::Pod, image: &str, pull: &str) -> Pod {
        let mut labels = pod.labels.clone();
        labels.insert(PROBE_LABEL.to_owned(), pod.id.name.clone());
        let served: Vec<String> = model::SERVED_PORTS.iter().map(u16::to_string).collect();
        let ports = pod
            .ports
            .iter()
            .map(|p| KubeContainerPort {
                name: Some(p.name.clone()),
                container_port: i32::from(p.port),
                protocol: Some(p.protocol.api_name().to_owned()),
                ..KubeContainerPort::default()
            })
            .collect();
        Pod {
            metadata: self.meta(
                Some(self.namespace(&pod.id.namespace)),
                &pod.id.name,
                &labels,
            ),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: CONTAINER.to_owned(),
                    image: Some(image.to_owned()),
                    image_pull_policy: Some(pull.to_owned()),
                    args: Some(vec!["serve".into(), "--ports".into(), served.join(",")]),
                    ports: Some(ports),
                    // Pod Security "restricted" (every check of
                    // k8s.io/pod-security-admission/policy at level restricted):
                    // no privilege escalation, every capability dropped.
                    security_context: Some(SecurityContext {
                        allow_privilege_escalation: Some(false),
                        capabilities: Some(Capabilities {
                            drop: Some(vec!["ALL".into()]),
                            ..Capabilities::default()
                        }),
                        read_only_root_filesystem: Some(true),
                        ..SecurityContext::default()
                    }),
                    ..Container::default()
                }],
                security_context: Some(PodSecurityContext {
                    // Restricted: a non-root user, the runtime's default seccomp profile.
                    run_as_non_root: Some(true),
                    run_as_user: Some(PROBE_USER),
                    run_as_group: Some(PROBE_USER),
                    seccomp_profile: Some(SeccompProfile {
                        type_: "RuntimeDefault".into(),
                        ..SeccompProfile::default()
                    }),
                    // The agent binds 80 and 81 as that user: this namespaced
                    // sysctl lets it whatever the runtime's default, and is in
                    // the safe set Pod Security allows from baseline up
                    // (policy/check_sysctls.go).
                    sysctls: Some(vec![Sysctl {
                        name: "net.ipv4.ip_unprivileged_port_start".into(),
                        value: "0".into(),
                    }]),
                    ..PodSecurityContext::default()
                }),
                // Spread over the nodes, so the matrix has same-node and cross-node pairs.
                topology_spread_constraints: Some(vec![TopologySpreadConstraint {
                    max_skew: 1,
                    topology_key: "kubernetes.io/hostname".into(),
                    when_unsatisfiable: "ScheduleAnyway".into(),
                    label_selector: Some(LabelSelector {
                        match_labels: Some(BTreeMap::from([(
                            RUN_LABEL.to_owned(),
                            self.run_id.clone(),
                        )])),
                        ..LabelSelector::default()
                    }),
                    ..TopologySpreadConstraint::default()
                }]),
                automount_service_account_token: Some(false),
                enable_service_links: Some(false),
                termination_grace_period_seconds: Some(1),
                ..PodSpec::default()
            }),
            ..Pod::default()
        }
    }

    /// The Service in front of one probe pod, on the given protocols.
    /// Not-ready endpoints are published so a probe never depends on readiness.
    pub fn service_object(&self, pod: &PodId, protocols: &[Protocol]) -> Service {
        let ports = protocols
            .iter()
            .flat_map(|protocol| {
                model::SERVED_PORTS.iter().map(move |port| ServicePort {
                    name: Some(format!("serve-{port}-{protocol}")),
                    port: i32::from(*port),
                    target_port: Some(IntOrString::Int(i32::from(*port))),
                    protocol: Some(protocol.api_name().to_owned()),
                    ..ServicePort::default()
                })
            })
            .collect();
        Service {
            metadata: self.meta(
                Some(self.namespace(&pod.namespace)),
                &pod.name,
                &model::Labels::new(),
            ),
            spec: Some(ServiceSpec {
                selector: Some(BTreeMap::from([
                    (PROBE_LABEL.to_owned(), pod.name.clone()),
                    (RUN_LABEL.to_owned(), self.run_id.clone()),
                ])),
                ports: Some(ports),
                publish_not_ready_addresses: Some(true),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        }
    }

    /// A case's policy in the cluster's namespaces: its own namespace and
    /// every `kubernetes.io/metadata.name` value it selects are mapped, it
    /// carries the run labels so cleanup finds it, and its `policyTypes`
    /// are explicit (`policy_types`).
    pub fn policy_object(&self, policy: &NetworkPolicy) -> NetworkPolicy {
        let mut policy = policy.clone();
        let namespace = policy
            .metadata
            .namespace
            .as_deref()
            .map(|n| self.namespace(n));
        let mut labels = policy.metadata.labels.take().unwrap_or_default();
        labels.extend(self.labels());
        policy.metadata = ObjectMeta {
            name: policy.metadata.name.take(),
            namespace,
            labels: Some(labels),
            annotations: policy.metadata.annotations.take(),
            ..ObjectMeta::default()
        };
        if let Some(spec) = policy.spec.as_mut() {
            spec.policy_types = Some(policy_types(spec));
        }
        if self.prefix.is_empty() {
            return policy;
        }
        if let Some(spec) = policy.spec.as_mut() {
            let peers = spec
                .ingress
                .iter_mut()
                .flatten()
                .flat_map(|rule| rule.from.iter_mut().flatten())
                .chain(
                    spec.egress
                        .iter_mut()
                        .flatten()
                        .flat_map(|rule| rule.to.iter_mut().flatten()),
                );
            for peer in peers {
                if let Some(selector) = peer.namespace_selector.as_mut() {
                    self.map_name_selector(selector);
                }
            }
        }
        policy
    }

    fn map_name_selector(&self, selector: &mut LabelSelector) {
        if let Some(value) = selector
            .match_labels
            .as_mut()
            .and_then(|m| m.get_mut(NAMESPACE_NAME_LABEL))
        {
            *value = self.namespace(value);
        }
        for expression in selector.match_expressions.iter_mut().flatten() {
            if expression.key == NAMESPACE_NAME_LABEL {
                for value in expression.values.iter_mut().flatten() {
                    *value = self.namespace(value);
                }
            }
        }
    }
}

/// `policyTypes` as written, or the API server's default when it is absent
/// or empty: Ingress always, Egress when `egress` has a rule
/// (kubernetes pkg/apis/networking/v1/defaults.go, SetDefaults_NetworkPolicy).
/// Sent explicitly because server-side apply keeps a defaulted field that no
/// manager owns: re-applying a policy that omits it would leave the old
/// default in force, and egress rules added since would be ignored.
/// The API's defaulting rule, restated here, not the oracle's decision code.
pub fn policy_types(spec: &k8s_openapi::api::networking::v1::NetworkPolicySpec) -> Vec<String> {
    match &spec.policy_types {
        Some(types) if !types.is_empty() => types.clone(),
        _ => {
            let mut types = vec!["Ingress".to_owned()];
            if spec.egress.as_ref().is_some_and(|rules| !rules.is_empty()) {
                types.push("Egress".to_owned());
            }
            types
        }
    }
}

/// Everything the world needs, in creation order: namespaces, pods, Services.
pub fn world_objects(
    names: &Names,
    model: &Model,
    image: &str,
    pull: &str,
    service_protocols: &[Protocol],
) -> (Vec<Namespace>, Vec<Pod>, Vec<Service>) {
    let namespaces = model
        .namespaces
        .iter()
        .map(|n| names.namespace_object(n))
        .collect();
    let pods = model
        .pods
        .iter()
        .map(|p| names.pod_object(p, image, pull))
        .collect();
    let services = model
        .pods
        .iter()
        .map(|p| names.service_object(&p.id, service_protocols))
        .collect();
    (namespaces, pods, services)
}
