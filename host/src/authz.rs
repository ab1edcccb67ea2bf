//! Which workflows may create pods and resources where: a Casbin policy, in the format of the
//! multi-cluster design. The subject is `<controller's cluster>:<workflow namespace>`, the
//! object `<target cluster>:<target namespace>`; the default model allows a workflow its own
//! cluster and namespace and the policy grants the rest.
//!
//! The model and policy come from ConfigMap `workflow-controller-authz` (keys `model.conf` and
//! `policy.csv`). An [`Authorizer`] is immutable: a reload builds a new one (so its decision
//! cache starts empty), and one that fails to build leaves the last good one in place.

use hashlink::LruCache;

use casbin::{CoreApi, DefaultModel, Enforcer, Model, StringAdapter};
use parking_lot::Mutex;

/// The ConfigMap holding the model and policy, in the controller's namespace.
pub const CONFIG_MAP: &str = "workflow-controller-authz";
pub const MODEL_KEY: &str = "model.conf";
pub const POLICY_KEY: &str = "policy.csv";

/// The design's model: a workflow may use its own cluster and namespace, and whatever the
/// policy grants (`keyMatch`, so `*` matches any suffix).
pub const DEFAULT_MODEL: &str = "[request_definition]
r = sub, obj

[policy_definition]
p = sub, obj

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.sub == r.obj || keyMatch(r.sub, p.sub) && keyMatch(r.obj, p.obj)
";

/// Why a model or policy cannot be used; names the ConfigMap key at fault.
#[derive(Debug, thiserror::Error)]
pub enum AuthzError {
    #[error("ConfigMap {CONFIG_MAP} key {MODEL_KEY}: {0}")]
    Model(String),
    #[error("ConfigMap {CONFIG_MAP} key {POLICY_KEY}: {0}")]
    Policy(String),
}

pub use flotilla_engine::ports::{cluster_denial, cluster_wide, denial, scope};

/// Decisions kept per loaded policy. Every distinct (subject, object) a workflow's spec or
/// status names is one entry, and a tenant names as many as it likes: the least recently used
/// go first, and a decision dropped is only computed again.
pub const DECISION_CACHE_ENTRIES: usize = 4096;

/// A loaded model and policy, with its recent decisions cached.
pub struct Authorizer {
    enforcer: Enforcer,
    decisions: Mutex<LruCache<(String, String), bool>>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("cached_decisions", &self.decisions.lock().len())
            .finish()
    }
}

impl Authorizer {
    /// A model and policy as they appear in the ConfigMap (`None`: the key is absent, so the
    /// default model or an empty policy).
    ///
    /// Whatever the ConfigMap holds, this returns: casbin-rs panics on some models and policies
    /// while loading or checking them (an unknown `policy_effect`, a `keyMatch2` or
    /// `regexMatch` pattern that is not a valid regex), and such a panic is this error instead.
    pub async fn new(model: Option<&str>, policy: Option<&str>) -> Result<Authorizer, AuthzError> {
        use futures::FutureExt as _;
        match std::panic::AssertUnwindSafe(Authorizer::load(model, policy))
            .catch_unwind()
            .await
        {
            Ok(loaded) => loaded,
            Err(panic) => Err(AuthzError::Model(format!(
                "casbin cannot load or evaluate it with this policy: {}",
                crate::panics::message(panic.as_ref())
            ))),
        }
    }

    async fn load(model: Option<&str>, policy: Option<&str>) -> Result<Authorizer, AuthzError> {
        let model_text = model
            .filter(|m| !m.trim().is_empty())
            .unwrap_or(DEFAULT_MODEL);
        let model = DefaultModel::from_str(model_text)
            .await
            .map_err(|e| AuthzError::Model(e.to_string()))?;
        check_model(&model)?;
        let policy = policy.unwrap_or_default();
        check_policy(policy)?;
        let adapter = StringAdapter::new(policy);
        let enforcer = Enforcer::new(model, adapter)
            .await
            .map_err(|e| AuthzError::Policy(e.to_string()))?;
        let authorizer = Authorizer {
            enforcer,
            decisions: Mutex::new(LruCache::new(DECISION_CACHE_ENTRIES)),
        };
        // A matcher that does not evaluate fails every check: find out now, not per pod.
        authorizer
            .enforcer
            .enforce(("probe:a", "probe:b"))
            .map_err(|e| AuthzError::Model(format!("the matcher cannot be evaluated: {e}")))?;
        Ok(authorizer)
    }

    /// The default model with an empty policy: each workflow only in its own cluster and namespace.
    pub async fn default_policy() -> Authorizer {
        match Authorizer::new(None, None).await {
            Ok(a) => a,
            Err(e) => unreachable!("the built-in model is valid: {e}"),
        }
    }

    /// Whether `subject` (`cluster:namespace` of the workflow) may create in `object`.
    /// A check that cannot be evaluated denies — and so does one that panics: casbin-rs's
    /// `keyMatch` slices by byte and panics on a multi-byte character (see `docs/security.md`).
    /// Callers validate names first; this is the second line.
    pub fn allows(&self, subject: &str, object: &str) -> bool {
        let key = (subject.to_string(), object.to_string());
        if let Some(decision) = self.decisions.lock().get(&key) {
            return *decision;
        }
        let enforce = std::panic::AssertUnwindSafe(|| self.enforcer.enforce((subject, object)));
        let decision = match std::panic::catch_unwind(enforce) {
            Ok(result) => result.unwrap_or(false),
            Err(_) => {
                tracing::warn!(
                    subject = %subject.escape_debug(),
                    object = %object.escape_debug(),
                    "the policy check panicked; denied"
                );
                false
            }
        };
        self.decisions.lock().insert(key, decision);
        decision
    }
}

impl flotilla_engine::ports::Access for Authorizer {
    fn allows(&self, subject: &str, object: &str) -> bool {
        Authorizer::allows(self, subject, object)
    }
}

/// The model must take requests and policies of two fields (`sub, obj`), as the design's do.
fn check_model(model: &DefaultModel) -> Result<(), AuthzError> {
    let fields = |section: &str, key: &str| {
        model
            .get_model()
            .get(section)
            .and_then(|s| s.get(key))
            .map(|a| a.tokens.len())
    };
    for (section, key, what) in [
        ("r", "r", "request_definition r"),
        ("p", "p", "policy_definition p"),
    ] {
        match fields(section, key) {
            Some(2) => {}
            Some(n) => {
                return Err(AuthzError::Model(format!(
                    "{what} has {n} fields; Flotilla checks two (sub, obj)"
                )));
            }
            None => return Err(AuthzError::Model(format!("{what} is missing"))),
        }
    }
    Ok(())
}

/// Each policy line must be `p, SUBJECT, OBJECT` (comments and blank lines aside).
fn check_policy(policy: &str) -> Result<(), AuthzError> {
    for (i, line) in policy.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != 3 || fields[0] != "p" || fields[1..].iter().any(|f| f.is_empty()) {
            return Err(AuthzError::Policy(format!(
                "line {}: {line:?} is not \"p, SUBJECT, OBJECT\"",
                i + 1
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_POLICY: &str = "# Workflows in the \"argo\" namespace may create resources in the \"cluster-1\" cluster's \"default\" namespace
p, cluster-0:argo, cluster-1:default

# Workflows in the \"argo\" namespace may create resources in the primary cluster's \"default\" namespace
p, cluster-0:argo, cluster-0:default
";

    #[tokio::test]
    async fn the_seed_model_and_policy_decide_as_the_design_says() {
        let a = Authorizer::new(Some(DEFAULT_MODEL), Some(SEED_POLICY))
            .await
            .unwrap();
        assert!(
            a.allows("cluster-0:argo", "cluster-0:argo"),
            "its own namespace"
        );
        assert!(a.allows("cluster-0:argo", "cluster-1:default"));
        assert!(a.allows("cluster-0:argo", "cluster-0:default"));
        assert!(!a.allows("cluster-0:argo", "cluster-1:kube-system"));
        assert!(!a.allows("cluster-0:other", "cluster-1:default"));
        // Cached decisions give the same answers.
        assert!(a.allows("cluster-0:argo", "cluster-1:default"));
        assert!(!a.allows("cluster-0:argo", "cluster-1:kube-system"));
    }

    /// A tenant's status may name any number of places: the cache keeps the most recent
    /// decisions only, and a decision evicted is computed again, the same.
    #[tokio::test]
    async fn the_decision_cache_is_bounded() {
        let a = Authorizer::new(None, Some("p, cluster-0:team-a, cluster-1:*"))
            .await
            .unwrap();
        assert!(a.allows("cluster-0:team-a", "cluster-1:first"));
        for i in 0..DECISION_CACHE_ENTRIES + 10 {
            assert!(!a.allows("cluster-0:team-b", &format!("cluster-1:ns-{i}")));
        }
        assert_eq!(a.decisions.lock().len(), DECISION_CACHE_ENTRIES);
        assert!(
            !a.decisions
                .lock()
                .contains_key(&("cluster-0:team-a".into(), "cluster-1:first".into())),
            "the oldest decision went first"
        );
        assert!(a.allows("cluster-0:team-a", "cluster-1:first"));
    }

    /// casbin-rs's `keyMatch` panics on a request whose byte at the pattern's `*` is inside a
    /// multi-byte character: the minimal reproduction reported upstream (docs/security.md).
    #[tokio::test]
    async fn a_check_that_panics_in_casbin_denies() {
        let a = Authorizer::new(None, Some("p, cluster-0:team-a, cluster-1:*"))
            .await
            .unwrap();
        let keymatch = std::panic::catch_unwind(|| {
            casbin::function_map::key_match("cluster-\u{20ac}", "cluster-1:*")
        });
        assert!(
            keymatch.is_err(),
            "casbin-rs's keyMatch no longer panics: drop the guard?"
        );
        assert!(!a.allows("cluster-0:team-a", "cluster-\u{20ac}"));
        assert!(
            a.allows("cluster-0:team-a", "cluster-1:x"),
            "still answers afterwards"
        );
    }

    /// Found by the fuzz target (`controller::fuzz::policies`): casbin-rs panics while
    /// loading a model whose effect it does not know, and while checking a `keyMatch2`
    /// pattern that is not a valid regex; either is an error naming the key, not a panic in
    /// the controller's start-up or ConfigMap watch.
    #[tokio::test]
    async fn a_model_or_policy_that_panics_in_casbin_is_refused() {
        let bad_effect = DEFAULT_MODEL.replace("e = some(", "e = x some(");
        let e = Authorizer::new(Some(&bad_effect), None).await.unwrap_err();
        assert!(
            e.to_string()
                .starts_with("ConfigMap workflow-controller-authz key model.conf: casbin cannot load or evaluate it"),
            "{e}"
        );
        let key_match2 = DEFAULT_MODEL.replace(
            "m = r.sub == r.obj || keyMatch(r.sub, p.sub) && keyMatch(r.obj, p.obj)",
            "m = keyMatch2(r.sub, p.sub) && keyMatch2(r.obj, p.obj)",
        );
        // `:x` matches any subject without a slash (the probe's too); `(` is no regex.
        assert!(
            Authorizer::new(Some(&key_match2), Some("p, :x, ("))
                .await
                .is_err()
        );
        assert!(
            Authorizer::new(Some(&key_match2), Some("p, :x, c:*"))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn by_default_only_the_workflows_own_namespace() {
        let a = Authorizer::default_policy().await;
        assert!(a.allows("cluster-0:argo", "cluster-0:argo"));
        assert!(!a.allows("cluster-0:argo", "cluster-0:default"));
        assert!(!a.allows("cluster-0:argo", "cluster-1:argo"));
    }

    #[tokio::test]
    async fn wildcards_match_with_key_match() {
        let a = Authorizer::new(None, Some("p, cluster-0:*, cluster-1:*"))
            .await
            .unwrap();
        assert!(a.allows("cluster-0:ci", "cluster-1:anything"));
        assert!(!a.allows("cluster-0:ci", "cluster-2:anything"));
    }

    #[tokio::test]
    async fn only_a_whole_cluster_line_grants_cluster_scoped_objects() {
        let a = Authorizer::new(
            None,
            Some("p, cluster-0:a, cluster-1:*\np, cluster-0:b, cluster-1:b\np, cluster-0:c, cluster-1:team-*\np, cluster-0:d, *"),
        )
        .await
        .unwrap();
        let wide = cluster_wide("cluster-1");
        assert!(a.allows("cluster-0:a", &wide));
        assert!(
            !a.allows("cluster-0:b", &wide),
            "one namespace is not the cluster"
        );
        assert!(!a.allows("cluster-0:c", &wide), "nor is a namespace prefix");
        assert!(a.allows("cluster-0:d", &wide));
        assert!(!a.allows("cluster-0:a", &cluster_wide("cluster-2")));
        // Nor does the default model's own-namespace rule reach it.
        let default = Authorizer::default_policy().await;
        assert!(!default.allows("cluster-0:argo", &cluster_wide("cluster-0")));
    }

    #[tokio::test]
    async fn bad_models_and_policies_name_the_key() {
        async fn err(m: Option<&str>, p: Option<&str>) -> String {
            Authorizer::new(m, p).await.unwrap_err().to_string()
        }
        assert!(
            err(Some("[request_definition]\nr = sub, obj, act\n[policy_definition]\np = sub, obj, act\n[policy_effect]\ne = some(where (p.eft == allow))\n[matchers]\nm = r.sub == p.sub"), None)
                .await
                .starts_with("ConfigMap workflow-controller-authz key model.conf: request_definition r has 3 fields")
        );
        assert!(
            err(Some("not a model"), None)
                .await
                .starts_with("ConfigMap workflow-controller-authz key model.conf: ")
        );
        assert_eq!(
            err(None, Some("p, cluster-0:argo")).await,
            r#"ConfigMap workflow-controller-authz key policy.csv: line 1: "p, cluster-0:argo" is not "p, SUBJECT, OBJECT""#
        );
    }
}
