//! A steps or DAG template's own `parallelism` and `failFast`, as Argo's `checkParallelism`
//! applies them: a template with `parallelism: N` starts no new child while N of its children
//! (pods, steps, DAGs) are pending or running, and one with `failFast: true` fails once a child
//! has failed, starting nothing more. The workflow's `parallelism` is the pod budget
//! (`creates_left`), not this.
//!
//! Children are counted when the first new child would start, so those walked before it this
//! reconcile count with their new phases.

use super::walk::{Call, Walker};
use crate::workflow::{NodePhase, NodeType, Template};

/// Argo's message for a template failed by `failFast`.
const FAIL_FAST: &str = "template has failed or errored children and failFast enabled";

/// The limits of one steps or DAG node, for this reconcile.
#[derive(Debug, Clone, Default)]
pub(super) struct Limits {
    parallelism: Option<usize>,
    fail_fast: bool,
    /// New children it may still start; counted at the first start.
    left: Option<usize>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Children {
    active: usize,
    unsuccessful: usize,
}

/// Argo's `isActiveNodeType`: the children that count.
fn counts(t: NodeType) -> bool {
    matches!(t, NodeType::Pod | NodeType::Steps | NodeType::Dag)
}

impl Walker<'_> {
    /// On entering the steps or DAG node `id`: records its template's limits.
    pub(super) fn enter_boundary(&mut self, id: &str, template: &Template) {
        let parallelism = template
            .parallelism
            .and_then(|p| usize::try_from(p).ok())
            .filter(|p| *p > 0);
        let fail_fast = template.fail_fast == Some(true);
        if parallelism.is_some() || fail_fast {
            let limits = Limits {
                parallelism,
                fail_fast,
                left: None,
            };
            self.limits.insert(id.to_string(), limits);
        }
    }

    /// Once its children are walked: `Some(Failed)` when `failFast` fails the node `id`.
    pub(super) fn leave_boundary(&mut self, id: &str) -> Option<NodePhase> {
        let fail_fast = self.limits.get(id).is_some_and(|l| l.fail_fast);
        if fail_fast && self.children_of(id).unsuccessful > 0 {
            return Some(self.mark(id, NodePhase::Failed, Some(FAIL_FAST.into())));
        }
        None
    }

    /// Whether the call's node, about to be created, may start under its boundary's limits
    /// (and counts it if so). Retry attempts are not held back: their retry node was.
    pub(super) fn may_start(&mut self, call: &Call) -> bool {
        if call.attempt {
            return true;
        }
        let Some(boundary) = call.boundary_id.as_deref() else {
            return true;
        };
        let Some(limits) = self.limits.get(boundary) else {
            return true;
        };
        let left = match limits.left {
            Some(left) => left,
            None => {
                let (parallelism, fail_fast) = (limits.parallelism, limits.fail_fast);
                let children = self.children_of(boundary);
                if fail_fast && children.unsuccessful > 0 {
                    0
                } else {
                    parallelism.map_or(usize::MAX, |p| p.saturating_sub(children.active))
                }
            }
        };
        let allowed = left > 0;
        if let Some(limits) = self.limits.get_mut(boundary) {
            limits.left = Some(if allowed { left - 1 } else { 0 });
        }
        allowed
    }

    fn children_of(&self, boundary: &str) -> Children {
        let mut children = Children::default();
        // A scan of every node, per boundary with limits: charged, as a forged status can hold
        // many such boundaries.
        if !self.budget.step(self.nodes.len()) {
            return children;
        }
        let inside = self
            .nodes
            .values()
            .filter(|n| counts(n.type_) && n.boundary_id.as_deref() == Some(boundary));
        for node in inside {
            match node.phase {
                NodePhase::Pending | NodePhase::Running => children.active += 1,
                NodePhase::Failed | NodePhase::Error => children.unsuccessful += 1,
                _ => {}
            }
        }
        children
    }
}
