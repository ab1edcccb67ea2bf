//! The controller's live configuration, from its own namespace: the `rest-config` Secret (other
//! clusters), the `workflow-controller-authz` ConfigMap (who may create where) and the
//! `flotilla-plugins` ConfigMap (`super::plugins`), and Argo's `images` setting in
//! `workflow-controller-configmap` (`super::images`). All are watched; a change applies to the next reconcile without a restart. A policy that does not
//! load leaves the last good one in force; a rest-config key that does not parse is skipped.
//! Either way the reason goes to the log and to an event on the object at fault — never a
//! secret value.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, reflector, watcher};
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
    let cm = config_map(client, namespace, authz::CONFIG_MAP).await?;
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

/// Puts the plugins of `flotilla-plugins` as it is now in force, before the first reconcile:
/// until then a profile of a kind only a provider reads would look unusable, and the nodes
/// placed there would fail. The watch takes over from here (a component already in force is
/// not loaded again).
pub(super) async fn load_plugins(ctx: &Context, namespace: &str) -> Result<(), ControllerError> {
    if let Some(cm) = config_map(&ctx.client, namespace, plugins::CONFIG_MAP).await? {
        super::plugins::apply(ctx, Some(&cm)).await;
    }
    Ok(())
}

/// Puts the `images` and `nodeEvents` of `workflow-controller-configmap` as it is now in force,
/// before the
/// first reconcile (the watch takes over from here).
pub(super) async fn load_images(ctx: &Context, namespace: &str) -> Result<(), ControllerError> {
    let cm = config_map(&ctx.client, namespace, super::images::CONFIG_MAP).await?;
    super::images::apply(ctx, cm.as_ref()).await;
    super::node_events::apply(ctx, cm.as_ref()).await;
    Ok(())
}

/// ConfigMap `name` of the controller's namespace as it is now, read once at start.
async fn config_map(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Option<ConfigMap>, ControllerError> {
    Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|source| ControllerError::Config {
            namespace: namespace.to_string(),
            source,
        })
}

/// Watches the Secrets and the ConfigMap for as long as the controller runs.
pub(super) async fn watch(ctx: Arc<Context>, namespace: String) {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let config_maps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    let one = |name: &str| watcher::Config::default().fields(&format!("metadata.name={name}"));
    // Reflector stores take each (re-)list whole: a Secret deleted while a watch was down is
    // dropped at the list's end, and a list half-read never stands for the configuration.
    let (rest_store, rest_writer) = reflector::store::<Secret>();
    let (profile_store, profile_writer) = reflector::store::<Secret>();
    let rest_events = reflector::reflector(
        rest_writer,
        watcher(secrets.clone(), one(REST_CONFIG_SECRET)).default_backoff(),
    )
    .map(|e| (Stream::RestConfig, e));
    let profile_events = reflector::reflector(
        profile_writer,
        watcher(secrets, watcher::Config::default().labels(PROFILE_LABEL)).default_backoff(),
    )
    .map(|e| (Stream::Profiles, e));
    let policy_events = watcher(config_maps.clone(), one(authz::CONFIG_MAP)).default_backoff();
    let plugin_events = watcher(config_maps.clone(), one(plugins::CONFIG_MAP)).default_backoff();
    let image_events = watcher(config_maps, one(super::images::CONFIG_MAP)).default_backoff();
    let image_ctx = ctx.clone();
    let images = follow(image_events, super::images::CONFIG_MAP, move |cm| {
        let ctx = image_ctx.clone();
        async move {
            super::images::apply(&ctx, cm.as_ref()).await;
            super::node_events::apply(&ctx, cm.as_ref()).await;
        }
    });
    let secret_ctx = ctx.clone();
    let secrets = async move {
        let mut listed = Listed::default();
        let mut events = std::pin::pin!(futures::stream::select(rest_events, profile_events));
        while let Some((stream, event)) = events.next().await {
            let event = match event {
                Ok(event) => event,
                Err(e) => {
                    warn!(error = %e, "watching the controller's cluster Secrets");
                    continue;
                }
            };
            if listed.take(stream, &event) {
                let sources = load::Sources {
                    rest_config: rest_store.state().first().map(|s| Secret::clone(s)),
                    profiles: profile_store
                        .state()
                        .iter()
                        .map(|s| (s.name_any(), Secret::clone(s)))
                        .collect(),
                };
                apply_registry(&secret_ctx, &sources).await;
            }
        }
    };
    let plugin_ctx = ctx.clone();
    let plugin_configs = follow(plugin_events, plugins::CONFIG_MAP, move |cm| {
        let ctx = plugin_ctx.clone();
        async move { super::plugins::apply(&ctx, cm.as_ref()).await }
    });
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
    futures::join!(secrets, policies, plugin_configs, images);
}

/// Applies every version of the ConfigMap `name` that `events` brings (`None` once it is
/// deleted); a failed watch is logged and retried by the stream's back-off.
async fn follow<S, F, Fut>(events: S, name: &str, mut apply: F)
where
    S: futures::Stream<Item = Result<watcher::Event<ConfigMap>, watcher::Error>>,
    F: FnMut(Option<ConfigMap>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Apply(cm) | watcher::Event::InitApply(cm)) => apply(Some(cm)).await,
            Ok(watcher::Event::Delete(_)) => apply(None).await,
            Ok(_) => {}
            Err(e) => warn!(error = %e, "watching ConfigMap {name}"),
        }
    }
}

/// Which of the two Secret watches an event came from.
#[derive(Debug, Clone, Copy)]
enum Stream {
    RestConfig,
    Profiles,
}

/// Which of the Secret watches have listed once: nothing replaces the registry loaded at start
/// until both have (a `rest-config` without its profiles, or the reverse, is not the
/// configuration).
#[derive(Debug, Default)]
struct Listed {
    rest_config: bool,
    profiles: bool,
}

impl Listed {
    /// Takes one event in; returns whether the registry should be rebuilt from the stores: the
    /// end of a list or a change, once both watches have listed.
    fn take(&mut self, stream: Stream, event: &watcher::Event<Secret>) -> bool {
        use watcher::Event::*;
        let changed = match event {
            InitDone => {
                match stream {
                    Stream::RestConfig => self.rest_config = true,
                    Stream::Profiles => self.profiles = true,
                }
                true
            }
            Apply(_) | Delete(_) => true,
            Init | InitApply(_) => false,
        };
        changed && self.rest_config && self.profiles
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use watcher::Event::*;

    fn secret(name: &str) -> Secret {
        let mut s = Secret::default();
        s.metadata.name = Some(name.into());
        s
    }

    /// Until both watches have listed once, the registry loaded at start stays; after, every
    /// change and the end of every re-list rebuild it, and a list under way does not.
    #[test]
    fn nothing_replaces_the_registry_until_both_watches_have_listed() {
        let mut listed = Listed::default();
        assert!(!listed.take(Stream::RestConfig, &Init));
        assert!(!listed.take(Stream::RestConfig, &InitApply(secret("rest-config"))));
        assert!(
            !listed.take(Stream::RestConfig, &InitDone),
            "profiles not listed yet"
        );
        assert!(!listed.take(Stream::Profiles, &Apply(secret("p0"))));
        assert!(!listed.take(Stream::Profiles, &Init));
        assert!(!listed.take(Stream::Profiles, &InitApply(secret("p1"))));
        assert!(listed.take(Stream::Profiles, &InitDone));
        assert!(listed.take(Stream::Profiles, &Apply(secret("p2"))));
        assert!(listed.take(Stream::RestConfig, &Delete(secret("rest-config"))));
        assert!(!listed.take(Stream::Profiles, &Init));
        assert!(!listed.take(Stream::Profiles, &InitApply(secret("p2"))));
        assert!(listed.take(Stream::Profiles, &InitDone));
    }
}
