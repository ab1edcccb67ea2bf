//! The node graph's edges as the walk builds and reads them: a node's children, and a node's
//! outbound nodes (where its successors hang).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use super::walk::Walker;
use crate::workflow::NodeType;

/// Children a parent may have before `add_child` keeps a set of them instead of scanning.
const WIDE_PARENT: usize = 64;

/// The children of parents with many, as sets, for the rest of the walk.
#[derive(Default)]
pub(super) struct WideParents(HashMap<String, HashSet<String>>);

impl Walker<'_> {
    /// Links a node created just now: nothing to de-duplicate, so no scan of the siblings.
    pub(super) fn push_new_child(&mut self, parent: &str, child: &str) {
        if let Some(node) = self.nodes.get_mut(parent) {
            node.children.push(child.to_string());
            if let Some(set) = self.wide.0.get_mut(parent) {
                set.insert(child.to_string());
            }
        }
    }

    /// Links `child` under `parent` unless it is linked already. A parent of few children is
    /// scanned; one of many gets a set for the rest of the walk, so the root tasks of a wide
    /// DAG, linked on every reconcile, cost their number, not its square.
    pub(super) fn add_child(&mut self, parent: &str, child: &str) {
        // A child held back (suspension, parallelism) has no node yet: nothing to link.
        if !self.nodes.contains_key(child) {
            return;
        }
        let Some(node) = self.nodes.get_mut(parent) else {
            return;
        };
        let linked = if node.children.len() < WIDE_PARENT {
            if !self.budget.step(1 + node.children.len()) {
                return;
            }
            node.children.iter().any(|c| c == child)
        } else {
            let set = match self.wide.0.entry(parent.to_string()) {
                Entry::Occupied(set) => set.into_mut(),
                Entry::Vacant(slot) => {
                    if !self.budget.step(node.children.len()) {
                        return;
                    }
                    slot.insert(node.children.iter().cloned().collect())
                }
            };
            !set.insert(child.to_string())
        };
        if !linked {
            node.children.push(child.to_string());
        }
    }

    /// Argo's `getOutboundNodes` for each of `ids` in turn: the nodes a successor of all of them
    /// hangs off. Iterative, and one walk for all, each node expanded once (and charged to the
    /// walk's budget): the graph comes from the status, which the engine checks
    /// (`graph::check`) but never trusts — a forged one can lead every id to the same large set.
    pub(super) fn outbound<'i>(&'i self, ids: impl IntoIterator<Item = &'i str>) -> Vec<String> {
        let mut out = Vec::new();
        let mut expanded = HashSet::new();
        let starts: Vec<&str> = ids.into_iter().collect();
        // Depth-first, in order: reversed onto the stack so the first edge is popped first.
        let mut todo: Vec<&str> = starts.into_iter().rev().collect();
        while let Some(id) = todo.pop() {
            let Some(node) = self.nodes.get(id) else {
                continue;
            };
            if !expanded.insert(id) || !self.budget.step(1) {
                continue;
            }
            let next = match node.type_ {
                NodeType::Pod
                | NodeType::Skipped
                | NodeType::Suspend
                | NodeType::Container
                | NodeType::Plugin => {
                    out.push(id.to_string());
                    continue;
                }
                NodeType::TaskGroup if node.children.is_empty() => {
                    out.push(id.to_string());
                    continue;
                }
                NodeType::TaskGroup => &node.children,
                NodeType::Retry => {
                    // The last attempt, not the exit hook a Retry node may have after it (one at
                    // most: two children are enough, whatever a forged status lists).
                    let last = node.children.iter().rev().take(2).find(|c| {
                        self.nodes
                            .get(c.as_str())
                            .is_none_or(|n| !super::hooks::is_hook(n))
                    });
                    out.push(last.map_or(id, String::as_str).to_string());
                    continue;
                }
                _ => &node.outbound_nodes,
            };
            todo.extend(next.iter().rev().map(String::as_str));
        }
        out
    }
}
