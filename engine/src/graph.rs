//! The node graph read from a workflow's status, checked before it is walked.
//!
//! Argo's `Workflow` has no status subresource, so whoever may write a workflow may write its
//! `status.nodes`: the graph is input, not memory. The engine follows `children` and
//! `outboundNodes` from node to node; a forged graph must fail its own workflow with a message,
//! never loop, overflow the stack or make the controller act on another workflow's pods.

use std::collections::{BTreeMap, HashMap};

use super::placement::shown;
use crate::workflow::NodeStatus;

/// Most nodes one workflow's status may hold. Argo keeps the status of a large workflow in a
/// database instead (`nodeStatusOffLoad`); an object stored in etcd (1.5 MiB) holds far fewer.
pub(super) const MAX_NODES: usize = 100_000;

/// Why `nodes` is not a graph the controller could have written: a key that is not its node's
/// ID, or a cycle through `children` and `outboundNodes`. Linear in nodes plus edges, with no
/// recursion. An edge to a node that does not exist is allowed: the engine links a child held
/// back by parallelism before it has a node, and every walk skips a missing node.
pub(super) fn check(nodes: &BTreeMap<String, NodeStatus>) -> Result<(), String> {
    if nodes.len() > MAX_NODES {
        return Err(format!(
            "status.nodes holds {} nodes; at most {MAX_NODES} are supported",
            nodes.len()
        ));
    }
    for (key, node) in nodes {
        if *key != node.id {
            return Err(format!(
                "status.nodes[{}] has id {}; a node's key is its id",
                shown(key),
                shown(&node.id)
            ));
        }
    }
    acyclic(nodes)
}

/// Depth-first search with an explicit stack, colouring nodes as it goes.
fn acyclic(nodes: &BTreeMap<String, NodeStatus>) -> Result<(), String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        /// On the current path.
        Grey,
        /// Every node reachable from it has been seen, without a cycle.
        Black,
    }
    fn edges(node: &NodeStatus) -> impl Iterator<Item = &String> {
        node.children.iter().chain(node.outbound_nodes.iter())
    }
    let mut colour: HashMap<&str, Colour> = HashMap::with_capacity(nodes.len());
    for start in nodes.keys() {
        if colour.contains_key(start.as_str()) {
            continue;
        }
        colour.insert(start, Colour::Grey);
        let mut stack = Vec::new();
        if let Some(node) = nodes.get(start) {
            stack.push((start.as_str(), edges(node)));
        }
        while let Some((id, next)) = stack.last_mut() {
            let id = *id;
            match next.next() {
                Some(to) => match colour.get(to.as_str()) {
                    Some(Colour::Grey) => {
                        return Err(format!(
                            "status.nodes[{}] leads back to itself through {}; a node graph has no cycles",
                            shown(to),
                            shown(id)
                        ));
                    }
                    Some(Colour::Black) => {}
                    None => {
                        if let Some((to, node)) = nodes.get_key_value(to) {
                            colour.insert(to, Colour::Grey);
                            stack.push((to.as_str(), edges(node)));
                        }
                    }
                },
                None => {
                    colour.insert(id, Colour::Black);
                    stack.pop();
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::NodeType;

    fn node(id: &str, children: &[&str], outbound: &[&str]) -> (String, NodeStatus) {
        let mut n: NodeStatus = serde_json::from_value(serde_json::json!({
            "id": id, "name": id, "displayName": id, "type": "Steps", "phase": "Running",
        }))
        .unwrap();
        n.type_ = NodeType::Steps;
        n.children = children.iter().map(|c| c.to_string()).collect();
        n.outbound_nodes = outbound.iter().map(|c| c.to_string()).collect();
        (id.to_string(), n)
    }

    fn graph(nodes: &[(String, NodeStatus)]) -> BTreeMap<String, NodeStatus> {
        nodes.iter().cloned().collect()
    }

    #[test]
    fn a_diamond_is_a_graph() {
        let g = graph(&[
            node("a", &["b", "c"], &["d"]),
            node("b", &["d"], &[]),
            node("c", &["d"], &[]),
            node("d", &[], &[]),
        ]);
        assert_eq!(check(&g), Ok(()));
    }

    #[test]
    fn a_node_that_is_its_own_outbound_node_is_refused() {
        let g = graph(&[node("a", &[], &["a"])]);
        let e = check(&g).unwrap_err();
        assert!(
            e.contains("status.nodes[\"a\"] leads back to itself"),
            "{e}"
        );
    }

    #[test]
    fn a_longer_cycle_is_refused() {
        let g = graph(&[
            node("a", &["b"], &[]),
            node("b", &["c"], &[]),
            node("c", &[], &["a"]),
        ]);
        assert!(check(&g).unwrap_err().contains("leads back to itself"));
    }

    #[test]
    fn dangling_edges_pass_and_wrong_keys_are_refused() {
        let g = graph(&[node("a", &["zz"], &["a-missing"])]);
        assert_eq!(check(&g), Ok(()));
        let (_, n) = node("a", &[], &[]);
        let g: BTreeMap<String, NodeStatus> = [("b".to_string(), n)].into();
        assert!(check(&g).unwrap_err().contains("has id \"a\""));
    }

    #[test]
    fn a_deep_chain_is_checked_without_recursion() {
        // Deep enough to overflow the stack of a recursive walk many times over.
        let ids: Vec<String> = (0..50_000).map(|i| format!("n{i}")).collect();
        let g: BTreeMap<String, NodeStatus> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let next: Vec<&str> = ids.get(i + 1).map(String::as_str).into_iter().collect();
                node(id, &next, &[])
            })
            .collect();
        assert_eq!(check(&g), Ok(()));
    }

    #[test]
    fn names_in_messages_are_cut_short() {
        let long = "x".repeat(10_000);
        let g = graph(&[node(&long, &[], &[&long])]);
        assert!(check(&g).unwrap_err().len() < 400);
    }
}
