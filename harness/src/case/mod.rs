//! Cases: the YAML format of `case-format.md`, read strictly and validated
//! before any backend is touched.

mod decode;
mod diagnostic;
mod expect;
mod load;
mod policy;
pub mod rules;
mod selector;
mod step;
pub mod template;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::networking::v1::NetworkPolicy;

pub use diagnostic::{Diagnostic, Diagnostics, MAX_SHOWN_PER_FILE};
pub use load::{MAX_CASE_BYTES, find_case_files, load_file, load_paths, parse_case};

use crate::model::{Addresses, Change, LabelChange, Model, Probe};
use crate::truth::TruthTable;

/// One case: a name, its probes and its steps.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    /// The file as given (relative paths stay relative, for reports).
    pub file: PathBuf,
    pub probes: Vec<Probe>,
    pub steps: Vec<Step>,
}

/// Actions, then the expectation that must hold after them.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The line of the step in its file, for messages.
    pub line: u32,
    pub actions: Vec<Action>,
    pub expect: Expectation,
}

/// What must hold after a step.
#[derive(Clone, Debug, PartialEq)]
pub enum Expectation {
    /// A full table per probed port (the loader makes sure every probed port has one).
    Tables(BTreeMap<Probe, TruthTable>),
    /// `expect: oracle`: the expectation is the oracle's matrix, filled in by
    /// `netpol run --differential`; a plain run refuses such a case.
    Oracle,
}

impl Expectation {
    /// The table of `probe`; `None` for the oracle's, or a probe without one.
    pub fn table(&self, probe: &Probe) -> Option<&TruthTable> {
        match self {
            Expectation::Tables(tables) => tables.get(probe),
            Expectation::Oracle => None,
        }
    }
}

/// A change as the case wrote it; policies may still hold templates.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Apply(Box<NetworkPolicy>),
    Delete { namespace: String, name: String },
    Label(LabelChange),
}

impl Case {
    /// Whether a step leaves its expectation to the oracle (`expect: oracle`).
    pub fn expects_oracle(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s.expect, Expectation::Oracle))
    }

    /// The address families whose addresses the case names: an ipBlock
    /// `cidr` or `except` that is a literal block of that family, or holds
    /// `{{ip …}}` (IPv4) or `{{ip6 …}}` (IPv6). A run that probes only the
    /// other family cannot judge the case as written.
    pub fn families_named(&self) -> std::collections::BTreeSet<crate::model::Family> {
        self.steps
            .iter()
            .flat_map(|s| &s.actions)
            .filter_map(|a| match a {
                Action::Apply(policy) => Some(policy),
                _ => None,
            })
            .flat_map(|policy| step::block_texts(policy))
            .flat_map(|text| {
                if template::has_template(&text) {
                    template::families(&text)
                } else {
                    text.parse::<crate::cidr::Cidr>()
                        .map(|cidr| crate::model::Family::of(cidr.network))
                        .into_iter()
                        .collect()
                }
            })
            .collect()
    }
}

impl Action {
    /// The change to make, with templates replaced by the backend's addresses.
    pub fn resolve(&self, model: &Model, addresses: &Addresses) -> Result<Change, String> {
        Ok(match self {
            Action::Apply(policy) => {
                Change::Apply(Box::new(step::resolve_policy(policy, model, addresses)?))
            }
            Action::Delete { namespace, name } => Change::Delete {
                namespace: namespace.clone(),
                name: name.clone(),
            },
            Action::Label(change) => Change::Label(change.clone()),
        })
    }
}

#[cfg(test)]
mod tests;
