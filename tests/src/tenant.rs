//! Tenants with the rights a tenant really has, for the attacker's tests.
//!
//! A tenant is a service account in a namespace of its own, bound (by a RoleBinding, never a
//! ClusterRoleBinding) to the rights Argo's quick start gives a workflow author and the pods of
//! their workflows: workflows in their namespace, and pods and task results where they are
//! granted them. It authenticates with a bound token from the TokenRequest API, so the API
//! server (simulated or real) enforces RBAC on everything it sends.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, RoleBinding, RoleRef, Subject};
use k8s_openapi::serde;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};

use crate::{Env, Kubectl, TempDir, unique};

/// Creates `object`, or merge-patches it over the one of that name (`kubectl apply` without
/// server-side apply, which the simulator does not implement).
pub async fn create_or_merge<K>(api: &Api<K>, name: &str, object: &K) -> Result<()>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
{
    match api.create(&PostParams::default(), object).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            api.patch(name, &PatchParams::default(), &Patch::Merge(object))
                .await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// A bound token, valid for an hour, for the service account `account` of `accounts`.
pub async fn bound_token(accounts: &Api<ServiceAccount>, account: &str) -> Result<String> {
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![],
            expiration_seconds: Some(3600),
            bound_object_ref: None,
        },
        ..Default::default()
    };
    Ok(accounts
        .create_token_request(account, &PostParams::default(), &request)
        .await?
        .status
        .context("the token request has no status")?
        .token)
}

/// A RoleBinding `name` of the `kind` (`Role` or `ClusterRole`) `role` to the service account
/// `account` of `namespace`.
pub fn role_binding(
    name: &str,
    kind: &str,
    role: &str,
    account: &str,
    namespace: &str,
) -> RoleBinding {
    RoleBinding {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: kind.into(),
            name: role.into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: account.into(),
            namespace: Some(namespace.into()),
            ..Default::default()
        }]),
    }
}

/// The ClusterRole every tenant is bound to, namespace by namespace.
pub const TENANT_ROLE: &str = "flotilla-e2e-tenant";

/// What a tenant may do where it is bound: write workflows (spec and status alike, as Argo's
/// CRD has no status subresource), and create pods and task results as its workflows' pods do.
fn tenant_rules() -> Vec<PolicyRule> {
    let rule = |group: &str, resources: &[&str], verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![group.into()]),
        resources: Some(resources.iter().map(|r| r.to_string()).collect()),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..Default::default()
    };
    let all = [
        "create", "get", "list", "watch", "update", "patch", "delete",
    ];
    vec![
        rule("argoproj.io", &["workflows"], &all),
        rule("argoproj.io", &["workflowtaskresults"], &all),
        rule("", &["pods"], &all),
        rule("", &["pods/log"], &["get", "list", "watch"]),
        rule("", &["events"], &["get", "list", "watch"]),
    ]
}

/// The quick start's executor Role for `namespace`'s default service account: its workflow
/// pods report their outputs (manifests/quick-start/cluster-1/executor-rbac.yaml).
pub async fn executor_rbac(admin: &kube::Client, namespace: &str) -> Result<()> {
    let yaml = include_str!("../../manifests/quick-start/cluster-1/executor-rbac.yaml")
        .replace("namespace: default", &format!("namespace: {namespace}"));
    flotilla::manifests::apply_yaml(admin, "executor-rbac.yaml", &yaml, namespace)
        .await
        .with_context(|| format!("granting the executor's rights in {namespace}"))?;
    Ok(())
}

/// A tenant: its namespace, and a client and kubectl that act as its service account.
pub struct Tenant {
    /// The tenant's own namespace (in the context it was made in).
    pub namespace: String,
    pub account: String,
    pub client: kube::Client,
    context: String,
    kubeconfig: PathBuf,
    admin: kube::Client,
    _dir: TempDir,
}

/// Names only: the clients hold tokens (and `kube::Client` has no `Debug`).
impl std::fmt::Debug for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenant")
            .field("namespace", &self.namespace)
            .field("account", &self.account)
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

impl Env {
    /// A new tenant in `context`: a namespace named from `prefix`, a service account `tenant`
    /// there bound to [`TENANT_ROLE`] in that namespace only, and a client with its token.
    pub async fn tenant(&self, context: &str, prefix: &str) -> Result<Tenant> {
        let admin = self.client(context).await?;
        let namespace = unique(prefix);
        let account = "tenant".to_string();
        let roles: Api<ClusterRole> = Api::all(admin.clone());
        let role = ClusterRole {
            metadata: ObjectMeta {
                name: Some(TENANT_ROLE.into()),
                ..Default::default()
            },
            rules: Some(tenant_rules()),
            ..Default::default()
        };
        create_or_merge(&roles, TENANT_ROLE, &role)
            .await
            .context("creating the tenant ClusterRole")?;
        let namespaces: Api<Namespace> = Api::all(admin.clone());
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .with_context(|| format!("creating namespace {namespace}"))?;
        let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), &namespace);
        let sa = ServiceAccount {
            metadata: ObjectMeta {
                name: Some(account.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        accounts.create(&PostParams::default(), &sa).await?;
        let token = bound_token(&accounts, &account)
            .await
            .with_context(|| format!("requesting a token for {namespace}/{account}"))?;
        let dir = TempDir::new()?;
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            serde_yaml::to_string(&self.kubeconfig_as(context, &token)?)?,
        )?;
        let kc = kube::config::Kubeconfig::read_from(&kubeconfig)?;
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await?;
        let tenant = Tenant {
            namespace: namespace.clone(),
            account,
            client: kube::Client::try_from(config)?,
            context: context.to_string(),
            kubeconfig,
            admin,
            _dir: dir,
        };
        tenant.grant(&tenant.admin, &namespace).await?;
        Ok(tenant)
    }

    /// A client for `context`'s cluster that authenticates with `token` alone (a service
    /// account's bound token, say): the API server enforces that identity's rights.
    pub async fn client_with_token(&self, context: &str, token: &str) -> Result<kube::Client> {
        let kc: kube::config::Kubeconfig =
            serde_json::from_value(self.kubeconfig_as(context, token)?)?;
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// This environment's kubeconfig with one context, `context`'s cluster, and a user that
    /// authenticates with `token` alone.
    fn kubeconfig_as(&self, context: &str, token: &str) -> Result<serde_json::Value> {
        let cluster = self.cluster_of(context)?;
        Ok(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [serde_json::to_value(&cluster)?],
            "users": [{"name": "tenant", "user": {"token": token}}],
            "contexts": [{"name": "tenant", "context": {"cluster": cluster.name, "user": "tenant"}}],
            "current-context": "tenant",
        }))
    }
}

impl Tenant {
    /// Binds the tenant's rights in `namespace` too (in the tenant's context): a namespace it
    /// shares with others, where the quick start lets its workflows' pods run. Workflow pods
    /// there get the executor's rights, as the quick start grants them.
    pub async fn grant(&self, admin: &kube::Client, namespace: &str) -> Result<()> {
        executor_rbac(admin, namespace).await?;
        let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), namespace);
        let name = format!("{TENANT_ROLE}-{}", self.namespace);
        let binding = role_binding(
            &name,
            "ClusterRole",
            TENANT_ROLE,
            &self.account,
            &self.namespace,
        );
        create_or_merge(&bindings, &name, &binding)
            .await
            .with_context(|| format!("binding the tenant's role in {namespace}"))?;
        Ok(())
    }

    /// The real kubectl, as the tenant.
    pub fn kubectl(&self) -> Kubectl {
        Kubectl {
            kubeconfig: self.kubeconfig.clone(),
            context: "tenant".into(),
        }
    }

    /// The context the tenant was made in.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// Deletes the tenant's namespace (and with it everything in it) and waits until it is gone.
    pub async fn remove(self) -> Result<()> {
        let namespaces: Api<Namespace> = Api::all(self.admin.clone());
        match namespaces
            .delete(&self.namespace, &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
        let name = self.namespace.clone();
        crate::wait_for(
            &format!("namespace {name} to be deleted"),
            Duration::from_secs(120),
            || {
                let namespaces = namespaces.clone();
                let name = name.clone();
                async move { Ok(namespaces.get_opt(&name).await?.is_none().then_some(())) }
            },
        )
        .await
    }
}
