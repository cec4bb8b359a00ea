//! Semantics the case library cannot reach: the model gives every pod the
//! same ports, so these build their own worlds.

use k8s_openapi::api::networking::v1::NetworkPolicy;

use super::{Oracle, policy_types};
use crate::backend::oracle::addresses;
use crate::model::{Change, ContainerPort, Model, PodId, Probe, Protocol, World};
use crate::truth::Reach;

fn policy(json: serde_json::Value) -> NetworkPolicy {
    serde_json::from_value(json).expect("a NetworkPolicy")
}

fn world_with(model: Model, policies: &[NetworkPolicy]) -> World {
    let addresses = addresses(&model);
    let mut world = World::new(model, addresses);
    for p in policies {
        world
            .apply(&Change::Apply(Box::new(p.clone())))
            .expect("applies");
    }
    world
}

fn reach(world: &World, from: &str, to: &str, probe: &str) -> Reach {
    let pod = |text: &str| {
        let (ns, name) = text.split_once('/').expect("ns/pod");
        world
            .model
            .pod(&PodId::new(ns, name))
            .expect("a model pod")
            .clone()
    };
    let oracle = Oracle::new(world).expect("compiles");
    oracle.reach(&pod(from), &pod(to), probe.parse().expect("a probe"))
}

#[test]
fn an_egress_named_port_resolves_on_the_destination_pod() {
    let mut model = Model::default();
    // Only y/b calls its port 81 `web`; x/a (the source) has no such name.
    let y_b = model
        .pods
        .iter_mut()
        .find(|p| p.id == PodId::new("y", "b"))
        .expect("y/b");
    y_b.ports.push(ContainerPort {
        name: "web".into(),
        port: 81,
        protocol: Protocol::Tcp,
    });
    let egress = policy(serde_json::json!({
        "metadata": {"name": "web-only", "namespace": "x"},
        "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "egress": [{"ports": [{"port": "web"}]}]}
    }));
    let world = world_with(model, &[egress]);
    assert_eq!(reach(&world, "x/a", "y/b", "tcp/81"), Reach::Allowed);
    assert_eq!(reach(&world, "x/a", "y/b", "tcp/80"), Reach::Denied);
    assert_eq!(
        reach(&world, "x/a", "y/c", "tcp/81"),
        Reach::Denied,
        "y/c has no port named web"
    );
}

#[test]
fn an_ingress_named_port_resolves_on_the_selected_pod_with_its_protocol() {
    let mut model = Model::default();
    let x_a = model
        .pods
        .iter_mut()
        .find(|p| p.id == PodId::new("x", "a"))
        .expect("x/a");
    x_a.ports.push(ContainerPort {
        name: "dns".into(),
        port: 80,
        protocol: Protocol::Udp,
    });
    let ingress = policy(serde_json::json!({
        "metadata": {"name": "dns", "namespace": "x"},
        "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": "dns", "protocol": "UDP"}, {"port": "dns"}]}]}
    }));
    let world = world_with(model, &[ingress]);
    assert_eq!(reach(&world, "y/a", "x/a", "udp/80"), Reach::Allowed);
    assert_eq!(
        reach(&world, "y/a", "x/a", "tcp/80"),
        Reach::Denied,
        "`dns` is UDP only"
    );
    assert_eq!(
        reach(&world, "y/a", "x/b", "udp/80"),
        Reach::Denied,
        "x/b has no port named dns"
    );
}

#[test]
fn policy_types_default_from_the_egress_rules_present() {
    let types = |spec: serde_json::Value| {
        policy_types(&policy(
            serde_json::json!({"metadata": {"name": "p", "namespace": "x"}, "spec": spec}),
        ))
    };
    assert_eq!(types(serde_json::json!({})), (true, false));
    assert_eq!(
        types(serde_json::json!({"egress": []})),
        (true, false),
        "an empty egress list adds nothing"
    );
    assert_eq!(types(serde_json::json!({"egress": [{}]})), (true, true));
    assert_eq!(
        types(serde_json::json!({"policyTypes": [], "egress": [{}]})),
        (true, true)
    );
    assert_eq!(
        types(serde_json::json!({"policyTypes": ["Egress"], "ingress": [{}]})),
        (false, true)
    );
}

#[test]
fn an_ip_block_matches_pod_addresses_minus_its_exceptions() {
    let model = Model::default();
    let ips = addresses(&model);
    let y_b = ips.ips[&PodId::new("y", "b")].v4;
    let ingress = policy(serde_json::json!({
        "metadata": {"name": "all-but-y-b", "namespace": "x"},
        "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [format!("{y_b}/32")]}}]}]}
    }));
    let world = world_with(model, &[ingress]);
    assert_eq!(reach(&world, "y/a", "x/a", "tcp/80"), Reach::Allowed);
    assert_eq!(reach(&world, "y/b", "x/a", "tcp/80"), Reach::Denied);
}

#[test]
fn an_explanation_agrees_with_the_table_for_every_cell() {
    let ingress = policy(serde_json::json!({
        "metadata": {"name": "from-y", "namespace": "x"},
        "spec": {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}], "ports": [{"port": 80, "endPort": 81}]}]}
    }));
    let egress = policy(serde_json::json!({
        "metadata": {"name": "to-x", "namespace": "z"},
        "spec": {"podSelector": {}, "egress": [{"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"pod": "a"}}}]}]}
    }));
    let world = world_with(Model::default(), &[ingress, egress]);
    let oracle = Oracle::new(&world).expect("compiles");
    for probe in Probe::DEFAULTS {
        let table = oracle.table(probe);
        for (i, from) in world.model.pods.iter().enumerate() {
            for (j, to) in world.model.pods.iter().enumerate() {
                assert_eq!(
                    oracle.explain(from, to, probe).reach,
                    table.get(i, j),
                    "{} → {} {probe}",
                    from.id,
                    to.id
                );
            }
        }
    }
}

#[test]
fn whole_tables_agree_with_cell_by_cell_answers_on_generated_worlds() {
    for seed in 0..20 {
        let world = crate::bench::world::world(60, 25, seed);
        let oracle = Oracle::new(&world).expect("compiles");
        for probe in [
            Probe::new(Protocol::Tcp, 80),
            Probe::new(Protocol::Tcp, 81),
            Probe::new(Protocol::Udp, 80),
        ] {
            let table = oracle.table(probe);
            for (i, from) in world.model.pods.iter().enumerate() {
                for (j, to) in world.model.pods.iter().enumerate() {
                    assert_eq!(
                        table.get(i, j),
                        oracle.reach(from, to, probe),
                        "seed {seed}: {} → {} {probe}",
                        from.id,
                        to.id
                    );
                }
            }
        }
    }
}
