//! Controller mode fed through reflector stores, with no HTTP: watcher
//! events go into the same `Store`s the controller reads, and a fake apply
//! records what would reach nft.

use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::runtime::reflector::{self, Store, store::Writer};
use kube::runtime::watcher::Event;
use serde_json::json;

use super::cni;
use super::index::{Index, pod_entry};
use super::{Outcome, Reconciler};
use crate::command::CommandError;
use crate::nft::ApplyError;

fn pod(namespace: &str, name: &str, ip: &str, node: &str, labels: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"namespace": namespace, "name": name, "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "probe", "ports": [{"name": "serve-80-tcp", "containerPort": 80, "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "podIP": ip}
    }))
    .unwrap()
}

fn namespace(name: &str) -> Namespace {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"ns": name}}})).unwrap()
}

fn deny_all(namespace: &str) -> NetworkPolicy {
    serde_json::from_value(json!({
        "metadata": {"namespace": namespace, "name": "deny"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}
    }))
    .unwrap()
}

/// The three stores of a controller, and their writers.
struct Stores {
    pods: (Store<Pod>, Writer<Pod>),
    namespaces: (Store<Namespace>, Writer<Namespace>),
    policies: (Store<NetworkPolicy>, Writer<NetworkPolicy>),
}

impl Stores {
    fn new() -> Stores {
        let mut stores = Stores {
            pods: reflector::store(),
            namespaces: reflector::store(),
            policies: reflector::store(),
        };
        // The first list, as a watcher delivers it.
        for ns in ["x", "y"] {
            stores
                .namespaces
                .1
                .apply_watcher_event(&Event::Apply(namespace(ns)));
        }
        stores.pods.1.apply_watcher_event(&Event::Apply(pod(
            "x",
            "a",
            "10.244.1.10",
            "node-1",
            json!({"pod": "a"}),
        )));
        stores.pods.1.apply_watcher_event(&Event::Apply(pod(
            "y",
            "b",
            "10.244.2.11",
            "node-2",
            json!({"pod": "b"}),
        )));
        stores
    }

    fn index(&self) -> Index {
        Index::from_objects(
            self.pods.0.state().iter().map(AsRef::as_ref),
            self.namespaces.0.state().iter().map(AsRef::as_ref),
            self.policies.0.state().iter().map(AsRef::as_ref),
        )
    }
}

#[test]
fn a_policy_event_is_compiled_and_applied_once_and_reconcile_is_idempotent() {
    let mut stores = Stores::new();
    let mut reconciler = Reconciler::new("node-1");
    let mut applied: Vec<String> = Vec::new();
    let mut apply = |text: &str| -> Result<(), ApplyError> {
        applied.push(text.to_owned());
        Ok(())
    };
    assert!(matches!(
        reconciler.reconcile(&stores.index(), &mut apply),
        Outcome::Applied { generation: 1, .. }
    ));
    assert_eq!(
        reconciler.reconcile(&stores.index(), &mut apply),
        Outcome::Unchanged,
        "nothing changed"
    );

    stores
        .policies
        .1
        .apply_watcher_event(&Event::Apply(deny_all("x")));
    assert!(matches!(
        reconciler.reconcile(&stores.index(), &mut apply),
        Outcome::Applied { generation: 2, .. }
    ));
    // A change on another node's pod does not change this node's ruleset.
    stores.pods.1.apply_watcher_event(&Event::Apply(pod(
        "y",
        "b",
        "10.244.2.11",
        "node-2",
        json!({"pod": "b", "v": "2"}),
    )));
    assert_eq!(
        reconciler.reconcile(&stores.index(), &mut apply),
        Outcome::Unchanged
    );

    stores
        .policies
        .1
        .apply_watcher_event(&Event::Delete(deny_all("x")));
    assert!(matches!(
        reconciler.reconcile(&stores.index(), &mut apply),
        Outcome::Applied { .. }
    ));

    assert_eq!(applied.len(), 3);
    assert!(!applied[0].contains("10.244.1.10 : drop"), "{}", applied[0]);
    assert!(applied[1].contains("10.244.1.10 : drop"), "{}", applied[1]);
    assert!(!applied[2].contains("10.244.1.10 : drop"), "{}", applied[2]);
}

#[test]
fn a_failed_apply_keeps_nothing_in_force_and_is_retried_without_a_change() {
    let stores = Stores::new();
    let mut reconciler = Reconciler::new("node-1");
    let mut attempts = 0;
    let mut apply = |_: &str| -> Result<(), ApplyError> {
        attempts += 1;
        if attempts == 1 {
            return Err(CommandError::Failed {
                command: "nft -f -".into(),
                status: "exit status: 1".into(),
                stderr: "Error: busy".into(),
            });
        }
        Ok(())
    };
    let failed = reconciler.reconcile(&stores.index(), &mut apply);
    assert!(
        matches!(&failed, Outcome::Failed { error, .. } if error.contains("Error: busy")),
        "{failed:?}"
    );
    assert!(matches!(
        reconciler.reconcile(&stores.index(), &mut apply),
        Outcome::Applied { .. }
    ));
}

#[test]
fn the_index_of_the_stores_is_the_snapshot_local_mode_would_read() {
    let mut stores = Stores::new();
    stores
        .policies
        .1
        .apply_watcher_event(&Event::Apply(deny_all("x")));
    let snapshot = stores.index().snapshot(7);
    let expected = json!({
        "generation": 7,
        "namespaces": [{"name": "x", "labels": {"ns": "x"}}, {"name": "y", "labels": {"ns": "y"}}],
        "pods": [
            {"namespace": "x", "name": "a", "node": "node-1", "ip": "10.244.1.10", "labels": {"pod": "a"},
             "ports": [{"name": "serve-80-tcp", "port": 80, "protocol": "TCP"}]},
            {"namespace": "y", "name": "b", "node": "node-2", "ip": "10.244.2.11", "labels": {"pod": "b"},
             "ports": [{"name": "serve-80-tcp", "port": 80, "protocol": "TCP"}]}
        ],
        "policies": [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                      "metadata": {"namespace": "x", "name": "deny"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}]
    });
    assert_eq!(serde_json::to_value(&snapshot).unwrap(), expected);
}

#[test]
fn host_network_unscheduled_and_finished_pods_are_not_in_the_index() {
    let mut host = pod("x", "h", "172.18.0.2", "node-1", json!({}));
    host.spec.as_mut().unwrap().host_network = Some(true);
    assert_eq!(pod_entry(&host), None);
    let mut done = pod("x", "d", "10.244.1.3", "node-1", json!({}));
    done.status.as_mut().unwrap().phase = Some("Succeeded".into());
    assert_eq!(pod_entry(&done), None);
    let mut pending = pod("x", "p", "10.244.1.4", "node-1", json!({}));
    pending.status.as_mut().unwrap().pod_ip = None;
    assert_eq!(pod_entry(&pending), None);
    let mut index = Index::default();
    index.apply_pod(&pod("x", "p", "10.244.1.4", "node-1", json!({})));
    index.apply_pod(&pending);
    assert!(
        index.snapshot(1).pods.is_empty(),
        "a pod that loses its IP leaves the index"
    );
}

fn node(name: &str, cidr: &str, ip: &str) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"podCIDR": cidr},
        "status": {"addresses": [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": ip}]}
    }))
    .unwrap()
}

#[test]
fn as_the_cni_each_node_gets_ptp_from_its_pod_cidr_and_routes_to_the_others() {
    let nodes = [
        node("cp", "10.244.0.0/24", "172.18.0.2"),
        node("w1", "10.244.1.0/24", "172.18.0.3"),
        node("w2", "10.244.2.0/24", "172.18.0.4"),
    ];
    let routes = cni::routes("w1", nodes.iter());
    let args: Vec<String> = routes.iter().map(|r| r.ip_args().join(" ")).collect();
    assert_eq!(
        args,
        [
            "route replace 10.244.0.0/24 via 172.18.0.2",
            "route replace 10.244.2.0/24 via 172.18.0.4"
        ]
    );
    let config: serde_json::Value =
        serde_json::from_str(&cni::conflist("10.244.1.0/24", 1500)).unwrap();
    assert_eq!(config["plugins"][0]["type"], "ptp");
    assert_eq!(config["plugins"][0]["ipam"]["type"], "host-local");
    assert_eq!(
        config["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
        "10.244.1.0/24"
    );
    assert_eq!(
        config["plugins"][0]["ipMasq"], false,
        "pod source addresses must survive for policies"
    );
}

#[test]
fn pods_get_the_mtu_of_the_nodes_default_route_interface() {
    // A kind node on a Docker network with MTU 1450 (a cloud VM's, say).
    let routes = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n\
                  eth0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
                  eth1\t00000000\t010012AC\t0003\t0\t0\t200\t00000000\t0\t0\t0\n\
                  eth0\t00000000\t010012AC\t0003\t0\t0\t100\t00000000\t0\t0\t0\n";
    assert_eq!(
        cni::default_route_interface(routes).as_deref(),
        Some("eth0")
    );
    let read = |path: &str| match path {
        "/proc/net/route" => Some(routes.to_owned()),
        "/sys/class/net/eth0/mtu" => Some("1450\n".to_owned()),
        _ => None,
    };
    assert_eq!(cni::node_mtu(read), Ok(1450));
    let config: serde_json::Value =
        serde_json::from_str(&cni::conflist("10.244.1.0/24", 1450)).unwrap();
    assert_eq!(config["plugins"][0]["mtu"], 1450);
    assert!(
        cni::node_mtu(|_| None).is_err(),
        "unreadable: the caller falls back"
    );
}

#[test]
fn a_dual_stack_pod_is_entered_with_every_address_of_its_pod_ips() {
    let mut dual = pod("x", "a", "10.244.1.10", "node-1", json!({"pod": "a"}));
    dual.status.as_mut().unwrap().pod_ips = Some(
        ["10.244.1.10", "fd00:10:244:1::a", "not-an-address"]
            .iter()
            .map(|ip| k8s_openapi::api::core::v1::PodIP { ip: (*ip).into() })
            .collect(),
    );
    let entry = pod_entry(&dual).expect("an entry");
    assert_eq!(entry.ip.to_string(), "10.244.1.10");
    let addresses: Vec<String> = entry.addresses().iter().map(ToString::to_string).collect();
    assert_eq!(addresses, ["10.244.1.10", "fd00:10:244:1::a"]);
    // A single-stack pod keeps `ip` alone.
    let single = pod_entry(&pod("x", "b", "10.244.1.11", "node-1", json!({}))).expect("an entry");
    assert!(single.ips.is_empty());
}
