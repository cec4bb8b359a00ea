//! Generated worlds for benchmarks: many pods, many policies, reproducible
//! from a seed. Shaped like a multi-tenant cluster: tenants own namespaces,
//! apps own pods, and policies admit other apps by label, namespace, CIDR and
//! port, so selectors and port rules are exercised the way real ones are.

use std::net::Ipv4Addr;

use k8s_openapi::api::networking::v1::NetworkPolicy;

use crate::model::{
    Addresses, ContainerPort, Labels, Model, Namespace, Pod, PodId, PodIps, Protocol, World,
};

/// Pods per namespace and distinct apps per namespace in generated worlds.
const PODS_PER_NAMESPACE: usize = 20;
const APPS: usize = 5;
const TENANTS: usize = 4;

/// SplitMix64: tiny, fast, and the same sequence on every machine.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

/// A model of `pods` pods in namespaces of twenty, with labels and named ports.
pub fn model(pods: usize) -> Model {
    let namespaces: Vec<Namespace> = (0..pods.div_ceil(PODS_PER_NAMESPACE))
        .map(|i| {
            let name = format!("ns-{i}");
            let labels = Labels::from([
                ("kubernetes.io/metadata.name".to_owned(), name.clone()),
                ("tenant".to_owned(), format!("t{}", i % TENANTS)),
            ]);
            Namespace { name, labels }
        })
        .collect();
    let ports = vec![
        ContainerPort {
            name: "http".into(),
            port: 80,
            protocol: Protocol::Tcp,
        },
        ContainerPort {
            name: "metrics".into(),
            port: 81,
            protocol: Protocol::Tcp,
        },
        ContainerPort {
            name: "dns".into(),
            port: 80,
            protocol: Protocol::Udp,
        },
    ];
    let pods = (0..pods)
        .map(|i| {
            let ns = &namespaces[i / PODS_PER_NAMESPACE].name;
            let labels = Labels::from([
                ("app".to_owned(), format!("app-{}", i % APPS)),
                ("pod".to_owned(), format!("p{i}")),
            ]);
            Pod {
                id: PodId::new(ns, &format!("p{i}")),
                labels,
                ports: ports.clone(),
            }
        })
        .collect();
    Model { namespaces, pods }
}

/// Addresses: 10.0.0.0/8, one per pod in model order.
pub fn addresses(model: &Model) -> Addresses {
    let mut addresses = Addresses::default();
    for (i, pod) in model.pods.iter().enumerate() {
        let v4 = Ipv4Addr::from(0x0A00_0000 + i as u32 + 1);
        addresses
            .ips
            .insert(pod.id.clone(), PodIps { v4, v6: None });
    }
    addresses
}

/// `count` policies over `model`, drawn from `seed`.
pub fn policies(
    model: &Model,
    addresses: &Addresses,
    count: usize,
    seed: u64,
) -> Vec<NetworkPolicy> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|i| policy(&mut rng, model, addresses, i))
        .collect()
}

fn policy(rng: &mut Rng, model: &Model, addresses: &Addresses, index: usize) -> NetworkPolicy {
    let namespace = &model.namespaces[rng.below(model.namespaces.len())].name;
    let app = format!("app-{}", rng.below(APPS));
    let peer = |rng: &mut Rng| -> serde_json::Value {
        match rng.below(4) {
            0 => {
                serde_json::json!({"podSelector": {"matchLabels": {"app": format!("app-{}", rng.below(APPS))}}})
            }
            1 => {
                serde_json::json!({"namespaceSelector": {"matchLabels": {"tenant": format!("t{}", rng.below(TENANTS))}}})
            }
            2 => serde_json::json!({
                "namespaceSelector": {"matchExpressions": [{"key": "tenant", "operator": "In", "values": [format!("t{}", rng.below(TENANTS))]}]},
                "podSelector": {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": [format!("app-{}", rng.below(APPS))]}]}
            }),
            _ => {
                let pod = &model.pods[rng.below(model.pods.len())];
                let ip = addresses.ips[&pod.id].v4;
                serde_json::json!({"ipBlock": {"cidr": format!("{ip}/28"), "except": [format!("{ip}/32")]}})
            }
        }
    };
    let port = |rng: &mut Rng| -> serde_json::Value {
        match rng.below(4) {
            0 => serde_json::json!({"port": 80}),
            1 => serde_json::json!({"port": "metrics"}),
            2 => serde_json::json!({"protocol": "UDP", "port": "dns"}),
            _ => serde_json::json!({"port": 80, "endPort": 81}),
        }
    };
    let rule = |rng: &mut Rng, peers_key: &str| -> serde_json::Value {
        let peers: Vec<_> = (0..1 + rng.below(2)).map(|_| peer(rng)).collect();
        let ports: Vec<_> = (0..rng.below(3)).map(|_| port(rng)).collect();
        serde_json::json!({peers_key: peers, "ports": ports})
    };
    let ingress: Vec<_> = (0..rng.below(3)).map(|_| rule(rng, "from")).collect();
    let mut spec =
        serde_json::json!({"podSelector": {"matchLabels": {"app": app}}, "ingress": ingress});
    if rng.chance(30) {
        let egress: Vec<_> = (0..1 + rng.below(2)).map(|_| rule(rng, "to")).collect();
        spec["egress"] = egress.into();
        spec["policyTypes"] = serde_json::json!(["Ingress", "Egress"]);
    }
    let json = serde_json::json!({"metadata": {"name": format!("policy-{index}"), "namespace": namespace}, "spec": spec});
    serde_json::from_value(json).expect("generated policies are valid NetworkPolicy objects")
}

/// A world of `pods` pods and `policies` policies.
pub fn world(pods: usize, policies: usize, seed: u64) -> World {
    let model = model(pods);
    let addresses = addresses(&model);
    let generated = self::policies(&model, &addresses, policies, seed);
    let mut world = World::new(model, addresses);
    for policy in generated {
        world
            .apply(&crate::model::Change::Apply(Box::new(policy)))
            .expect("applying a policy to a world cannot fail");
    }
    world
}
