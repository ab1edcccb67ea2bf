//! Argo's node events (`recordNodePhaseChangeEvents` in argo-workflows' `operator.go`): after a
//! pass, one event on the workflow for each node whose phase changed, `WorkflowNode<Phase>`,
//! saying `<Phase> node <name>[: <message>]`, annotated with the node's name and type. A node
//! seen for the first time already running says so; one seen already completed, or completed
//! straight from `Pending`, first says it ran. `Succeeded` and `Running` are Normal, every other
//! phase a Warning. The host sends them as Argo's controller does (core/v1 Events, annotated),
//! within Argo's per-workflow allowance, unless `nodeEvents.enabled` is false in the
//! controller's ConfigMap.

use std::collections::BTreeMap;

use crate::decision::NodeEvent;
use crate::workflow::{NodePhase, NodeStatus};

/// The annotation naming the node an event is about.
pub const NODE_NAME: &str = "workflows.argoproj.io/node-name";
/// The annotation giving that node's type.
pub const NODE_TYPE: &str = "workflows.argoproj.io/node-type";
/// Most bytes of a node's message an event quotes (a tenant may write a long one into the
/// status): the limit events.k8s.io sets on a note.
const MAX_QUOTED_BYTES: usize = 1024;

/// The events for the nodes whose phase differs between `before` and `after`, by node ID.
pub(crate) fn changes(
    before: &BTreeMap<String, NodeStatus>,
    after: &BTreeMap<String, NodeStatus>,
) -> Vec<NodeEvent> {
    let completed = |phase: NodePhase| {
        matches!(
            phase,
            NodePhase::Succeeded | NodePhase::Failed | NodePhase::Error
        )
    };
    let mut out = Vec::new();
    for (id, node) in after {
        match before.get(id).map(|n| n.phase) {
            Some(phase) if phase == node.phase => {}
            Some(phase) => {
                if phase == NodePhase::Pending && completed(node.phase) {
                    out.push(event(node, NodePhase::Running));
                }
                out.push(event(node, node.phase));
            }
            None if node.phase == NodePhase::Running => out.push(event(node, NodePhase::Running)),
            None if completed(node.phase) => {
                out.push(event(node, NodePhase::Running));
                out.push(event(node, node.phase));
            }
            None => {}
        }
    }
    out
}

/// The event saying `node` is in `phase`, with the node's message (Argo's "it ran" event for a
/// node first seen completed is a copy of the node, message included).
fn event(node: &NodeStatus, phase: NodePhase) -> NodeEvent {
    let mut message = format!("{phase} node {}", node.name);
    if let Some(said) = node.message.as_deref().filter(|m| !m.is_empty()) {
        let mut end = said.len().min(MAX_QUOTED_BYTES);
        while !said.is_char_boundary(end) {
            end -= 1;
        }
        message.push_str(": ");
        message.push_str(&said[..end]);
    }
    let type_ = serde_json::to_value(node.type_)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    NodeEvent {
        warning: !matches!(phase, NodePhase::Succeeded | NodePhase::Running),
        reason: format!("WorkflowNode{phase}"),
        message,
        node_name: node.name.clone(),
        node_type: type_,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::NodeType;

    fn node(name: &str, phase: NodePhase, message: Option<&str>) -> NodeStatus {
        serde_json::from_value(serde_json::json!({
            "id": name, "name": name, "displayName": name, "type": "Pod",
            "phase": phase, "message": message,
        }))
        .expect("a node")
    }

    fn nodes(list: &[NodeStatus]) -> BTreeMap<String, NodeStatus> {
        list.iter().map(|n| (n.id.clone(), n.clone())).collect()
    }

    fn said(events: &[NodeEvent]) -> Vec<(bool, &str, &str)> {
        events
            .iter()
            .map(|e| (e.warning, e.reason.as_str(), e.message.as_str()))
            .collect()
    }

    #[test]
    fn each_change_of_phase_is_an_event_as_argo_words_it() {
        let before = nodes(&[
            node("wf.a", NodePhase::Running, None),
            node("wf.b", NodePhase::Pending, None),
            node("wf.c", NodePhase::Running, None),
            node("wf.same", NodePhase::Running, None),
        ]);
        let after = nodes(&[
            node("wf.a", NodePhase::Succeeded, None),
            node("wf.b", NodePhase::Failed, Some("Error (exit code 1)")),
            node(
                "wf.c",
                NodePhase::Skipped,
                Some("when 'false' evaluated false"),
            ),
            node("wf.same", NodePhase::Running, None),
            node("wf.new", NodePhase::Running, None),
            node("wf.pending", NodePhase::Pending, None),
            node("wf.done", NodePhase::Error, Some("pod deleted")),
            node("wf.omitted", NodePhase::Omitted, None),
        ]);
        assert_eq!(
            said(&changes(&before, &after)),
            [
                (false, "WorkflowNodeSucceeded", "Succeeded node wf.a"),
                (
                    false,
                    "WorkflowNodeRunning",
                    "Running node wf.b: Error (exit code 1)"
                ),
                (
                    true,
                    "WorkflowNodeFailed",
                    "Failed node wf.b: Error (exit code 1)"
                ),
                (
                    true,
                    "WorkflowNodeSkipped",
                    "Skipped node wf.c: when 'false' evaluated false"
                ),
                (
                    false,
                    "WorkflowNodeRunning",
                    "Running node wf.done: pod deleted"
                ),
                (true, "WorkflowNodeError", "Error node wf.done: pod deleted"),
                (false, "WorkflowNodeRunning", "Running node wf.new"),
            ]
        );
    }

    #[test]
    fn a_long_message_is_quoted_in_part() {
        let long = "é".repeat(2000);
        let events = changes(
            &BTreeMap::new(),
            &nodes(&[node("wf", NodePhase::Running, Some(&long))]),
        );
        let quoted = events[0].message.strip_prefix("Running node wf: ").unwrap();
        assert!(
            quoted.len() <= MAX_QUOTED_BYTES && long.starts_with(quoted),
            "{}",
            quoted.len()
        );
    }

    #[test]
    fn an_event_names_its_node_and_type() {
        let mut dag = node("wf", NodePhase::Running, None);
        dag.type_ = NodeType::Dag;
        let events = changes(&BTreeMap::new(), &nodes(&[dag]));
        let about = &events[0];
        assert_eq!(
            (about.node_name.as_str(), about.node_type.as_str()),
            ("wf", "DAG")
        );
    }
}
