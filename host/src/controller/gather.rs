//! What a reconcile decides from: complete caches, where the workflow's pods may be seen, what
//! is proven its own there, the policy and plugins in force, and what earlier passes left to
//! record (pods made, creations refused).

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Context, observe, scopes};
use flotilla_engine::Observed;
use flotilla_engine::ports::Policies;
use flotilla_engine::workflow::Workflow;

/// How long a reconcile waits for the caches' first lists before trying again.
const CACHES_READY_WAIT: Duration = Duration::from_secs(30);

/// The engine's input for one workflow, and what the rest of the reconcile needs of its making.
pub(super) struct Gathered {
    pub(super) observed: Observed,
    /// Pods made on an earlier pass whose status write was lost to a conflict (node ID → uid).
    pub(super) made: BTreeMap<String, String>,
    /// An unfinished node is in a cluster that cannot be seen, failing for this long.
    pub(super) blind_for: Option<Duration>,
}

/// Gathers what `wf` is decided from; `None` while the caches are not complete (before the
/// first list of pods has arrived — just after a restart — an absent pod means "not seen yet",
/// not "deleted").
pub(super) async fn gather(ctx: &Context, wf: &Workflow, namespace: &str) -> Option<Gathered> {
    if !ctx.caches_ready.within(CACHES_READY_WAIT).await {
        return None;
    }
    let key = wf.metadata.uid.clone().unwrap_or_default();
    let access = ctx.access.read().clone();
    let own_cluster = ctx.engine.cluster.as_deref();
    let sight = scopes::look(ctx, wf, namespace, access.as_ref()).await;
    // Pods made on earlier passes count as the node's until this status shows them recorded.
    ctx.made.settle(&key, |node, uid| {
        wf.status
            .as_ref()
            .and_then(|s| s.nodes.get(node))
            .is_some_and(|n| n.pod_uid.as_deref() == Some(uid))
    });
    let made = ctx.made.of(&key);
    let mut observed =
        observe::observe(
            wf,
            own_cluster,
            &ctx.proof_key,
            &made,
            |cluster, ns| match cluster {
                None => scopes::may_observe(own_cluster, namespace, None, ns, access.as_ref())
                    .then_some((&ctx.pods, &ctx.results)),
                Some(c) => sight
                    .remotes
                    .get(&(c.to_string(), ns.to_string()))
                    .map(|r| (&r.pods, &r.results)),
            },
        );
    observed.access = Some(access);
    observed.config_maps = Some(ctx.parameter_maps.clone());
    observed.expressions = Some(crate::expressions::port());
    observed.expression_fuel = Some(ctx.allowances.left(namespace));
    observed.workflow_templates = Some(ctx.workflow_templates.clone());
    observed.images = ctx.images.read().clone();
    observed.policies = match &ctx.fixed_policies {
        Some((placement, naming)) => Policies {
            placement: Some(placement.clone()),
            naming: Some(naming.clone()),
            clusters: ctx.clusters.read().clone(),
        },
        None => ctx.plugins.policies(ctx.clusters.read().clone()),
    };
    let blind_for = sight.blinds(wf, namespace).then(|| sight.failing_basis());
    observed.blind = sight.blind;
    observed.forgotten = sight.forgotten;
    observed.unreachable = sight.unreachable;
    observed.create_errors.extend(ctx.refusals.of(&key));
    Some(Gathered {
        observed,
        made,
        blind_for,
    })
}
