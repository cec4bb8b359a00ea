use std::net::IpAddr;

use super::*;

const TCP: u8 = 6;
const UDP: u8 = 17;

fn ip(text: &str) -> IpAddr {
    text.parse().expect("an address")
}

/// The committed golden files (tests/golden_files.rs keeps them current).
fn golden_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn golden_text(name: &str) -> String {
    std::fs::read_to_string(golden_dir().join(format!("{name}.nft"))).expect("golden")
}

fn forward(nftables: &Nftables, packet: Packet) -> Verdict {
    nftables.verdict(Hook::Forward, &packet).verdict
}

fn new(src: &str, dst: &str, protocol: u8, port: u16) -> Packet {
    Packet::new_connection(ip(src), ip(dst), protocol, port)
}

#[test]
fn every_golden_ruleset_loads() {
    let mut names: Vec<String> = std::fs::read_dir(golden_dir())
        .expect("golden folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "nft"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        if let Err(error) = Nftables::load(&golden_text(&name)) {
            panic!("{name}.nft: {error}");
        }
    }
}

#[test]
fn a_lookup_walks_the_map_then_the_pod_chain_and_its_set() {
    // x/a accepts tcp/80-81 from x/b, tcp/81 from x/c and y/b (10.244.2.11).
    let nftables = Nftables::load(&golden_text("two-policies-union")).expect("loads");
    let to_a =
        |src: &str, protocol, port| forward(&nftables, new(src, "10.244.1.10", protocol, port));
    assert_eq!(to_a("10.244.1.11", TCP, 80), Verdict::Accept);
    assert_eq!(to_a("10.244.1.11", TCP, 81), Verdict::Accept);
    assert_eq!(to_a("10.244.1.11", TCP, 82), Verdict::Drop);
    assert_eq!(to_a("10.244.1.11", UDP, 80), Verdict::Drop);
    assert_eq!(to_a("10.244.1.12", TCP, 80), Verdict::Drop);
    assert_eq!(to_a("10.244.2.11", TCP, 81), Verdict::Accept);
    assert_eq!(to_a("10.244.2.12", TCP, 81), Verdict::Drop);
    // A pod in no map: the chain's policy decides.
    let trace = nftables.verdict(Hook::Forward, &new("10.244.1.10", "10.244.2.10", TCP, 80));
    assert_eq!(trace.verdict, Verdict::Accept);
    assert_eq!(
        trace.steps.last().map(|s| &**s),
        Some("forward: policy accept")
    );
    let trace = nftables.verdict(Hook::Forward, &new("10.244.1.12", "10.244.1.10", TCP, 80));
    assert_eq!(
        trace.steps.iter().map(|s| &**s).collect::<Vec<_>>(),
        [
            "forward: ip daddr vmap @ingress_v4",
            "in_x_a_c398d2ab: drop"
        ],
        "{trace}"
    );
}

#[test]
fn replies_pass_by_conntrack_and_new_flows_from_an_isolated_pod_do_not() {
    let nftables = Nftables::load(&golden_text("deny-all-ingress")).expect("loads");
    let first = new("10.244.2.10", "10.244.1.10", TCP, 80);
    assert_eq!(forward(&nftables, first), Verdict::Drop);
    // x/a starts a connection out; its answers come back in, to an ingress-isolated pod.
    let out = new("10.244.1.10", "10.244.2.10", TCP, 80);
    assert_eq!(forward(&nftables, out), Verdict::Accept);
    assert_eq!(forward(&nftables, out.reply(CLIENT_PORT)), Verdict::Accept);
    // Established in the original direction is judged again (a deny cuts open flows).
    let again = Packet {
        state: CtState::Established,
        ..first
    };
    assert_eq!(forward(&nftables, again), Verdict::Drop);
    // No conntrack entry: no direction either, so the reply rule cannot match.
    let untracked = Packet {
        state: CtState::Untracked,
        direction: None,
        ..first
    };
    assert_eq!(forward(&nftables, untracked), Verdict::Drop);
}

#[test]
fn an_ip_selector_never_matches_a_packet_of_the_other_family() {
    let nftables = Nftables::load(&golden_text("ipv6")).expect("loads");
    assert_eq!(
        forward(
            &nftables,
            new("fd00:10:244:2::10", "fd00:10:244:1::10", UDP, 9)
        ),
        Verdict::Accept
    );
    assert_eq!(
        forward(
            &nftables,
            new("fd00:10:244:2::11", "fd00:10:244:1::10", UDP, 9)
        ),
        Verdict::Drop
    );
    assert_eq!(
        forward(
            &nftables,
            new("fd00:10:244:7::1", "fd00:10:244:1::10", UDP, 9)
        ),
        Verdict::Accept,
        "inside the last range"
    );
    // An IPv6 packet between addresses that mean something in IPv4 maps only.
    assert_eq!(
        forward(
            &nftables,
            new("::ffff:10.244.9.9", "::ffff:10.244.1.10", TCP, 80)
        ),
        Verdict::Accept
    );
}

const SMALL: &str = "table inet t {
	set s {
		type ipv4_addr . inet_proto . inet_service
		flags interval
		elements = { 10.0.0.0/8 . tcp . 80-90, 192.168.0.1 . 0-255 . 0-65535 }
	}
	map m { type ipv4_addr : verdict; elements = { 10.1.1.1 : jump c, 10.1.1.2 : goto g, 10.1.1.3 : accept } }
	chain first {
		type filter hook forward priority -10; policy accept;
		ip saddr vmap @m
	}
	chain later {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		ip daddr . meta l4proto . th dport @s accept
	}
	chain c {
		ip daddr 10.9.9.9 drop
	}
	chain g {
		return
	}
}
";

#[test]
fn an_unsupported_expression_is_an_error_naming_its_line() {
    let error = Nftables::load(SMALL).unwrap_err();
    assert_eq!(error.line, 18, "{error}");
    assert!(
        error
            .message
            .contains("unsupported expression at `10.9.9.9 drop` in `ip daddr 10.9.9.9 drop`"),
        "{error}"
    );
}

#[test]
fn base_chains_run_by_priority_and_jump_goto_and_return_come_back_where_nft_does() {
    let nftables =
        Nftables::load(&SMALL.replace("ip daddr 10.9.9.9 drop", "continue")).expect("loads");
    let verdict =
        |src: &str, dst: &str, protocol, port| forward(&nftables, new(src, dst, protocol, port));
    // `first` accepts 10.1.1.3 outright, but `later` still runs and its policy drops.
    assert_eq!(verdict("10.1.1.3", "172.16.0.1", TCP, 80), Verdict::Drop);
    assert_eq!(verdict("10.1.1.3", "10.2.0.1", TCP, 85), Verdict::Accept);
    // jump: `c` falls off its end, back into `first`, whose policy accepts; then `later`.
    assert_eq!(verdict("10.1.1.1", "10.2.0.1", TCP, 91), Verdict::Drop);
    assert_eq!(verdict("10.1.1.2", "192.168.0.1", 47, 0), Verdict::Accept);
    let reply = new("172.16.0.1", "10.1.1.3", TCP, 80).reply(CLIENT_PORT);
    assert_eq!(
        forward(&nftables, reply),
        Verdict::Accept,
        "ct state a,b is a list"
    );
}

#[test]
fn what_the_kernel_refuses_is_refused() {
    let valid = SMALL.replace("ip daddr 10.9.9.9 drop", "continue");
    let cases = [
        ("jump c", "jump nowhere", "which does not exist"),
        (
            "192.168.0.1 . 0-255",
            "10.0.0.5 . 0-255",
            "overlaps element 1 (File exists)",
        ),
        ("flags interval\n", "\n", "has no `flags interval`"),
        ("10.0.0.0/8 . tcp", "10.0.0.1/8 . tcp", "host bits are set"),
        (
            "\t\tcontinue",
            "\t\tjump first",
            "jumps to base chain first",
        ),
        (
            "\t\tcontinue",
            "\t\tip daddr . th dport @s",
            "do not match the key of set s",
        ),
        (
            "\t\tcontinue",
            "\t\tip6 saddr vmap @m",
            "do not match the key of map m",
        ),
        (
            "\t\tcontinue",
            "\t\tcounter",
            "unsupported expression at `counter`",
        ),
        ("80-90", "90-80", "the range is reversed"),
        ("priority -10", "priority soon", "is not a priority"),
        (
            "type filter hook forward",
            "type nat hook forward",
            "unsupported chain type",
        ),
        ("table inet t {", "table ip t {", "only `inet` tables"),
    ];
    for (from, to, wanted) in cases {
        assert!(valid.contains(from), "{from}");
        let error = match Nftables::load(&valid.replacen(from, to, 1)) {
            Ok(_) => panic!("accepted with `{to}`"),
            Err(error) => error,
        };
        assert!(error.to_string().contains(wanted), "`{to}`: {error}");
    }
    let looping = valid
        .replace("\t\tcontinue", "\t\tjump g")
        .replace("\t\treturn", "\t\tgoto c");
    let error = Nftables::load(&looping).unwrap_err();
    assert!(error.message.contains("jumps loop"), "{error}");
    let error = Nftables::load("delete table inet netpol\n").unwrap_err();
    assert!(error.message.contains("does not exist"), "{error}");
}

#[test]
fn a_refused_transaction_changes_nothing_and_the_renderers_replaces_the_table() {
    let mut nftables = Nftables::load(&golden_text("deny-all-ingress")).expect("loads");
    let denied = new("10.244.2.10", "10.244.1.10", TCP, 80);
    assert_eq!(forward(&nftables, denied), Verdict::Drop);
    let broken = golden_text("no-policies").replace("policy accept", "policy sometimes");
    assert!(nftables.apply(&broken).is_err());
    assert_eq!(
        forward(&nftables, denied),
        Verdict::Drop,
        "the old table stays"
    );
    nftables.apply(&golden_text("no-policies")).expect("loads");
    assert_eq!(
        forward(&nftables, denied),
        Verdict::Accept,
        "replaced, not merged"
    );
}

#[test]
fn a_connection_crosses_the_client_node_then_the_server_node_and_the_reply_comes_back() {
    let empty = golden_text("no-policies");
    let deny = golden_text("deny-all-ingress");
    let fabric = Fabric {
        nodes: [
            ("node-1".to_owned(), Nftables::load(&deny).expect("loads")),
            ("node-2".to_owned(), Nftables::load(&empty).expect("loads")),
        ]
        .into(),
    };
    let pod = |address: &str, node: &str| Endpoint {
        ip: ip(address),
        node: node.to_owned(),
    };
    let (x_a, remote) = (pod("10.244.1.10", "node-1"), pod("10.244.2.10", "node-2"));
    let inbound = fabric.connect(&remote, &x_a, TCP, 80).expect("nodes known");
    assert!(!inbound.connected());
    assert_eq!(inbound.request.len(), 2, "{inbound}");
    assert!(inbound.reply.is_empty());
    let outbound = fabric.connect(&x_a, &remote, TCP, 80).expect("nodes known");
    assert!(outbound.connected(), "{outbound}");
    assert_eq!(outbound.reply.len(), 2);
    assert_eq!(
        outbound.reply[1].0, "node-1",
        "the reply ends at the client's node"
    );
    let same_node = fabric
        .connect(&pod("10.244.1.11", "node-1"), &x_a, TCP, 80)
        .expect("nodes known");
    assert_eq!(same_node.request.len(), 1);
    assert!(
        fabric
            .connect(&pod("10.0.0.1", "node-9"), &x_a, TCP, 80)
            .is_err()
    );
}
