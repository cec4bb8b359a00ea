//! CIDR blocks as the API server reads them: host bits allowed and masked
//! off, and (with `StrictIPCIDRValidation` off, the default) IPv4 octets and
//! prefix lengths with leading zeros, read as decimal (`001.002.003.000/08`
//! is `1.2.3.0/8`), as Go's `net.ParseCIDR` did before Go 1.17 and
//! Kubernetes' `netutils.ParseCIDRSloppy` still does.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// The network address, host bits cleared.
    pub network: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn is_ipv4(&self) -> bool {
        self.network.is_ipv4()
    }

    pub fn family(&self) -> &'static str {
        if self.is_ipv4() { "IPv4" } else { "IPv6" }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask_v4(u32::from(ip), self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask_v6(u128::from(ip), self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }

    /// Whether `other` lies inside this block (equal counts).
    pub fn contains_cidr(&self, other: &Cidr) -> bool {
        other.prefix >= self.prefix && self.contains(other.network)
    }
}

fn mask_v4(bits: u32, prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        bits & (u32::MAX << (32 - u32::from(prefix)))
    }
}

fn mask_v6(bits: u128, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        bits & (u128::MAX << (128 - u32::from(prefix)))
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let invalid = || format!("`{text}` is not a CIDR (write `10.0.0.0/24` or `fd00::/64`)");
        let (addr, prefix) = text.split_once('/').ok_or_else(invalid)?;
        let addr: IpAddr = match sloppy_ipv4(addr) {
            Some(v4) => IpAddr::V4(v4),
            None => addr.parse().map_err(|_| invalid())?,
        };
        let prefix = decimal(prefix)
            .and_then(|p| u8::try_from(p).ok())
            .ok_or_else(invalid)?;
        let network = match addr {
            IpAddr::V4(v4) if prefix <= 32 => IpAddr::V4(mask_v4(u32::from(v4), prefix).into()),
            IpAddr::V6(v6) if prefix <= 128 => IpAddr::V6(mask_v6(u128::from(v6), prefix).into()),
            _ => return Err(format!("prefix length /{prefix} is too long for `{addr}`")),
        };
        Ok(Cidr { network, prefix })
    }
}

/// Digits only, leading zeros allowed, as Go's `dtoi`: at most 255 for an
/// octet, so a number that grows past 2^24 is refused as it reads.
fn decimal(text: &str) -> Option<u32> {
    const BIG: u32 = 0x00ff_ffff;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.bytes().try_fold(0u32, |n, digit| {
        let n = n * 10 + u32::from(digit - b'0');
        (n < BIG).then_some(n)
    })
}

/// An IPv4 address of four decimal octets, each with any leading zeros.
fn sloppy_ipv4(text: &str) -> Option<Ipv4Addr> {
    let octets: Vec<u8> = text
        .split('.')
        .map(|part| decimal(part).and_then(|n| u8::try_from(n).ok()))
        .collect::<Option<_>>()?;
    let [a, b, c, d] = octets[..] else {
        return None;
    };
    Some(Ipv4Addr::new(a, b, c, d))
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        text.parse().unwrap()
    }

    #[test]
    fn host_bits_are_masked_as_the_api_server_does() {
        assert_eq!(cidr("10.1.2.3/8").to_string(), "10.0.0.0/8");
        assert_eq!(cidr("fd00::1/64").to_string(), "fd00::/64");
        assert_eq!(cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
    }

    #[test]
    fn containment_follows_the_prefix() {
        assert!(cidr("10.0.0.0/8").contains("10.255.0.1".parse().unwrap()));
        assert!(!cidr("10.0.0.0/8").contains("11.0.0.1".parse().unwrap()));
        assert!(cidr("0.0.0.0/0").contains("192.0.2.1".parse().unwrap()));
        assert!(!cidr("0.0.0.0/0").contains("::1".parse().unwrap()));
        assert!(cidr("10.0.0.0/8").contains_cidr(&cidr("10.1.0.0/16")));
        assert!(!cidr("10.1.0.0/16").contains_cidr(&cidr("10.0.0.0/8")));
        assert!(cidr("10.0.0.5/32").contains("10.0.0.5".parse().unwrap()));
    }

    #[test]
    fn legacy_leading_zeros_read_as_decimal_as_the_api_server_accepts_them() {
        // Regression: these were refused, though Kubernetes accepts them
        // while StrictIPCIDRValidation is off (the default).
        assert_eq!(cidr("001.002.003.000/0").to_string(), "0.0.0.0/0");
        assert_eq!(cidr("010.244.001.005/32").to_string(), "10.244.1.5/32");
        assert_eq!(cidr("10.0.0.0/008").to_string(), "10.0.0.0/8");
        assert_eq!(cidr("0010.0.0.0/0024").to_string(), "10.0.0.0/24");
        for bad in [
            "0256.0.0.0/8",
            "1.2.3/8",
            "1.2.3.4.5/8",
            "1.2.3.4/033",
            "1.2.3.+4/8",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn malformed_blocks_are_rejected_with_the_reason() {
        for bad in [
            "10.0.0.300/24",
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0.0/-1",
            "10.0.0.0/ 8",
            "x/8",
            "::/129",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }
}
