//! The `ip` commands that give the control plane its own network namespace on
//! an existing fabric, as data (like `backend/netns/plan.rs`). The veth is made
//! in the fabric namespace with its peer moved straight into the new one, so
//! the root network namespace is never touched.

use std::net::Ipv4Addr;

/// The control plane's interface on the fabric, inside its namespace.
pub const CONTROL_PLANE_IF: &str = "fabric0";
/// Its port on the fabric bridge, inside the fabric namespace.
pub const FABRIC_PORT: &str = "cp";

/// Where the control plane sits on the fabric.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The control plane's namespace, created by these commands.
    pub netns: String,
    /// The fabric's namespace and bridge, which exist already.
    pub fabric: String,
    pub bridge: String,
    pub address: Ipv4Addr,
    /// The fabric's prefix length (the nodes' /24).
    pub prefix_len: u8,
}

fn cmd(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

/// The commands (arguments after `ip`) that create and attach the namespace.
pub fn attach(a: &Attachment) -> Vec<Vec<String>> {
    let (ns, fabric) = (a.netns.as_str(), a.fabric.as_str());
    let address = format!("{}/{}", a.address, a.prefix_len);
    vec![
        cmd(&["netns", "add", ns]),
        cmd(&["-n", ns, "link", "set", "lo", "up"]),
        cmd(&[
            "-n",
            fabric,
            "link",
            "add",
            FABRIC_PORT,
            "type",
            "veth",
            "peer",
            "name",
            CONTROL_PLANE_IF,
            "netns",
            ns,
        ]),
        cmd(&[
            "-n",
            fabric,
            "link",
            "set",
            FABRIC_PORT,
            "master",
            &a.bridge,
            "up",
        ]),
        cmd(&["-n", ns, "addr", "add", &address, "dev", CONTROL_PLANE_IF]),
        cmd(&["-n", ns, "link", "set", CONTROL_PLANE_IF, "up"]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attaching_the_control_plane_never_names_the_root_namespace() {
        let attachment = Attachment {
            netns: "netpol-abc123-cp".into(),
            fabric: "netpol-abc123-fabric".into(),
            bridge: "br0".into(),
            address: Ipv4Addr::new(10, 255, 0, 254),
            prefix_len: 24,
        };
        let commands = attach(&attachment);
        for command in &commands {
            let scoped = (command[..2] == ["netns", "add"])
                || (command[0] == "-n" && command[1].starts_with("netpol-abc123-"));
            assert!(scoped, "{command:?}");
        }
        let script: Vec<String> = commands
            .iter()
            .map(|c| {
                crate::command::shell_line("ip", &c.iter().map(String::as_str).collect::<Vec<_>>())
            })
            .collect();
        insta::assert_snapshot!(script.join("\n"));
    }
}
