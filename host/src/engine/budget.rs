//! What one reconcile may spend walking a workflow: nodes made and steps taken through the node
//! graph.
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

/// Steps one reconcile may take following edges (`outboundNodes`, `children`) of the graph.
/// A 5,000-task DAG whose tasks all hang off the DAG node, decided all at once, takes about
/// 12.5 million (each link checks the parent's children); a status the API server can store
/// holds far fewer edges.
pub(super) const MAX_GRAPH_STEPS: usize = 64_000_000;

/// Why a walk stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Overrun {
    /// More nodes than a workflow's status may hold.
    Nodes,
    /// More steps through the node graph than one reconcile may take.
    GraphSteps,
}

impl Overrun {
    pub(super) fn message(self) -> String {
        match self {
            Overrun::Nodes => format!(
                "the workflow would hold more than {MAX_NODES} nodes (a template that calls itself more than once per level doubles its nodes with each level)"
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
    overrun: Cell<Option<Overrun>>,
}

impl Default for WalkBudget {
    fn default() -> Self {
        WalkBudget {
            steps_left: Cell::new(MAX_GRAPH_STEPS),
            overrun: Cell::new(None),
        }
    }
}

impl WalkBudget {
    /// Spends `steps` through the graph; `false` once the budget is spent (then for good).
    pub(super) fn step(&self, steps: usize) -> bool {
        if self.overrun.get().is_some() {
            return false;
        }
        match self.steps_left.get().checked_sub(steps) {
            Some(left) => {
                self.steps_left.set(left);
                true
            }
            None => {
                self.overrun.set(Some(Overrun::GraphSteps));
                false
            }
        }
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
    fn nodes_stop_at_the_most_a_status_may_hold() {
        let budget = WalkBudget::default();
        assert!(budget.new_node(MAX_NODES - 1));
        assert!(!budget.new_node(MAX_NODES));
        assert_eq!(budget.overrun(), Some(Overrun::Nodes));
        assert!(!budget.step(1));
    }
}
