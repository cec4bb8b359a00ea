//! Allowed traffic of one pod in one direction, as boxes in the space
//! peer address × IP protocol × destination port.
//!
//! The kernel's concatenated interval sets (`pipapo`) refuse an element that
//! overlaps one already present ("File exists"), and two rules or two
//! policies overlap all the time. So the union of all boxes is rebuilt here
//! as disjoint boxes: maximal strips along a first axis, each cut the same
//! way along a second, then merged ranges along the third. For a given order
//! of the axes that form depends only on the union, never on the order of
//! rules or policies. All six orders are tried and the one with the fewest
//! elements kept (the first on a tie), which keeps the result canonical and
//! the kernel's per-lookup bitmaps narrow.

use std::fmt;

use serde::Serialize;

use crate::addr::IpRange;
use crate::policy::{SCTP, TCP, UDP};

/// An inclusive range of protocol numbers (`0..=255` is every protocol).
pub type Protocols = (u8, u8);
/// An inclusive range of destination ports (`0..=65535` is every port).
pub type Ports = (u16, u16);

pub const ALL_PROTOCOLS: Protocols = (0, u8::MAX);
pub const ALL_PORTS: Ports = (0, u16::MAX);

/// One box of allowed traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Allow {
    pub peer: IpRange,
    pub protocols: Protocols,
    pub ports: Ports,
}

/// nft element syntax: `10.0.0.0/24 . tcp . 80-90`.
impl fmt::Display for Allow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} . ", self.peer)?;
        match self.protocols {
            (TCP, TCP) => f.write_str("tcp")?,
            (UDP, UDP) => f.write_str("udp")?,
            (SCTP, SCTP) => f.write_str("sctp")?,
            (one, other) if one == other => write!(f, "{one}")?,
            (first, last) => write!(f, "{first}-{last}")?,
        }
        match self.ports {
            (one, other) if one == other => write!(f, " . {one}"),
            (first, last) => write!(f, " . {first}-{last}"),
        }
    }
}

/// A box as three inclusive spans, in some order of the axes.
type Cuboid = [(u128, u128); 3];

/// Cuts an axis into the elementary segments bounded by every span's edges
/// and keeps the segments some span covers. `max` is the axis' last value.
fn segments(spans: &[(u128, u128)], max: u128) -> Vec<(u128, u128)> {
    let mut cuts: Vec<u128> = spans
        .iter()
        .flat_map(|&(first, last)| [Some(first), last.checked_add(1)])
        .flatten()
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let ends = cuts.iter().skip(1).map(|&next| next - 1).chain([max]);
    cuts.iter()
        .zip(ends)
        .map(|(&first, last)| (first, last))
        .filter(|&(first, last)| spans.iter().any(|&(a, b)| a <= first && last <= b))
        .collect()
}

/// The union of `cuboids` as disjoint cuboids: maximal segments of the first
/// axis whose cross-sections are equal, each cross-section done the same way.
fn decompose(cuboids: &[Cuboid], axis: usize, maxima: &[u128; 3]) -> Vec<Cuboid> {
    let spans: Vec<(u128, u128)> = cuboids.iter().map(|c| c[axis]).collect();
    let mut strips: Vec<((u128, u128), Vec<Cuboid>)> = Vec::new();
    for segment in segments(&spans, maxima[axis]) {
        let here: Vec<Cuboid> = cuboids
            .iter()
            .filter(|c| c[axis].0 <= segment.0 && segment.1 <= c[axis].1)
            .copied()
            .collect();
        let section = if axis == 2 {
            vec![[(0, 0); 3]]
        } else {
            decompose(&here, axis + 1, maxima)
        };
        match strips.last_mut() {
            Some((last, previous)) if last.1 + 1 == segment.0 && *previous == section => {
                last.1 = segment.1
            }
            _ => strips.push((segment, section)),
        }
    }
    let mut out = Vec::new();
    for (segment, section) in strips {
        for mut cuboid in section {
            cuboid[axis] = segment;
            out.push(cuboid);
        }
    }
    out
}

/// The orders in which the axes (0 peer, 1 protocol, 2 port) may be cut.
const ORDERS: [[usize; 3]; 6] = [
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
];

/// The union of `boxes` (one address family) as sorted, pairwise disjoint
/// boxes: the fewest of the six cut orders (the first on a tie), so still a
/// function of the union alone.
pub fn disjoint(boxes: &[Allow]) -> Vec<Allow> {
    let Some(family) = boxes.first().map(|b| b.peer.family) else {
        return Vec::new();
    };
    let axes = |b: &Allow| -> Cuboid {
        [
            (b.peer.first, b.peer.last),
            (u128::from(b.protocols.0), u128::from(b.protocols.1)),
            (u128::from(b.ports.0), u128::from(b.ports.1)),
        ]
    };
    let maxima = [family.max(), u128::from(u8::MAX), u128::from(u16::MAX)];
    let mut best: Option<Vec<Allow>> = None;
    for order in ORDERS {
        let reorder = |c: Cuboid| order.map(|axis| c[axis]);
        let cuboids: Vec<Cuboid> = boxes.iter().map(|b| reorder(axes(b))).collect();
        let mut found: Vec<Allow> = decompose(&cuboids, 0, &order.map(|axis| maxima[axis]))
            .into_iter()
            .map(|c| {
                let mut back = [(0, 0); 3];
                for (position, &axis) in order.iter().enumerate() {
                    back[axis] = c[position];
                }
                // Every span came from a u8 or u16 edge (or the axis maximum), so it fits back.
                Allow {
                    peer: IpRange {
                        family,
                        first: back[0].0,
                        last: back[0].1,
                    },
                    protocols: (back[1].0 as u8, back[1].1 as u8),
                    ports: (back[2].0 as u16, back[2].1 as u16),
                }
            })
            .collect();
        if best.as_ref().is_none_or(|b| found.len() < b.len()) {
            found.sort();
            best = Some(found);
        }
    }
    best.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::parse_cidr;

    fn allow(peer: &str, protocols: Protocols, ports: Ports) -> Allow {
        Allow {
            peer: parse_cidr(peer).unwrap(),
            protocols,
            ports,
        }
    }

    fn overlaps(a: &Allow, b: &Allow) -> bool {
        a.peer.first <= b.peer.last
            && b.peer.first <= a.peer.last
            && a.protocols.0 <= b.protocols.1
            && b.protocols.0 <= a.protocols.1
            && a.ports.0 <= b.ports.1
            && b.ports.0 <= a.ports.1
    }

    #[test]
    fn overlapping_port_ranges_become_one_range() {
        let boxes = [
            allow("10.0.0.0/24", (6, 6), (80, 90)),
            allow("10.0.0.0/24", (6, 6), (85, 95)),
        ];
        assert_eq!(
            disjoint(&boxes),
            vec![allow("10.0.0.0/24", (6, 6), (80, 95))]
        );
    }

    #[test]
    fn an_all_protocols_box_swallows_narrower_boxes_of_the_same_peer() {
        let boxes = [
            allow("10.0.0.1/32", (6, 6), (80, 80)),
            allow("10.0.0.0/24", ALL_PROTOCOLS, ALL_PORTS),
        ];
        assert_eq!(
            disjoint(&boxes),
            vec![allow("10.0.0.0/24", ALL_PROTOCOLS, ALL_PORTS)]
        );
    }

    #[test]
    fn partly_overlapping_boxes_are_split_into_disjoint_ones() {
        let boxes = [
            allow("10.0.0.0/24", (6, 6), (80, 90)),
            allow("10.0.0.0/25", ALL_PROTOCOLS, (85, 100)),
            allow("10.0.1.0/24", (17, 17), ALL_PORTS),
        ];
        let out = disjoint(&boxes);
        for (i, a) in out.iter().enumerate() {
            for b in &out[i + 1..] {
                assert!(!overlaps(a, b), "{a:?} overlaps {b:?}");
            }
        }
        // Every probe point is covered by the output exactly when an input box covers it.
        let covered = |set: &[Allow], ip: u128, proto: u8, port: u16| {
            set.iter().any(|b| {
                (b.peer.first..=b.peer.last).contains(&ip)
                    && (b.protocols.0..=b.protocols.1).contains(&proto)
                    && (b.ports.0..=b.ports.1).contains(&port)
            })
        };
        for ip in [
            0x0a00_0000u128,
            0x0a00_007f,
            0x0a00_0080,
            0x0a00_0100,
            0x0a00_0200,
        ] {
            for proto in [1u8, 6, 17, 132] {
                for port in [0u16, 79, 80, 84, 85, 90, 91, 100, 101, 65535] {
                    assert_eq!(
                        covered(&out, ip, proto, port),
                        covered(&boxes, ip, proto, port)
                    );
                }
            }
        }
    }

    #[test]
    fn the_result_does_not_depend_on_the_order_of_the_boxes() {
        let mut boxes = vec![
            allow("10.0.0.0/24", (6, 6), (80, 90)),
            allow("10.0.0.0/25", ALL_PROTOCOLS, (85, 100)),
            allow("10.0.0.128/25", (6, 6), (80, 90)),
        ];
        let forward = disjoint(&boxes);
        boxes.reverse();
        assert_eq!(disjoint(&boxes), forward);
    }

    #[test]
    fn random_unions_are_rebuilt_exactly_and_without_overlaps() {
        // xorshift: deterministic, no dependency.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for _ in 0..300 {
            let boxes: Vec<Allow> = (0..1 + next(6))
                .map(|_| {
                    let (a, b) = (next(16) as u128, next(16) as u128);
                    let (p, q) = (next(4) as u8 * 6, next(4) as u8 * 6);
                    let (x, y) = (next(8) as u16 * 10, next(8) as u16 * 10);
                    let peer = IpRange {
                        family: crate::addr::Family::V4,
                        first: a.min(b),
                        last: a.max(b),
                    };
                    Allow {
                        peer,
                        protocols: (p.min(q), p.max(q)),
                        ports: (x.min(y), x.max(y)),
                    }
                })
                .collect();
            let out = disjoint(&boxes);
            for (i, a) in out.iter().enumerate() {
                for b in &out[i + 1..] {
                    assert!(!overlaps(a, b), "{a} overlaps {b} from {boxes:?}");
                }
            }
            let covered = |set: &[Allow], ip: u128, proto: u8, port: u16| {
                set.iter().any(|b| {
                    (b.peer.first..=b.peer.last).contains(&ip)
                        && (b.protocols.0..=b.protocols.1).contains(&proto)
                        && (b.ports.0..=b.ports.1).contains(&port)
                })
            };
            for ip in 0..17u128 {
                for proto in 0..20u8 {
                    for port in (0..75u16).step_by(5) {
                        assert_eq!(
                            covered(&out, ip, proto, port),
                            covered(&boxes, ip, proto, port),
                            "{boxes:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_whole_ipv6_line_does_not_overflow() {
        let all = IpRange::all(crate::addr::Family::V6);
        let boxes = [
            Allow {
                peer: all,
                protocols: ALL_PROTOCOLS,
                ports: ALL_PORTS,
            },
            allow("fd00::/8", (6, 6), (80, 80)),
        ];
        assert_eq!(
            disjoint(&boxes),
            vec![Allow {
                peer: all,
                protocols: ALL_PROTOCOLS,
                ports: ALL_PORTS
            }]
        );
    }

    #[test]
    fn no_boxes_give_no_elements() {
        assert!(disjoint(&[]).is_empty());
    }
}
