//! What one reconcile may spend walking a workflow: nodes made, bytes of input and output
//! values recorded on them, bytes of pod manifests built, and steps taken through the node graph.
//!
//! The spec and the status are the tenant's to write, and both can make a walk grow faster than
//! the object that describes it: a template that calls itself twice per level doubles its nodes
//! with each level, and `outboundNodes` forged to lead many nodes to the same large set
//! multiplies the steps of every walk through them. The budget is far above what a workflow the
//! API server could store the status of needs, and bounds what one that cannot be stored costs
//! the controller every tenant shares: once it is spent the walk stops and the workflow errors
//! saying why.

use std::cell::Cell;

use super::graph::MAX_NODES;

/// Steps one reconcile may take following edges (`outboundNodes`, `children`) of the graph:
/// each node expanded, each child looked up when linked (a parent of many children keeps a set
/// of them). A status the API server can store holds far fewer edges.
pub(super) const MAX_GRAPH_STEPS: usize = 64_000_000;

/// Bytes of input values one walk may record on nodes: a status the API server could store
/// (1.5 MiB) holds far less, and a tenant's 1 MiB default taken by 100,000 nodes must not cost
/// the controller 100 GB.
pub(super) const MAX_NODE_BYTES: usize = 64 * 1024 * 1024;

/// Bytes of pod manifests one reconcile may build: 10,000 pods of a few kilobytes each fit many
/// times over. The pods past it are created on a later reconcile, as past the create cap.
pub(super) const MAX_MANIFEST_BYTES: usize = 128 * 1024 * 1024;

/// Why a walk stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Overrun {
    /// More nodes than a workflow's status may hold.
    Nodes,
    /// More steps through the node graph than one reconcile may take.
    GraphSteps,
    /// More bytes of input and output values on nodes than one reconcile may record.
    NodeBytes,
}

impl Overrun {
    pub(super) fn message(self) -> String {
        match self {
            Overrun::Nodes => format!(
                "the workflow would hold more than {MAX_NODES} nodes (a template that calls itself more than once per level doubles its nodes with each level)"
            ),
            Overrun::NodeBytes => format!(
                "the workflow's nodes would record more than {MAX_NODE_BYTES} bytes of input and output values"
            ),
            Overrun::GraphSteps => format!(
                "deciding the workflow took more than {MAX_GRAPH_STEPS} steps through its node graph (status.nodes leading many nodes to the same large set of outbound nodes)"
            ),
        }
    }
}

/// The budget of one walk. Interior mutability: the graph is followed from `&self` methods.
#[derive(Debug)]
pub(super) struct WalkBudget {
    steps_left: Cell<usize>,
    node_bytes_left: Cell<usize>,
    manifest_bytes_left: Cell<usize>,
    overrun: Cell<Option<Overrun>>,
}

impl Default for WalkBudget {
    fn default() -> Self {
        WalkBudget {
            steps_left: Cell::new(MAX_GRAPH_STEPS),
            node_bytes_left: Cell::new(MAX_NODE_BYTES),
            manifest_bytes_left: Cell::new(MAX_MANIFEST_BYTES),
            overrun: Cell::new(None),
        }
    }
}

/// Takes `amount` from `left`; `false` (and nothing taken) when there is not that much.
fn take(left: &Cell<usize>, amount: usize) -> bool {
    match left.get().checked_sub(amount) {
        Some(rest) => {
            left.set(rest);
            true
        }
        None => false,
    }
}

impl WalkBudget {
    /// Takes `amount` from `left`, or stops the walk for `reason` when there is not that much.
    fn spend(&self, left: &Cell<usize>, amount: usize, reason: Overrun) -> bool {
        if self.overrun.get().is_some() {
            return false;
        }
        if !take(left, amount) {
            self.overrun.set(Some(reason));
            return false;
        }
        true
    }

    /// Records `bytes` of input values on a node; `false` (the walk stops) past the budget.
    pub(super) fn node_bytes(&self, bytes: usize) -> bool {
        self.spend(&self.node_bytes_left, bytes, Overrun::NodeBytes)
    }

    /// Builds a pod manifest of `bytes`; `false` when this reconcile has built its share (the
    /// pod waits for the next one — nothing is wrong with the workflow).
    pub(super) fn manifest_bytes(&self, bytes: usize) -> bool {
        take(&self.manifest_bytes_left, bytes)
    }

    /// Spends `steps` through the graph; `false` once the budget is spent (then for good).
    pub(super) fn step(&self, steps: usize) -> bool {
        self.spend(&self.steps_left, steps, Overrun::GraphSteps)
    }

    /// Whether one more node may be made, when `held` are held already.
    pub(super) fn new_node(&self, held: usize) -> bool {
        if self.overrun.get().is_some() {
            return false;
        }
        if held >= MAX_NODES {
            self.overrun.set(Some(Overrun::Nodes));
            return false;
        }
        true
    }

    /// Why the walk was stopped, if it was.
    pub(super) fn overrun(&self) -> Option<Overrun> {
        self.overrun.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_budget_stays_spent() {
        let budget = WalkBudget::default();
        assert!(budget.step(MAX_GRAPH_STEPS - 1));
        assert!(budget.step(1));
        assert!(!budget.step(1));
        assert_eq!(budget.overrun(), Some(Overrun::GraphSteps));
        assert!(!budget.new_node(0), "nothing more once stopped");
    }

    #[test]
    fn manifests_past_their_share_wait_without_stopping_the_walk() {
        let budget = WalkBudget::default();
        assert!(budget.manifest_bytes(MAX_MANIFEST_BYTES));
        assert!(!budget.manifest_bytes(1));
        assert_eq!(budget.overrun(), None);
        assert!(budget.node_bytes(MAX_NODE_BYTES));
        assert!(!budget.node_bytes(1));
        assert_eq!(budget.overrun(), Some(Overrun::NodeBytes));
    }

    #[test]
    fn nodes_stop_at_the_most_a_status_may_hold() {
        let budget = WalkBudget::default();
        assert!(budget.new_node(MAX_NODES - 1));
        assert!(!budget.new_node(MAX_NODES));
        assert_eq!(budget.overrun(), Some(Overrun::Nodes));
        assert!(!budget.step(1));
    }
}
