//! Pod manifests as the engine hands them over: already JSON, so the controller sends the bytes
//! as they are. A fan-out's pods differ only in their name and node, so a template with nothing
//! to substitute is encoded once with placeholders, and each pod is that text with the
//! placeholders filled in — no JSON tree built, cloned or dropped per pod.

use std::collections::HashMap;

use serde_json::Value;

use crate::placement::Placement;

mod build;
mod defaults;
mod entrypoint;

pub use build::EXECUTOR_BINARY;
pub use entrypoint::ImageEntrypoint;

pub(super) use build::PodRequest;
pub(super) use defaults::PodDefaults;

/// Base manifests by template and place, built once per walk and personalised per pod.
/// `None`: the template's pods are built in full (see `BaseManifest::new`).
#[derive(Default)]
pub(super) struct BaseManifests(HashMap<(String, Placement), Option<BaseManifest>>);

/// A pod to create, encoded as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct PodManifest {
    name: String,
    json: String,
}

impl PodManifest {
    pub(super) fn from_value(name: &str, pod: &Value) -> PodManifest {
        PodManifest {
            name: name.to_string(),
            json: pod.to_string(),
        }
    }

    /// The pod's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The manifest, as sent to the API server.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The manifest as a JSON tree (to inspect it; never on the hot path).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.json).unwrap_or(Value::Null)
    }
}

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    PodName,
    NodeId,
    NodeName,
    Proof,
}

impl Slot {
    const ALL: [Slot; 4] = [Slot::PodName, Slot::NodeId, Slot::NodeName, Slot::Proof];

    fn placeholder(self) -> &'static str {
        match self {
            Slot::PodName => POD_NAME,
            Slot::NodeId => NODE_ID,
            Slot::NodeName => NODE_NAME,
            Slot::Proof => PROOF,
        }
    }
}

/// Placeholders put into the manifest where the pod's values go; U+0001 keeps them from
/// meeting real content.
pub(super) const POD_NAME: &str = "\u{1}flotilla:pod-name\u{1}";
pub(super) const NODE_ID: &str = "\u{1}flotilla:node-id\u{1}";
pub(super) const NODE_NAME: &str = "\u{1}flotilla:node-name\u{1}";
pub(super) const PROOF: &str = "\u{1}flotilla:creator-proof\u{1}";

/// A manifest encoded once with placeholders for the pod's name and node.
#[derive(Debug, Clone)]
pub(super) struct BaseManifest {
    /// Text between placeholders: one more than `slots`.
    text: Vec<String>,
    slots: Vec<Slot>,
}

impl BaseManifest {
    /// `pod` built with [`POD_NAME`], [`NODE_ID`], [`NODE_NAME`] and [`PROOF`] where the pod's
    /// own values go, `uses` times each. `None` if a placeholder appears any other number of
    /// times (the workflow's own content holds one), so the caller builds each pod in full instead.
    pub(super) fn new(pod: &Value, uses: [(&str, usize); 4]) -> Option<BaseManifest> {
        let json = pod.to_string();
        let encoded: Vec<(Slot, String)> = Slot::ALL
            .iter()
            .map(|s| (*s, escaped(s.placeholder())))
            .collect();
        let mut text = Vec::new();
        let mut slots = Vec::new();
        let mut rest = json.as_str();
        loop {
            let next = encoded
                .iter()
                .filter_map(|(slot, p)| rest.find(p.as_str()).map(|at| (at, *slot, p.len())))
                .min_by_key(|(at, _, _)| *at);
            let Some((at, slot, len)) = next else {
                text.push(rest.to_string());
                break;
            };
            text.push(rest[..at].to_string());
            slots.push(slot);
            rest = &rest[at + len..];
        }
        let exact = uses.iter().all(|(placeholder, n)| {
            let found = slots
                .iter()
                .filter(|s| s.placeholder() == *placeholder)
                .count();
            found == *n
        });
        exact.then_some(BaseManifest { text, slots })
    }

    /// The manifest of one pod.
    pub(super) fn personalise(
        &self,
        pod_name: &str,
        node_id: &str,
        node_name: &str,
        proof: &str,
    ) -> PodManifest {
        let values = [
            (Slot::PodName, escaped(pod_name)),
            (Slot::NodeId, escaped(node_id)),
            (Slot::NodeName, escaped(node_name)),
            (Slot::Proof, escaped(proof)),
        ];
        let extra: usize = self
            .slots
            .iter()
            .map(|s| {
                values
                    .iter()
                    .find(|(v, _)| v == s)
                    .map_or(0, |(_, t)| t.len())
            })
            .sum();
        let mut json =
            String::with_capacity(self.text.iter().map(String::len).sum::<usize>() + extra);
        for (i, part) in self.text.iter().enumerate() {
            json.push_str(part);
            if let Some(slot) = self.slots.get(i)
                && let Some((_, value)) = values.iter().find(|(s, _)| s == slot)
            {
                json.push_str(value);
            }
        }
        PodManifest {
            name: pod_name.to_string(),
            json,
        }
    }
}

/// `s` as it appears inside a JSON string (without the quotes).
fn escaped(s: &str) -> String {
    let quoted = Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_personalised_base_is_the_pod_built_in_full() {
        let build = |name: &str, id: &str, node: &str, proof: &str| {
            json!({"metadata": {"name": name, "annotations": {"id": id, "node": node, "proof": proof}},
                "spec": {"containers": [{"env": [{"name": "ARGO_POD_NAME", "value": name}]}]}})
        };
        let uses = [(POD_NAME, 2), (NODE_ID, 1), (NODE_NAME, 1), (PROOF, 1)];
        let base = BaseManifest::new(&build(POD_NAME, NODE_ID, NODE_NAME, PROOF), uses).unwrap();
        let node = r#"wf[0].fan(7:{"a":"b\c"})"#;
        let pod = base.personalise("wf-say-1", "wf-1", node, "mac-1");
        assert_eq!(pod.to_value(), build("wf-say-1", "wf-1", node, "mac-1"));
        assert_eq!(pod.name(), "wf-say-1");
        assert_eq!(
            pod.json(),
            build("wf-say-1", "wf-1", node, "mac-1").to_string()
        );
    }

    #[test]
    fn a_base_with_placeholders_used_otherwise_than_said_is_refused() {
        let uses = [(POD_NAME, 1), (NODE_ID, 1), (NODE_NAME, 1), (PROOF, 0)];
        let missing = json!({"name": POD_NAME, "id": NODE_ID});
        assert!(BaseManifest::new(&missing, uses).is_none());
        // A workflow whose own text holds a placeholder: each pod is built in full.
        let smuggled =
            json!({"name": POD_NAME, "id": NODE_ID, "node": NODE_NAME, "user": POD_NAME});
        assert!(BaseManifest::new(&smuggled, uses).is_none());
        // A proof where none is stamped (the workflow's own text again).
        let proof = json!({"name": POD_NAME, "id": NODE_ID, "node": NODE_NAME, "user": PROOF});
        assert!(BaseManifest::new(&proof, uses).is_none());
    }
}
