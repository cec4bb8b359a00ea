//! Random NetworkPolicies over the model: every kind of selector, peer and
//! port the API offers, in the shapes case authors write them.

use super::rng::Rng;
use super::yaml::Yaml;
use crate::model::{NAMESPACE_NAME_LABEL, NAMESPACES, POD_NAMES};

/// A label that label steps add and remove, so selectors on it change matches.
pub const TEAM: &str = "team";
pub const TEAMS: [&str; 2] = ["blue", "red"];

/// Prefix lengths for `{{ip ns/pod}}/N` blocks: one pod, a pair, a handful,
/// a node's (netns) or a namespace's (oracle) /24, every pod.
const POD_PREFIXES: [u8; 5] = [32, 31, 30, 24, 16];
/// `except` blocks inside `{{ip …}}/16` or `0.0.0.0/0`: every model pod's
/// address shares its /16 on every backend, so these stay strictly inside.
const EXCEPT_PREFIXES: [u8; 3] = [32, 30, 24];
/// The same for `{{ip6 ns/pod}}/N`: one pod, a pair, a handful, a node's
/// (netns) or a namespace's (oracle) /64, every pod (their common /48).
const POD_PREFIXES_V6: [u8; 5] = [128, 127, 126, 64, 48];
/// `except` blocks inside `{{ip6 …}}/48` or `::/0`.
const EXCEPT_PREFIXES_V6: [u8; 3] = [128, 126, 64];
/// Of every hundred ipBlocks, this many are IPv6: the differential covers
/// both families, and dual runs judge blocks of each against both.
const V6_BLOCKS: u64 = 40;

/// One family's ipBlock vocabulary.
struct Blocks {
    template: &'static str,
    prefixes: &'static [u8],
    wide: u8,
    everything: &'static str,
    excepts: &'static [u8],
}

const V4_BLOCKS: Blocks = Blocks {
    template: "ip",
    prefixes: &POD_PREFIXES,
    wide: 16,
    everything: "0.0.0.0/0",
    excepts: &EXCEPT_PREFIXES,
};

const V6_BLOCKS_OF: Blocks = Blocks {
    template: "ip6",
    prefixes: &POD_PREFIXES_V6,
    wide: 48,
    everything: "::/0",
    excepts: &EXCEPT_PREFIXES_V6,
};

fn pod_id(rng: &mut Rng) -> String {
    format!("{}/{}", rng.pick(&NAMESPACES), rng.pick(&POD_NAMES))
}

/// A pod selector: everything, by name, by team, or by expression.
pub fn pod_selector(rng: &mut Rng) -> Yaml {
    let pod = || Yaml::str("pod");
    match rng.weighted(&[4, 5, 2, 2, 2, 2, 1]) {
        0 => Yaml::map::<&str>([]),
        1 => Yaml::map([(
            "matchLabels",
            Yaml::map([("pod", Yaml::str(*rng.pick(&POD_NAMES)))]),
        )]),
        2 => Yaml::map([(
            "matchLabels",
            Yaml::map([(TEAM, Yaml::str(*rng.pick(&TEAMS)))]),
        )]),
        3 => {
            let n = 1 + rng.below(2);
            expression(pod(), "In", rng.subset(&POD_NAMES, n))
        }
        4 => expression(pod(), "NotIn", rng.subset(&POD_NAMES, 1)),
        5 => {
            let operator = *rng.pick(&["Exists", "DoesNotExist"]);
            expression(Yaml::str(TEAM), operator, Vec::new())
        }
        _ => Yaml::map([
            (
                "matchLabels",
                Yaml::map([("pod", Yaml::str(*rng.pick(&POD_NAMES)))]),
            ),
            (
                "matchExpressions",
                Yaml::Seq(vec![expression_item(
                    Yaml::str(TEAM),
                    "DoesNotExist",
                    Vec::new(),
                )]),
            ),
        ]),
    }
}

/// A namespace selector: everything, by the `ns` label, by the API server's
/// name label, by team, or by expression.
pub fn namespace_selector(rng: &mut Rng) -> Yaml {
    match rng.weighted(&[3, 4, 3, 2, 2]) {
        0 => Yaml::map::<&str>([]),
        1 => Yaml::map([(
            "matchLabels",
            Yaml::map([("ns", Yaml::str(*rng.pick(&NAMESPACES)))]),
        )]),
        2 => {
            let n = 1 + rng.below(2);
            let names = rng.subset(&NAMESPACES, n);
            expression(Yaml::str(NAMESPACE_NAME_LABEL), "In", names)
        }
        3 => Yaml::map([(
            "matchLabels",
            Yaml::map([(TEAM, Yaml::str(*rng.pick(&TEAMS)))]),
        )]),
        _ => expression(Yaml::str("ns"), "NotIn", rng.subset(&NAMESPACES, 1)),
    }
}

fn expression_item(key: Yaml, operator: &str, values: Vec<&str>) -> Yaml {
    let mut entries = vec![("key", key), ("operator", Yaml::str(operator))];
    if !values.is_empty() {
        entries.push(("values", Yaml::strs(values)));
    }
    Yaml::map(entries)
}

fn expression(key: Yaml, operator: &str, values: Vec<&str>) -> Yaml {
    Yaml::map([(
        "matchExpressions",
        Yaml::Seq(vec![expression_item(key, operator, values)]),
    )])
}

/// One peer of every kind the API has.
pub fn peer(rng: &mut Rng) -> Yaml {
    match rng.weighted(&[4, 3, 3, 2, 2]) {
        0 => Yaml::map([("podSelector", pod_selector(rng))]),
        1 => Yaml::map([("namespaceSelector", namespace_selector(rng))]),
        2 => Yaml::map([
            ("namespaceSelector", namespace_selector(rng)),
            ("podSelector", pod_selector(rng)),
        ]),
        3 => {
            let family = blocks(rng);
            let prefix = rng.pick(family.prefixes);
            Yaml::map([(
                "ipBlock",
                Yaml::map([(
                    "cidr",
                    Yaml::str(format!(
                        "{{{{{} {}}}}}/{prefix}",
                        family.template,
                        pod_id(rng)
                    )),
                )]),
            )])
        }
        _ => {
            let family = blocks(rng);
            let cidr = if rng.chance(50) {
                family.everything.to_owned()
            } else {
                format!(
                    "{{{{{} {}}}}}/{}",
                    family.template,
                    pod_id(rng),
                    family.wide
                )
            };
            let excepts: Vec<String> = (0..1 + rng.below(2))
                .map(|_| {
                    format!(
                        "{{{{{} {}}}}}/{}",
                        family.template,
                        pod_id(rng),
                        rng.pick(family.excepts)
                    )
                })
                .collect();
            Yaml::map([(
                "ipBlock",
                Yaml::map([("cidr", Yaml::str(cidr)), ("except", Yaml::strs(excepts))]),
            )])
        }
    }
}

/// The family of the next ipBlock.
fn blocks(rng: &mut Rng) -> &'static Blocks {
    if rng.chance(V6_BLOCKS) {
        &V6_BLOCKS_OF
    } else {
        &V4_BLOCKS
    }
}

/// One entry of a rule's `ports`: numeric, named, a range, or a bare protocol.
pub fn port(rng: &mut Rng) -> Yaml {
    let protocol = |rng: &mut Rng| Yaml::str(*rng.pick(&["TCP", "UDP", "SCTP"]));
    let served = |rng: &mut Rng| Yaml::Int(i64::from(*rng.pick(&[80u16, 81])));
    match rng.weighted(&[4, 4, 3, 3, 1, 1]) {
        0 => Yaml::map([("port", served(rng))]),
        1 => Yaml::map([("protocol", protocol(rng)), ("port", served(rng))]),
        2 => {
            // Named ports resolve per protocol: `serve-80-udp` under TCP matches nothing.
            let name = format!(
                "serve-{}-{}",
                rng.pick(&[80, 81]),
                rng.pick(&["tcp", "udp", "sctp"])
            );
            let mut entries = Vec::new();
            if rng.chance(70) {
                entries.push(("protocol", protocol(rng)));
            }
            entries.push(("port", Yaml::str(name)));
            Yaml::map(entries)
        }
        3 => {
            let (start, end) =
                *rng.pick(&[(80, 81), (1, 80), (81, 65535), (79, 80), (81, 81), (82, 90)]);
            Yaml::map([
                ("protocol", protocol(rng)),
                ("port", Yaml::Int(start)),
                ("endPort", Yaml::Int(end)),
            ])
        }
        4 => Yaml::map([("protocol", protocol(rng))]),
        _ => Yaml::map([("port", Yaml::Int(i64::from(*rng.pick(&[8080u16, 443]))))]),
    }
}

/// A rule: everything, peers, ports, or both.
fn rule(rng: &mut Rng, peers_field: &str) -> Yaml {
    let mut entries = Vec::new();
    let shape = rng.weighted(&[1, 4, 2, 4]);
    if shape == 1 || shape == 3 {
        let peers: Vec<Yaml> = (0..1 + rng.below(2)).map(|_| peer(rng)).collect();
        entries.push((peers_field, Yaml::Seq(peers)));
    }
    if shape == 2 || shape == 3 {
        let ports: Vec<Yaml> = (0..1 + rng.below(2)).map(|_| port(rng)).collect();
        entries.push(("ports", Yaml::Seq(ports)));
    }
    Yaml::map(entries)
}

/// The rules of one direction: absent, `[]`, or one or two rules.
fn rules(rng: &mut Rng, peers_field: &str) -> Option<Yaml> {
    match rng.weighted(&[2, 1, 5, 2]) {
        0 => None,
        1 => Some(Yaml::Seq(Vec::new())),
        n => Some(Yaml::Seq(
            (0..n - 1).map(|_| rule(rng, peers_field)).collect(),
        )),
    }
}

/// A whole policy named `name` in `namespace`.
pub fn policy(rng: &mut Rng, namespace: &str, name: &str) -> Yaml {
    let selector = pod_selector(rng);
    let mut spec = Vec::new();
    // `podSelector` may be left out: Kubernetes defaults it to `{}`.
    if selector != Yaml::map::<&str>([]) || rng.chance(70) {
        spec.push(("podSelector", selector));
    }
    let types: &[&str] = match rng.weighted(&[3, 3, 2, 3]) {
        0 => &[],
        1 => &["Ingress"],
        2 => &["Egress"],
        _ => &["Ingress", "Egress"],
    };
    if !types.is_empty() {
        spec.push(("policyTypes", Yaml::strs(types.iter().copied())));
    }
    // Mostly rules for the directions the policy covers; sometimes rules it ignores.
    let mut wants = |t: &str| types.is_empty() || types.contains(&t) || rng.chance(15);
    let (want_ingress, want_egress) = (wants("Ingress"), wants("Egress"));
    if want_ingress && let Some(ingress) = rules(rng, "from") {
        spec.push(("ingress", ingress));
    }
    if want_egress && let Some(egress) = rules(rng, "to") {
        spec.push(("egress", egress));
    }
    Yaml::map([
        ("apiVersion", Yaml::str("networking.k8s.io/v1")),
        ("kind", Yaml::str("NetworkPolicy")),
        (
            "metadata",
            Yaml::map([
                ("name", Yaml::str(name)),
                ("namespace", Yaml::str(namespace)),
            ]),
        ),
        ("spec", Yaml::map(spec)),
    ])
}
