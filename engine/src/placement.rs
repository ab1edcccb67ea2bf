//! Where a pod node runs — the template's `cluster` (or `clusterName`) and `namespace`, by
//! default the workflow's own — and whether the workflow may create there. The check is the
//! controller's Casbin policy ([`super::Access`]), made before every create outside the
//! workflow's own cluster and namespace; nothing bypasses it — not a placement policy either
//! (`crate::ports`), whose answer is checked like the template's.

use std::collections::HashMap;
use std::time::Duration;

use super::walk::{Call, Walker};
use crate::naming;
use crate::ports;
use crate::ports::{Place, TemplateInfo};
use crate::workflow::{NodePhase, Template};

/// How soon a node waiting for a policy's answer is looked at again.
const POLICY_RETRY: Duration = Duration::from_secs(5);

/// At most this much of a name read from the workflow is repeated in a message.
const SHOWN: usize = 64;

/// `s` quoted for a message, cut short: what a tenant wrote is repeated, but never at length.
pub(super) fn shown(s: &str) -> String {
    match s.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{:?}…", &s[..end]),
        None => format!("{s:?}"),
    }
}

/// How the message of a node waiting for a policy starts.
const WAITING: &str = "waiting for the ";

/// Where a node's pod goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Placement {
    /// `None`: the controller's own cluster.
    pub(super) cluster: Option<String>,
    pub(super) namespace: String,
}

/// The policy's verdict per place, asked once per walk (`Err`: the denial's message).
#[derive(Default)]
pub(super) struct Verdicts(HashMap<Placement, Result<(), String>>);

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
    ///
    /// A node whose pod was refused for good (no credentials for the cluster, say) is not
    /// waiting: the refusal ends it (`None`, and the walk goes on to it).
    pub(super) fn while_unreachable(&mut self, id: &str) -> Option<NodePhase> {
        if self.observed.create_errors.contains_key(id) {
            return None;
        }
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

    /// What the policies are told about a node whose place and pod name are still to decide:
    /// `None` when no policy is in force, or the node's are decided (recorded, or its pod exists).
    pub(super) fn undecided(
        &self,
        id: &str,
        call: &Call,
        template: &Template,
    ) -> Option<TemplateInfo> {
        let policies = &self.observed.policies;
        let in_force = policies.placement.is_some() || policies.naming.is_some();
        let recorded = self.nodes.get(id).is_some_and(|n| n.pod_name.is_some());
        // A pod made before policies were in force keeps its place and name: seen, or only
        // recorded as made (`podUID`, from the create's answer) while the cache lags behind.
        let made = self.observed.pods.contains_key(id)
            || self.nodes.get(id).is_some_and(|n| n.pod_uid.is_some());
        (in_force && !recorded && !made).then(|| self.template_info(call, template))
    }

    /// Where a node's pod was placed, when that is not the workflow's own namespace in this
    /// cluster; allocates only then (the hot path asks for every observed pod).
    pub(super) fn placed_elsewhere(&self, id: &str) -> Option<Placement> {
        let node = self.nodes.get(id)?;
        let own = self.config.cluster.as_deref();
        let cluster = node.cluster.as_deref().filter(|c| Some(*c) != own);
        let namespace = node.namespace.as_deref().unwrap_or(&self.namespace);
        (cluster.is_some() || namespace != self.namespace).then(|| Placement {
            cluster: cluster.map(str::to_string),
            namespace: namespace.to_string(),
        })
    }

    /// The node's placement, recorded on the node; or the phase and message it fails (or, for a
    /// policy without an answer, waits) with. A node placed by a policy keeps that place; the
    /// policy is asked only for an `undecided` node (`info`).
    pub(super) fn place(
        &mut self,
        id: &str,
        info: Option<&TemplateInfo>,
        template: &Template,
    ) -> Result<Placement, (NodePhase, String)> {
        if let Some(node) = self.nodes.get(id).filter(|n| n.pod_name.is_some()) {
            // What the status records is what anyone who can write the workflow wrote: checked
            // like a template's answer before anything is done there.
            let recorded = Placement {
                cluster: node.cluster.clone(),
                namespace: node
                    .namespace
                    .clone()
                    .unwrap_or_else(|| self.namespace.clone()),
            };
            let pod_name = node.pod_name.as_deref().unwrap_or_default();
            if let Some(e) = naming::dns_subdomain_error(pod_name) {
                let message = format!(
                    "status.nodes[{}].podName {} is not a pod name: {e}",
                    shown(id),
                    shown(pod_name)
                );
                return Err((NodePhase::Error, message));
            }
            let what = || format!("status.nodes[{}]", shown(id));
            self.check_place(&recorded, what)?;
            return Ok(recorded);
        }
        let default = self.template_place(template)?;
        let chosen = match (info, &self.observed.policies.placement) {
            (Some(info), Some(policy)) => {
                match policy.place(info, &self.observed.policies.clusters) {
                    Ok(Some(place)) => {
                        let chosen = self.placement_of(place);
                        let what = || "the placement policy's answer".to_string();
                        self.check_names(&chosen, what)?;
                        chosen
                    }
                    Ok(None) => default,
                    Err(message) => {
                        self.requeue(POLICY_RETRY);
                        return Err((
                            NodePhase::Pending,
                            format!("{WAITING}placement policy: {message}"),
                        ));
                    }
                }
            }
            _ => default,
        };
        // Recorded (valid names only) before it is authorized, so a refused node shows where
        // it was refused.
        if let Some(node) = self.nodes.get_mut(id) {
            node.cluster = chosen.cluster.clone();
            node.namespace = (chosen.namespace != self.namespace).then(|| chosen.namespace.clone());
        }
        self.authorize_place(&chosen)?;
        Ok(chosen)
    }

    /// A policy's answer as a placement: an empty (or this controller's) cluster is this one,
    /// an empty namespace the workflow's.
    fn placement_of(&self, place: Place) -> Placement {
        let own = self.config.cluster.as_deref();
        let cluster = Some(place.cluster).filter(|c| !c.is_empty() && Some(c.as_str()) != own);
        let namespace = match place.namespace.is_empty() {
            true => self.namespace.clone(),
            false => place.namespace,
        };
        Placement { cluster, namespace }
    }

    /// What a policy is told about a node.
    fn template_info(&self, call: &Call, template: &Template) -> TemplateInfo {
        TemplateInfo {
            workflow: self.wf_name.clone(),
            workflow_namespace: self.namespace.clone(),
            node_name: call.node_name.clone(),
            // A template from a WorkflowTemplate by its own name, as Argo names it.
            template_name: template
                .name
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string(),
            cluster: template
                .cluster()
                .ok()
                .flatten()
                .unwrap_or_default()
                .to_string(),
            namespace: template.namespace.clone().unwrap_or_default(),
            annotations: template
                .metadata
                .iter()
                .flat_map(|m| &m.annotations)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// The pod's name: recorded on the node once policies are in force (the marker that its
    /// place is decided), Argo's otherwise; or why the naming policy gave none. Policies are
    /// asked only for an `undecided` node (`info`).
    pub(super) fn pod_name_for(
        &mut self,
        id: &str,
        info: Option<&TemplateInfo>,
        call: &Call,
        template: &Template,
        place: &Placement,
    ) -> Result<String, String> {
        if let Some(name) = self.nodes.get(id).and_then(|n| n.pod_name.clone()) {
            return Ok(name);
        }
        let native = naming::pod_name(&self.wf_name, &call.node_name, &template.name, self.format);
        let Some(info) = info else {
            return Ok(native);
        };
        let name = match &self.observed.policies.naming {
            Some(policy) => {
                let place = Place {
                    cluster: place.cluster.clone().unwrap_or_default(),
                    namespace: place.namespace.clone(),
                };
                match policy.pod_name(info, &place) {
                    Ok(name) => name.unwrap_or(native),
                    Err(message) => {
                        self.requeue(POLICY_RETRY);
                        return Err(format!("{WAITING}naming policy: {message}"));
                    }
                }
            }
            None => native,
        };
        if let Some(node) = self.nodes.get_mut(id) {
            node.pod_name = Some(name.clone());
            // Decided: a message saying it waited for a policy no longer holds.
            if node
                .message
                .as_deref()
                .is_some_and(|m| m.starts_with(WAITING))
            {
                node.message = None;
            }
        }
        Ok(name)
    }

    /// Where the template (or, failing that, the workflow) says the node runs.
    fn template_place(&self, template: &Template) -> Result<Placement, (NodePhase, String)> {
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
        let place = Placement { cluster, namespace };
        self.check_names(&place, || format!("template {:?}", template.name))?;
        Ok(place)
    }

    /// Checks a placement read from the workflow (its spec or status) or a policy's answer:
    /// valid names, then allowed by the policy.
    fn check_place(
        &mut self,
        place: &Placement,
        what: impl Fn() -> String,
    ) -> Result<(), (NodePhase, String)> {
        self.check_names(place, what)?;
        self.authorize_place(place)
    }

    /// Cluster and namespace must be DNS-1123 labels before they reach a policy string, a URL or
    /// a label; `what` names where they came from.
    fn check_names(
        &self,
        place: &Placement,
        what: impl Fn() -> String,
    ) -> Result<(), (NodePhase, String)> {
        if let Some(cluster) = &place.cluster
            && let Some(e) = naming::dns_label_error(cluster)
        {
            let message = format!(
                "{}: cluster {} is not a valid cluster name: {e}",
                what(),
                shown(cluster)
            );
            return Err((NodePhase::Error, message));
        }
        if let Some(e) = naming::dns_label_error(&place.namespace) {
            let message = format!(
                "{}: namespace {} is not a valid namespace: {e}",
                what(),
                shown(&place.namespace)
            );
            return Err((NodePhase::Error, message));
        }
        Ok(())
    }

    /// [`Self::authorize`], asked once per place and walk: every pod node is re-authorized on
    /// every reconcile (a revoked grant stops what runs there), at the cost of one lookup.
    pub(super) fn authorize_place(&mut self, place: &Placement) -> Result<(), (NodePhase, String)> {
        if place.cluster.is_none() && place.namespace == self.namespace {
            return Ok(());
        }
        let verdict = match self.verdicts.0.get(place) {
            Some(verdict) => verdict.clone(),
            None => {
                let verdict = self.authorize(place);
                self.verdicts.0.insert(place.clone(), verdict.clone());
                verdict
            }
        };
        verdict.map_err(|denied| (NodePhase::Failed, denied))
    }

    /// Whether the workflow may create in `place` (always in its own cluster and namespace).
    pub(super) fn authorize(&self, place: &Placement) -> Result<(), String> {
        if place.cluster.is_none() && place.namespace == self.namespace {
            return Ok(());
        }
        let own = self.config.cluster.as_deref().unwrap_or_default();
        let target = place.cluster.as_deref().unwrap_or(own);
        let subject = ports::scope(own, &self.namespace);
        let object = ports::scope(target, &place.namespace);
        let allowed = match &self.observed.access {
            Some(access) => access.allows(&subject, &object),
            None => subject == object,
        };
        if allowed {
            Ok(())
        } else {
            Err(ports::denial(&self.namespace, target, &place.namespace))
        }
    }
}
