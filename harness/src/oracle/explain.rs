//! `netpol explain`: which policies select each side of a connection and which
//! rule of which policy decides it.

use std::fmt;

use super::{Direction, Oracle};
use crate::model::{Pod, PodId, Probe};
use crate::truth::Reach;

/// The oracle's reasoning about one cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    pub from: PodId,
    pub to: PodId,
    pub probe: Probe,
    pub egress: Side,
    pub ingress: Side,
    pub reach: Reach,
}

/// One side's policies: egress at the source, ingress at the destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Side {
    pub pod: PodId,
    pub direction: Direction,
    /// Policies that select the pod and cover this direction.
    pub policies: Vec<PolicyVerdict>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyVerdict {
    pub policy: String,
    pub rules: Vec<RuleVerdict>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleVerdict {
    /// The rule allows; the peer and port entries that matched (`None`: the list was empty).
    Allows {
        peer: Option<usize>,
        port: Option<usize>,
    },
    NoPeer,
    NoPort,
}

impl Side {
    pub fn isolated(&self) -> bool {
        !self.policies.is_empty()
    }

    pub fn allows(&self) -> bool {
        !self.isolated() || self.deciding().next().is_some()
    }

    /// Every `(policy, rule index)` that allows the traffic.
    pub fn deciding(&self) -> impl Iterator<Item = (&str, usize, &RuleVerdict)> {
        self.policies.iter().flat_map(|p| {
            p.rules
                .iter()
                .enumerate()
                .filter(|(_, r)| matches!(r, RuleVerdict::Allows { .. }))
                .map(move |(i, r)| (p.policy.as_str(), i, r))
        })
    }
}

impl Oracle<'_> {
    pub fn explain(&self, from: &Pod, to: &Pod, probe: Probe) -> Explanation {
        let egress = self.side(Direction::Egress, from, to, probe);
        let ingress = self.side(Direction::Ingress, to, from, probe);
        let reach = Reach::from_allowed(egress.allows() && ingress.allows());
        debug_assert_eq!(
            reach,
            self.reach(from, to, probe),
            "explain and reach disagree"
        );
        Explanation {
            from: from.id.clone(),
            to: to.id.clone(),
            probe,
            egress,
            ingress,
            reach,
        }
    }

    fn side(&self, direction: Direction, pod: &Pod, peer: &Pod, probe: Probe) -> Side {
        let policies = self
            .selecting(pod, direction)
            .map(|policy| PolicyVerdict {
                policy: format!("{}/{}", policy.namespace, policy.name),
                rules: policy
                    .rules(direction)
                    .unwrap_or_default()
                    .iter()
                    .map(
                        |rule| match self.rule_allows(rule, direction, pod, peer, probe) {
                            Some((peer, port)) => RuleVerdict::Allows { peer, port },
                            None if self.matching_peer(rule, peer, probe.family).is_none() => {
                                RuleVerdict::NoPeer
                            }
                            None => RuleVerdict::NoPort,
                        },
                    )
                    .collect(),
            })
            .collect();
        Side {
            pod: pod.id.clone(),
            direction,
            policies,
        }
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} → {} {}: {}",
            self.from,
            self.to,
            self.probe,
            self.reach.word()
        )?;
        for (side, peer) in [(&self.egress, &self.to), (&self.ingress, &self.from)] {
            side.describe(f, peer, self.probe)?;
        }
        match (self.egress.allows(), self.ingress.allows()) {
            (true, true) => {
                let reasons = [&self.egress, &self.ingress].map(Side::why_allowed);
                write!(f, "verdict: allowed ({}; {})", reasons[0], reasons[1])
            }
            (false, _) => write!(
                f,
                "verdict: blocked: no egress rule of a policy selecting {} allows it",
                self.from
            ),
            (true, false) => write!(
                f,
                "verdict: blocked: no ingress rule of a policy selecting {} allows it",
                self.to
            ),
        }
    }
}

impl Side {
    /// `ingress of x/a allowed by x/allow-z spec.ingress[0]`, or why no rule was needed.
    fn why_allowed(&self) -> String {
        let what = self.direction.policy_type().to_lowercase();
        let (rules_field, _) = self.direction.fields();
        let rules: Vec<String> = self
            .deciding()
            .map(|(policy, i, _)| format!("{policy} spec.{rules_field}[{i}]"))
            .collect();
        if rules.is_empty() {
            format!("{what} of {} is not isolated", self.pod)
        } else {
            format!("{what} of {} allowed by {}", self.pod, rules.join(", "))
        }
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>, peer: &PodId, probe: Probe) -> fmt::Result {
        let kind = self.direction.policy_type();
        let (rules_field, peers_field) = self.direction.fields();
        let what = kind.to_lowercase();
        if !self.isolated() {
            return writeln!(
                f,
                "{what} of {}: not isolated (no policy with {kind} selects it): allowed",
                self.pod
            );
        }
        let names: Vec<&str> = self.policies.iter().map(|p| p.policy.as_str()).collect();
        let outcome = if self.allows() { "allowed" } else { "blocked" };
        writeln!(
            f,
            "{what} of {}: isolated by {}: {outcome}",
            self.pod,
            names.join(", ")
        )?;
        for policy in &self.policies {
            if policy.rules.is_empty() {
                writeln!(
                    f,
                    "  {}: no {rules_field} rules (denies all {what})",
                    policy.policy
                )?;
            }
            for (i, rule) in policy.rules.iter().enumerate() {
                let at = format!("{} spec.{rules_field}[{i}]", policy.policy);
                match rule {
                    RuleVerdict::Allows { peer: p, port } => {
                        let peer_text = p.map_or(format!("any {peers_field}"), |p| {
                            format!("{peers_field}[{p}] matches {peer}")
                        });
                        let port_text = port.map_or("any port".to_owned(), |p| {
                            format!("ports[{p}] matches {probe}")
                        });
                        writeln!(f, "  {at}: allows ({peer_text}; {port_text})")?;
                    }
                    RuleVerdict::NoPeer => {
                        writeln!(f, "  {at}: no {peers_field} peer matches {peer}")?
                    }
                    RuleVerdict::NoPort => {
                        writeln!(f, "  {at}: the peer matches but no port matches {probe}")?
                    }
                }
            }
        }
        Ok(())
    }
}
