//! The API server's validation rules for names, labels and ports, as pure checks.
//!
//! Each returns the reason in lower case, phrased to follow a field path.

const QUALIFIED_NAME_MAX: usize = 63;
const DNS_SUBDOMAIN_MAX: usize = 253;
const DNS_LABEL_MAX: usize = 63;
const PORT_NAME_MAX: usize = 15;

fn is_alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, the shape of label names and values.
fn qualified_part(text: &str) -> bool {
    let starts_and_ends = text.starts_with(is_alnum) && text.ends_with(is_alnum);
    starts_and_ends
        && text
            .chars()
            .all(|c| is_alnum(c) || matches!(c, '-' | '_' | '.'))
}

/// A label key: an optional DNS subdomain prefix and `/`, then a name of at most 63 characters.
pub fn label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        dns_subdomain(prefix).map_err(|reason| format!("label key prefix `{prefix}`: {reason}"))?;
    }
    if name.is_empty() {
        return Err(format!("label key `{key}` has an empty name"));
    }
    if name.len() > QUALIFIED_NAME_MAX || !qualified_part(name) {
        return Err(format!(
            "invalid label key `{key}`: the name must be at most 63 characters of [A-Za-z0-9-_.], starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// A label value: empty, or at most 63 characters of `[A-Za-z0-9-_.]` starting and ending alphanumeric.
pub fn label_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    if value.len() > QUALIFIED_NAME_MAX {
        return Err(format!(
            "label value `{value}` is {} characters long (at most 63)",
            value.len()
        ));
    }
    if !qualified_part(value) {
        return Err(format!(
            "invalid label value `{value}`: use [A-Za-z0-9-_.], starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// A DNS-1123 subdomain as the API server checks it (`IsDNS1123Subdomain`):
/// at most 253 characters of parts `[a-z0-9]([-a-z0-9]*[a-z0-9])?` joined by
/// dots. Unlike a DNS label, a part has no length limit of its own.
pub fn dns_subdomain(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > DNS_SUBDOMAIN_MAX || !name.split('.').all(is_label_shape) {
        return Err(format!(
            "`{name}` is not a DNS subdomain (lower-case letters, digits, `-` and `.`, at most 253 characters)"
        ));
    }
    Ok(())
}

/// RFC 1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn dns_label(name: &str) -> Result<(), String> {
    if !is_dns_label(name) {
        return Err(format!(
            "`{name}` is not a DNS label (lower-case letters, digits and `-`, at most 63 characters)"
        ));
    }
    Ok(())
}

fn is_dns_label(name: &str) -> bool {
    name.len() <= DNS_LABEL_MAX && is_label_shape(name)
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, of any length.
fn is_label_shape(name: &str) -> bool {
    let lower_alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !name.is_empty()
        && name.starts_with(lower_alnum)
        && name.ends_with(lower_alnum)
        && name.chars().all(|c| lower_alnum(c) || c == '-')
}

/// An IANA service name, as named ports must be: at most 15 characters of
/// `[a-z0-9-]`, at least one letter, no leading, trailing or double `-`.
pub fn port_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= PORT_NAME_MAX
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.chars().any(|c| c.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid port name (at most 15 of [a-z0-9-], at least one letter, no leading, trailing or double `-`)"
        ))
    }
}

/// Ports are 1-65535.
pub fn port_number(port: i64) -> Result<u16, String> {
    match u16::try_from(port) {
        Ok(port) if port >= 1 => Ok(port),
        _ => Err(format!("port {port} is out of range (1-65535)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys_follow_the_qualified_name_rules() {
        for good in [
            "pod",
            "app.kubernetes.io/name",
            "kubernetes.io/metadata.name",
            "a_b.c-d",
            "A1",
        ] {
            assert_eq!(label_key(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "-bad",
            "bad-",
            "a/b/c",
            "/name",
            "Example.com/x",
            "a b",
            &"k".repeat(64),
        ] {
            assert!(label_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn label_values_may_be_empty_but_not_too_long() {
        assert_eq!(label_value(""), Ok(()));
        assert_eq!(label_value("blue"), Ok(()));
        assert!(
            label_value(&"v".repeat(64))
                .unwrap_err()
                .contains("64 characters")
        );
        assert!(label_value("no spaces").is_err());
        assert!(label_value("-x").is_err());
    }

    #[test]
    fn port_names_are_iana_service_names() {
        for good in ["serve-80-tcp", "http", "a1"] {
            assert_eq!(port_name(good), Ok(()), "{good}");
        }
        for bad in [
            "Serve_80",
            "80",
            "-http",
            "http-",
            "a--b",
            "sixteen-chars-xx",
            "",
        ] {
            assert!(port_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn port_numbers_are_one_to_65535() {
        assert_eq!(port_number(1), Ok(1));
        assert_eq!(port_number(65535), Ok(65535));
        assert!(port_number(0).is_err());
        assert!(port_number(65536).is_err());
        assert!(port_number(-1).is_err());
    }

    #[test]
    fn names_are_dns_subdomains_and_labels() {
        assert_eq!(dns_subdomain("allow.same-ns"), Ok(()));
        assert!(dns_subdomain("Allow").is_err());
        assert!(dns_subdomain("a..b").is_err());
        assert!(dns_subdomain("-a.b").is_err());
        // The API server limits the whole name, not its parts (regression:
        // parts over 63 characters used to be refused).
        let long = format!("{}.{}", "a".repeat(126), "b".repeat(126));
        assert_eq!(long.len(), 253);
        assert_eq!(dns_subdomain(&long), Ok(()));
        assert!(dns_subdomain(&format!("{long}c")).is_err());
        assert_eq!(dns_label("x"), Ok(()));
        assert!(dns_label("x.y").is_err());
    }
}
