//! Addresses as integers. An IPv4 or IPv6 address is a point on its family's
//! line; a CIDR, or an `ipBlock` minus its `except`s, is a list of inclusive
//! ranges on it. Integers make subtraction and merging exact, and let the
//! renderer print the shortest form nft accepts (host, prefix or range).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

/// The address family of a pod, a peer or a set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(ip: IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    pub fn bits(self) -> u32 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    /// The highest address of the family, as an integer.
    pub fn max(self) -> u128 {
        match self {
            Family::V4 => u128::from(u32::MAX),
            Family::V6 => u128::MAX,
        }
    }
}

fn to_int(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn from_int(family: Family, value: u128) -> IpAddr {
    match family {
        // Ranges of the V4 family never leave 0..=u32::MAX, so this cannot truncate.
        Family::V4 => IpAddr::V4(Ipv4Addr::from(value as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(value)),
    }
}

/// An inclusive range of addresses of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct IpRange {
    pub family: Family,
    pub first: u128,
    pub last: u128,
}

impl IpRange {
    /// One address.
    pub fn host(ip: IpAddr) -> IpRange {
        let value = to_int(ip);
        IpRange {
            family: Family::of(ip),
            first: value,
            last: value,
        }
    }

    /// Every address of the family (`0.0.0.0/0`, `::/0`).
    pub fn all(family: Family) -> IpRange {
        IpRange {
            family,
            first: 0,
            last: family.max(),
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        Family::of(ip) == self.family && (self.first..=self.last).contains(&to_int(ip))
    }

    /// True when every address of `other` is in `self`.
    pub fn covers(&self, other: &IpRange) -> bool {
        self.family == other.family && self.first <= other.first && other.last <= self.last
    }

    /// The prefix length when the range is exactly one CIDR block.
    fn prefix_len(&self) -> Option<u32> {
        let span = self.last - self.first;
        if span == self.family.max() {
            return Some(0);
        }
        let size = span + 1;
        (size.is_power_of_two() && self.first & span == 0)
            .then(|| self.family.bits() - size.trailing_zeros())
    }
}

/// nft syntax: `10.0.0.1`, `10.0.0.0/24` or `10.0.0.3-10.0.0.9`.
impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = from_int(self.family, self.first);
        match self.prefix_len() {
            _ if self.first == self.last => write!(f, "{first}"),
            Some(len) => write!(f, "{first}/{len}"),
            None => write!(f, "{first}-{}", from_int(self.family, self.last)),
        }
    }
}

/// Why a CIDR of an `ipBlock` could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("`{0}` is not a CIDR (address/prefix length)")]
    Syntax(String),
    #[error("`{text}` has a prefix length above {max}")]
    PrefixTooLong { text: String, max: u32 },
}

/// Parses `address/len`. Host bits are ignored (`10.0.0.1/24` is
/// `10.0.0.0/24`), as the API server has long accepted them; so are leading
/// zeros in IPv4 octets and in the length, read as decimal (`010.0.0.0/08`
/// is `10.0.0.0/8`), which the API server accepts while the
/// `StrictIPCIDRValidation` gate is off (the default through Kubernetes 1.35).
pub fn parse_cidr(text: &str) -> Result<IpRange, CidrError> {
    let syntax = || CidrError::Syntax(text.to_string());
    let (address, len) = text.split_once('/').ok_or_else(syntax)?;
    let ip: IpAddr = match legacy_ipv4(address) {
        Some(v4) => IpAddr::V4(v4),
        None => address.parse().map_err(|_| syntax())?,
    };
    let len = digits(len).ok_or_else(syntax)?;
    let family = Family::of(ip);
    if len > family.bits() {
        return Err(CidrError::PrefixTooLong {
            text: text.to_string(),
            max: family.bits(),
        });
    }
    let host_bits = family.bits() - len;
    let span = if host_bits == 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    let first = to_int(ip) & !span;
    Ok(IpRange {
        family,
        first,
        last: first | span,
    })
}

/// A run of ASCII digits as a number, leading zeros allowed; `None` for
/// anything else, or for a number too large to be an octet or a length.
fn digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = text.trim_start_matches('0');
    if trimmed.len() > 3 {
        return None;
    }
    Some(trimmed.parse().unwrap_or(0))
}

/// Four dot-separated decimal octets, leading zeros allowed.
fn legacy_ipv4(text: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split('.');
    for octet in &mut octets {
        *octet = u8::try_from(digits(parts.next()?)?).ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

/// `block` minus every hole, as sorted disjoint ranges.
pub fn subtract(block: IpRange, holes: &[IpRange]) -> Vec<IpRange> {
    let mut pieces = vec![block];
    for hole in holes.iter().filter(|h| h.family == block.family) {
        let mut next = Vec::with_capacity(pieces.len() + 1);
        for piece in pieces {
            if hole.last < piece.first || piece.last < hole.first {
                next.push(piece);
                continue;
            }
            if piece.first < hole.first {
                next.push(IpRange {
                    last: hole.first - 1,
                    ..piece
                });
            }
            if hole.last < piece.last {
                next.push(IpRange {
                    first: hole.last + 1,
                    ..piece
                });
            }
        }
        pieces = next;
    }
    pieces
}

/// The union of ranges of one family, as sorted disjoint ranges with
/// touching neighbours joined.
pub fn merge(mut ranges: Vec<IpRange>) -> Vec<IpRange> {
    ranges.sort();
    let mut merged: Vec<IpRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last)
                if last.family == range.family
                    && (last.last == last.family.max() || range.first <= last.last + 1) =>
            {
                last.last = last.last.max(range.last);
            }
            _ => merged.push(range),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> IpRange {
        parse_cidr(text).unwrap()
    }

    #[test]
    fn a_cidr_with_host_bits_is_the_enclosing_block() {
        assert_eq!(cidr("10.0.0.1/24").to_string(), "10.0.0.0/24");
        assert_eq!(cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert_eq!(cidr("::/0").to_string(), "::/0");
        assert_eq!(cidr("fd00::1/128").to_string(), "fd00::1");
    }

    #[test]
    fn legacy_leading_zeros_read_as_decimal() {
        assert_eq!(cidr("001.002.003.000/0").to_string(), "0.0.0.0/0");
        assert_eq!(cidr("010.244.001.005/32").to_string(), "10.244.1.5");
        assert_eq!(cidr("10.0.0.0/008").to_string(), "10.0.0.0/8");
        assert_eq!(cidr("fd00::/064").to_string(), "fd00::/64");
        for text in ["0256.0.0.0/8", "1.2.3.4.5/8", "1.2.3/8"] {
            assert_eq!(
                parse_cidr(text),
                Err(CidrError::Syntax(text.into())),
                "{text}"
            );
        }
    }

    #[test]
    fn malformed_cidrs_are_rejected() {
        for text in [
            "10.0.0.0",
            "10.0.0.0/",
            "10.0.0.0/x",
            "10.0.0/8",
            "10.0.0.0/+8",
            "300.0.0.0/8",
        ] {
            assert_eq!(
                parse_cidr(text),
                Err(CidrError::Syntax(text.into())),
                "{text}"
            );
        }
        assert!(matches!(
            parse_cidr("10.0.0.0/33"),
            Err(CidrError::PrefixTooLong { .. })
        ));
    }

    #[test]
    fn subtracting_an_except_leaves_the_ranges_around_it() {
        let left = subtract(
            cidr("10.0.0.0/24"),
            &[cidr("10.0.0.128/25"), cidr("10.0.0.0/30")],
        );
        let text: Vec<String> = left.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["10.0.0.4-10.0.0.127"]);
    }

    #[test]
    fn subtracting_from_the_whole_ipv6_line_does_not_overflow() {
        let left = subtract(IpRange::all(Family::V6), &[cidr("::/1")]);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].to_string(), "8000::/1");
    }

    #[test]
    fn merging_joins_touching_and_overlapping_ranges() {
        let merged = merge(vec![
            cidr("10.0.0.4/30"),
            cidr("10.0.0.0/30"),
            cidr("10.0.0.6/32"),
        ]);
        assert_eq!(merged, vec![cidr("10.0.0.0/29")]);
        let whole = merge(vec![IpRange::all(Family::V4), cidr("10.0.0.0/8")]);
        assert_eq!(whole, vec![IpRange::all(Family::V4)]);
    }
}
