//! The controller's live configuration, from its own namespace: the `rest-config` Secret (other
//! clusters), the `workflow-controller-authz` ConfigMap (who may create where) and the
//! `flotilla-plugins` ConfigMap (`super::plugins`). All are watched; a change applies to the next reconcile without a restart. A policy that does not
//! load leaves the last good one in force; a rest-config key that does not parse is skipped.
//! Either way the reason goes to the log and to an event on the object at fault — never a
//! secret value.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use tracing::{info, warn};

use super::{Context, ControllerError, events};
use crate::authz::{self, Authorizer};
use crate::clusters::{PROFILE_LABEL, REST_CONFIG_SECRET, Registry, load};
use crate::plugins::settings as plugins;

/// The registry from the Secrets as they are now (none: no other clusters).
pub(super) async fn load_registry(
    client: &kube::Client,
    namespace: &str,
    access: &crate::clusters::LocalAccess,
) -> Result<Registry, ControllerError> {
    crate::clusters::load::registry(client, namespace, access)
        .await
        .map_err(|source| ControllerError::Config {
            namespace: namespace.to_string(),
            source,
        })
}

/// The policy from the ConfigMap as it is now (absent: the default). One that does not load is
/// reported, and the default applies until a good one arrives.
pub(super) async fn load_policy(
    client: &kube::Client,
    namespace: &str,
) -> Result<Authorizer, ControllerError> {
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let cm = config_maps
        .get_opt(authz::CONFIG_MAP)
        .await
        .map_err(|source| ControllerError::Config {
            namespace: namespace.to_string(),
            source,
        })?;
    let data = cm.and_then(|cm| cm.data).unwrap_or_default();
    let model = data.get(authz::MODEL_KEY).map(String::as_str);
    let policy = data.get(authz::POLICY_KEY).map(String::as_str);
    match Authorizer::new(model, policy).await {
        Ok(a) => Ok(a),
        Err(e) => {
            warn!(error = %e, "invalid authorization policy at start: the default applies");
            Ok(Authorizer::default_policy().await)
        }
    }
}

/// Watches the Secrets and the ConfigMap for as long as the controller runs.
pub(super) async fn watch(ctx: Arc<Context>, namespace: String) {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let config_maps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    let one = |name: &str| watcher::Config::default().fields(&format!("metadata.name={name}"));
    let rest_events = watcher(secrets.clone(), one(REST_CONFIG_SECRET))
        .default_backoff()
        .map(|e| (false, e));
    let profile_events = watcher(secrets, watcher::Config::default().labels(PROFILE_LABEL))
        .default_backoff()
        .map(|e| (true, e));
    let policy_events = watcher(config_maps.clone(), one(authz::CONFIG_MAP)).default_backoff();
    let plugin_events = watcher(config_maps, one(plugins::CONFIG_MAP)).default_backoff();
    let secret_ctx = ctx.clone();
    let secrets = async move {
        let mut sources = load::Sources::default();
        let mut events = std::pin::pin!(futures::stream::select(rest_events, profile_events));
        while let Some((profile, event)) = events.next().await {
            let changed = match event {
                Ok(watcher::Event::Apply(s) | watcher::Event::InitApply(s)) => {
                    match profile {
                        true => sources.profiles.insert(s.name_any(), s),
                        false => sources.rest_config.replace(s),
                    };
                    true
                }
                Ok(watcher::Event::Delete(s)) => {
                    match profile {
                        true => sources.profiles.remove(&s.name_any()),
                        false => sources.rest_config.take(),
                    };
                    true
                }
                Ok(_) => false,
                Err(e) => {
                    warn!(error = %e, "watching the controller's cluster Secrets");
                    false
                }
            };
            if changed {
                apply_registry(&secret_ctx, &sources).await;
            }
        }
    };
    let plugin_ctx = ctx.clone();
    let plugin_configs = async move {
        let mut events = std::pin::pin!(plugin_events);
        while let Some(event) = events.next().await {
            match event {
                Ok(watcher::Event::Apply(cm) | watcher::Event::InitApply(cm)) => {
                    super::plugins::apply(&plugin_ctx, Some(&cm)).await;
                }
                Ok(watcher::Event::Delete(_)) => super::plugins::apply(&plugin_ctx, None).await,
                Ok(_) => {}
                Err(e) => warn!(error = %e, "watching ConfigMap {}", plugins::CONFIG_MAP),
            }
        }
    };
    let policies = async move {
        let mut events = std::pin::pin!(policy_events);
        while let Some(event) = events.next().await {
            match event {
                Ok(watcher::Event::Apply(cm) | watcher::Event::InitApply(cm)) => {
                    apply_policy(&ctx, &cm).await;
                }
                Ok(watcher::Event::Delete(_)) => {
                    info!(
                        "ConfigMap {} deleted: the default policy applies",
                        authz::CONFIG_MAP
                    );
                    *ctx.access.write() = Arc::new(Authorizer::default_policy().await);
                }
                Ok(_) => {}
                Err(e) => warn!(error = %e, "watching ConfigMap {}", authz::CONFIG_MAP),
            }
        }
    };
    futures::join!(secrets, policies, plugin_configs);
}

async fn apply_registry(ctx: &Context, sources: &load::Sources) {
    let registry = sources.registry(&ctx.local_access);
    for problem in &registry.problems {
        warn!(problem = %problem, "unusable cluster credentials");
        if let Some(secret) = &sources.rest_config {
            events::warn_on(ctx, secret, "InvalidRestConfig", problem).await;
        }
    }
    let clusters: Vec<&str> = registry.clusters().collect();
    info!(clusters = ?clusters, "cluster credentials loaded");
    ctx.remotes.set_registry(registry);
}

async fn apply_policy(ctx: &Context, cm: &ConfigMap) {
    let data = cm.data.clone().unwrap_or_default();
    let model = data.get(authz::MODEL_KEY).map(String::as_str);
    let policy = data.get(authz::POLICY_KEY).map(String::as_str);
    match Authorizer::new(model, policy).await {
        Ok(authorizer) => {
            info!("authorization policy loaded");
            *ctx.access.write() = Arc::new(authorizer);
        }
        Err(e) => {
            let message = format!("{e}; keeping the last good policy");
            warn!(error = %message, "invalid authorization policy");
            events::warn_on(ctx, cm, "InvalidPolicy", &message).await;
        }
    }
}
