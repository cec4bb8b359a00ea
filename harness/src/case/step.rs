//! Steps: the actions of a case (apply, delete, label), checked against the
//! world they will act on, and resolved once a backend has given addresses.

use std::collections::BTreeSet;

use k8s_openapi::api::networking::v1::{IPBlock, NetworkPolicy};

use super::decode::{self, Fields};
use super::diagnostic::Sink;
use super::yaml::Node;
use super::{Action, policy, template};
use crate::cidr::Cidr;
use crate::model::{
    Addresses, LabelChange, LabelTarget, Model, NAMESPACE_NAME_LABEL, PodId, policy_key,
};

/// The policies present while steps are read in order, so a delete of a
/// policy that is not there is caught at load time.
#[derive(Default)]
pub struct Present(BTreeSet<(String, String)>);

/// Reads a list of policies (`policies` or a step's `apply`).
pub fn apply(
    sink: &mut Sink,
    node: &Node,
    path: &str,
    model: &Model,
    present: &mut Present,
) -> Vec<Action> {
    let Some(items) = decode::list(sink, node, path) else {
        return Vec::new();
    };
    let mut seen = BTreeSet::new();
    let mut actions = Vec::new();
    for (item_path, item) in items {
        let Some(policy) = policy::decode(sink, item, &item_path, model) else {
            continue;
        };
        let key = policy_key(&policy);
        if !seen.insert(key.clone()) {
            sink.report(
                item.pos,
                &item_path,
                format!("policy {}/{} appears twice in this list", key.0, key.1),
            );
        }
        present.0.insert(key);
        actions.push(Action::Apply(Box::new(policy)));
    }
    actions
}

/// Reads a step's `delete` list.
pub fn delete(sink: &mut Sink, node: &Node, path: &str, present: &mut Present) -> Vec<Action> {
    let mut actions = Vec::new();
    for (item_path, item) in decode::list(sink, node, path).unwrap_or_default() {
        let Some(fields) = decode::map(sink, item, &item_path, &["kind", "namespace", "name"])
        else {
            continue;
        };
        let mut text = |name: &str| {
            decode::required(sink, &fields, name)
                .and_then(|n| decode::string(sink, n, &fields.path_of(name)))
        };
        let (kind, namespace, name) = (text("kind"), text("namespace"), text("name"));
        if let Some(kind) = &kind
            && kind != policy::KIND
        {
            let pos = fields.get("kind").map_or(item.pos, |n| n.pos);
            let message = format!(
                "only {} objects can be deleted, found `{kind}`",
                policy::KIND
            );
            sink.report(pos, &fields.path_of("kind"), message);
        }
        let (Some(namespace), Some(name)) = (namespace, name) else {
            continue;
        };
        let key = (namespace.clone(), name.clone());
        if !present.0.remove(&key) {
            sink.report(
                item.pos,
                &item_path,
                format!(
                    "no policy {namespace}/{name} exists at this step (present: {})",
                    present.list()
                ),
            );
        }
        actions.push(Action::Delete { namespace, name });
    }
    actions
}

impl Present {
    fn list(&self) -> String {
        if self.0.is_empty() {
            return "none".into();
        }
        self.0
            .iter()
            .map(|(ns, name)| format!("{ns}/{name}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Reads a step's `label`: one change or a list of them.
pub fn label(sink: &mut Sink, node: &Node, path: &str, model: &Model) -> Vec<Action> {
    let items = match &node.value {
        super::yaml::Value::Seq(_) => decode::list(sink, node, path).unwrap_or_default(),
        _ => vec![(path.to_owned(), node)],
    };
    let mut actions = Vec::new();
    for (item_path, item) in items {
        let Some(fields) = decode::map(
            sink,
            item,
            &item_path,
            &["pod", "namespace", "set", "remove"],
        ) else {
            continue;
        };
        let target = label_target(sink, &fields, model);
        let set = fields
            .get("set")
            .and_then(|n| super::selector::labels(sink, n, &fields.path_of("set")));
        let remove = fields.get("remove").and_then(|n| {
            let keys = decode::strings(sink, n, &fields.path_of("remove"))?;
            for (key, pos, key_path) in &keys {
                if let Err(reason) = super::rules::label_key(key) {
                    sink.report(*pos, key_path, reason);
                }
            }
            Some(keys.into_iter().map(|(k, _, _)| k).collect::<Vec<_>>())
        });
        if set.is_none() && remove.is_none() {
            sink.report(
                item.pos,
                &item_path,
                "a label change needs `set`, `remove` or both",
            );
        }
        let change = LabelChange {
            target: target.unwrap_or(LabelTarget::Namespace(String::new())),
            set: set.unwrap_or_default(),
            remove: remove.unwrap_or_default(),
        };
        if matches!(change.target, LabelTarget::Namespace(_))
            && (change.set.contains_key(NAMESPACE_NAME_LABEL)
                || change.remove.iter().any(|k| k == NAMESPACE_NAME_LABEL))
        {
            sink.report(
                item.pos,
                &item_path,
                format!("`{NAMESPACE_NAME_LABEL}` is set by the API server and cannot be changed"),
            );
        }
        actions.push(Action::Label(change));
    }
    actions
}

fn label_target(sink: &mut Sink, fields: &Fields, model: &Model) -> Option<LabelTarget> {
    match (fields.get("pod"), fields.get("namespace")) {
        (Some(pod), None) => {
            let path = fields.path_of("pod");
            let text = decode::string(sink, pod, &path)?;
            let id = text.split_once('/').map(|(ns, name)| PodId::new(ns, name));
            match id.filter(|id| model.pod(id).is_some()) {
                Some(id) => Some(LabelTarget::Pod(id)),
                None => {
                    sink.report(
                        pod.pos,
                        &path,
                        format!("unknown pod `{text}` (pods are {})", model.pod_range()),
                    );
                    None
                }
            }
        }
        (None, Some(ns)) => {
            let path = fields.path_of("namespace");
            let name = decode::string(sink, ns, &path)?;
            if !model.has_namespace(&name) {
                sink.report(
                    ns.pos,
                    &path,
                    format!(
                        "unknown namespace `{name}` (namespaces are {})",
                        model.namespace_list()
                    ),
                );
                return None;
            }
            Some(LabelTarget::Namespace(name))
        }
        _ => {
            sink.report(
                fields.pos,
                &fields.path,
                "a label change names exactly one of `pod` or `namespace`",
            );
            None
        }
    }
}

/// Every `cidr` and `except` text of a policy's ipBlocks, where templates may be.
pub fn block_texts(policy: &NetworkPolicy) -> Vec<String> {
    let Some(spec) = policy.spec.as_ref() else {
        return Vec::new();
    };
    let ingress = spec
        .ingress
        .iter()
        .flatten()
        .flat_map(|r| r.from.iter().flatten());
    let egress = spec
        .egress
        .iter()
        .flatten()
        .flat_map(|r| r.to.iter().flatten());
    ingress
        .chain(egress)
        .filter_map(|peer| peer.ip_block.as_ref())
        .flat_map(|block| std::iter::once(&block.cidr).chain(block.except.iter().flatten()))
        .cloned()
        .collect()
}

/// Replaces the templates of a policy's ipBlocks and checks the blocks again
/// with the real addresses (`except` inside `cidr` depends on them).
pub fn resolve_policy(
    policy: &NetworkPolicy,
    model: &Model,
    addresses: &Addresses,
) -> Result<NetworkPolicy, String> {
    let mut policy = policy.clone();
    let (ns, name) = policy_key(&policy);
    let Some(spec) = policy.spec.as_mut() else {
        return Ok(policy);
    };
    let ingress = spec
        .ingress
        .iter_mut()
        .flatten()
        .flat_map(|r| r.from.iter_mut().flatten());
    let egress = spec
        .egress
        .iter_mut()
        .flatten()
        .flat_map(|r| r.to.iter_mut().flatten());
    for block in ingress
        .chain(egress)
        .filter_map(|peer| peer.ip_block.as_mut())
    {
        resolve_block(block, model, addresses)
            .map_err(|reason| format!("policy {ns}/{name}: {reason}"))?;
    }
    Ok(policy)
}

/// Expands the templates of a block. A templated block is written as its
/// network (`{{ip x/b}}/16` becomes `10.244.0.0/16`, not `10.244.1.10/16`):
/// the API server refuses host bits set, and the block means its network.
fn resolve_block(block: &mut IPBlock, model: &Model, addresses: &Addresses) -> Result<(), String> {
    let canonical = |text: &str| -> Result<String, String> {
        let expanded = template::expand_addresses(text, model, addresses)?;
        if template::has_template(text) {
            Ok(expanded.parse::<Cidr>()?.to_string())
        } else {
            Ok(expanded)
        }
    };
    block.cidr = canonical(&block.cidr)?;
    let cidr: Cidr = block.cidr.parse()?;
    for except in block.except.iter_mut().flatten() {
        *except = canonical(except)?;
        policy::except_within(&cidr, &except.parse()?, false)?;
    }
    Ok(())
}
