//! Where a pod node runs — the template's `cluster` (or `clusterName`) and `namespace`, by
//! default the workflow's own — and whether the workflow may create there. The check is the
//! controller's Casbin policy ([`super::Access`]), made before every create outside the
//! workflow's own cluster and namespace; nothing bypasses it.

use super::walk::Walker;
use crate::authz;
use crate::workflow::{NodePhase, Template};

/// Where a node's pod goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Placement {
    /// `None`: the controller's own cluster.
    pub(super) cluster: Option<String>,
    pub(super) namespace: String,
}

/// The message of a node whose cluster cannot be reached.
pub(super) fn unreachable_message(cluster: &str, problem: &str) -> String {
    format!("cluster {cluster:?} is unreachable; waiting for it: {problem}")
}

fn is_unreachable_message(message: Option<&str>) -> bool {
    message.is_some_and(|m| {
        m.starts_with("cluster \"") && m.contains("\" is unreachable; waiting for it: ")
    })
}

impl Walker<'_> {
    /// For a pod node in a cluster that cannot be reached: its phase as it was, with a message
    /// saying why nothing moves. A node whose cluster is back loses that message.
    pub(super) fn while_unreachable(&mut self, id: &str) -> Option<NodePhase> {
        let node = self.nodes.get_mut(id)?;
        let cluster = node.cluster.as_deref()?;
        let namespace = node.namespace.as_deref().unwrap_or(&self.namespace);
        match self
            .observed
            .unreachable
            .get(&(cluster.to_string(), namespace.to_string()))
        {
            Some(problem) if !node.phase.is_fulfilled() => {
                node.message = Some(unreachable_message(cluster, problem));
                Some(node.phase)
            }
            _ => {
                if is_unreachable_message(node.message.as_deref()) {
                    node.message = None;
                }
                None
            }
        }
    }

    /// The node's placement, recorded on the node; or the phase and message it fails with.
    pub(super) fn place(
        &mut self,
        id: &str,
        template: &Template,
    ) -> Result<Placement, (NodePhase, String)> {
        let namespace = template
            .namespace
            .clone()
            .unwrap_or_else(|| self.namespace.clone());
        let own = self.config.cluster.as_deref();
        let cluster = match (template.cluster(), own) {
            (Err((a, b)), _) => {
                let message = format!(
                    "template {:?}: cluster {a:?} and clusterName {b:?} disagree; set one",
                    template.name
                );
                return Err((NodePhase::Error, message));
            }
            (Ok(Some(c)), Some(own)) if c == own => None,
            (Ok(Some(c)), Some(_)) => Some(c.to_string()),
            (Ok(Some(c)), None) => {
                let message = format!(
                    "template {:?} runs in cluster {c:?}, but this controller has no cluster name: set ARGO_CLUSTER (or --cluster-name) on the controller",
                    template.name
                );
                return Err((NodePhase::Error, message));
            }
            (Ok(None), _) => None,
        };
        if let Some(node) = self.nodes.get_mut(id) {
            node.cluster = cluster.clone();
            node.namespace = (namespace != self.namespace).then(|| namespace.clone());
        }
        Ok(Placement { cluster, namespace })
    }

    /// Whether the workflow may create in `place` (always in its own cluster and namespace).
    pub(super) fn authorize(&self, place: &Placement) -> Result<(), String> {
        if place.cluster.is_none() && place.namespace == self.namespace {
            return Ok(());
        }
        let own = self.config.cluster.as_deref().unwrap_or_default();
        let target = place.cluster.as_deref().unwrap_or(own);
        let subject = authz::scope(own, &self.namespace);
        let object = authz::scope(target, &place.namespace);
        let allowed = match &self.observed.access {
            Some(access) => access.allows(&subject, &object),
            None => subject == object,
        };
        if allowed {
            Ok(())
        } else {
            Err(authz::denial(&self.namespace, target, &place.namespace))
        }
    }
}
