//! Enrolling another cluster, as the multi-cluster quick start does by hand: install what the
//! remote cluster needs (CRDs, the controller's and the executor's RBAC), mint a token for the
//! controller's service account there, and add a `rest-config` key for it to the primary
//! cluster. Used by `flotilla dev` and the end-to-end suite; every step is an ordinary API
//! request, so it works against real clusters too.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::json;

use super::REST_CONFIG_SECRET;

/// The controller's service account in a remote cluster (`manifests/quick-start/cluster-1`):
/// `<controller namespace>.<primary cluster>`, as the design's quick start names it.
pub const CONTROLLER_ACCOUNT: &str = "argo.cluster-0";

#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error(transparent)]
    Apply(#[from] crate::manifests::ApplyError),
    #[error("waiting for CRD {0} to be established in the remote cluster")]
    Crd(String),
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
}

/// Where the remote cluster is and how to trust it.
#[derive(Debug, Clone)]
pub struct RemoteCluster {
    pub name: String,
    pub server: String,
    /// The CA bundle, base64 (a kubeconfig's `certificate-authority-data`).
    pub ca_data: Option<String>,
}

/// Installs the quick start into `remote`'s `namespace` and adds key `CLUSTER.NAMESPACE` to the
/// primary's `rest-config` Secret (in `controller_namespace`), with a token valid for `ttl`.
pub async fn enroll(
    primary: &kube::Client,
    controller_namespace: &str,
    remote: &kube::Client,
    cluster: &RemoteCluster,
    namespace: &str,
    ttl: Duration,
) -> Result<String, EnrollError> {
    for (file, yaml) in crate::manifests::REMOTE {
        // The quick start's bindings name their service accounts in `default`, the namespace
        // it installs into; another namespace binds its own accounts.
        let yaml = yaml.replace("namespace: default", &format!("namespace: {namespace}"));
        crate::manifests::apply_yaml(remote, file, &yaml, namespace).await?;
    }
    let crds: Api<CustomResourceDefinition> = Api::all(remote.clone());
    for name in ["workflows.argoproj.io", "workflowtaskresults.argoproj.io"] {
        tokio::time::timeout(
            Duration::from_secs(30),
            await_condition(crds.clone(), name, conditions::is_crd_established()),
        )
        .await
        .map_err(|_| EnrollError::Crd(name.to_string()))?
        .map_err(|_| EnrollError::Crd(name.to_string()))?;
    }
    let accounts: Api<ServiceAccount> = Api::namespaced(remote.clone(), namespace);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: Vec::new(),
            bound_object_ref: None,
            expiration_seconds: Some(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
        },
        ..Default::default()
    };
    let token = accounts
        .create_token_request(CONTROLLER_ACCOUNT, &PostParams::default(), &request)
        .await
        .map_err(|source| EnrollError::Api {
            what: format!(
                "requesting a token for {namespace}/{CONTROLLER_ACCOUNT} in cluster {}",
                cluster.name
            ),
            source,
        })?
        .status
        .map(|s| s.token)
        .unwrap_or_default();
    let mut tls = serde_json::Map::new();
    if let Some(ca) = &cluster.ca_data {
        tls.insert("CAData".into(), json!(ca));
    }
    let value = json!({
        "Host": cluster.server,
        "BearerToken": token,
        "TLSClientConfig": tls,
    });
    let key = format!("{}.{namespace}", cluster.name);
    add_key(
        primary,
        controller_namespace,
        &key,
        value.to_string().into_bytes(),
    )
    .await?;
    Ok(key)
}

/// Adds (or replaces) one key of the `rest-config` Secret, creating the Secret if need be.
pub async fn add_key(
    primary: &kube::Client,
    controller_namespace: &str,
    key: &str,
    value: Vec<u8>,
) -> Result<(), EnrollError> {
    let secrets: Api<Secret> = Api::namespaced(primary.clone(), controller_namespace);
    let data = BTreeMap::from([(key.to_string(), ByteString(value))]);
    let what = || format!("adding key {key} to Secret {controller_namespace}/{REST_CONFIG_SECRET}");
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(REST_CONFIG_SECRET.into()),
            ..Default::default()
        },
        data: Some(data.clone()),
        ..Default::default()
    };
    match secrets.create(&PostParams::default(), &secret).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let encoded: BTreeMap<&str, String> = data
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str(),
                        base64::engine::general_purpose::STANDARD.encode(&v.0),
                    )
                })
                .collect();
            secrets
                .patch(
                    REST_CONFIG_SECRET,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"data": encoded})),
                )
                .await
                .map(|_| ())
                .map_err(|source| EnrollError::Api {
                    what: what(),
                    source,
                })
        }
        Err(source) => Err(EnrollError::Api {
            what: what(),
            source,
        }),
    }
}

/// The profile Secret of `cluster` (`flotilla cluster get-profile`): a kubeconfig for
/// `account` in the remote `namespace`, reaching the API server at `server`, for the primary's
/// `local_namespace`. The token is a service-account token Secret's (long-lived, revoked by
/// deleting that Secret), made in the remote cluster if need be.
pub async fn get_profile(
    remote: &kube::Client,
    cluster: &RemoteCluster,
    namespace: &str,
    account: &str,
    local_namespace: &str,
    insecure: bool,
) -> Result<Secret, EnrollError> {
    let token = account_token(remote, namespace, account).await?;
    let mut server = json!({"server": cluster.server});
    if insecure {
        server["insecure-skip-tls-verify"] = json!(true);
    } else if let Some(ca) = &cluster.ca_data {
        server["certificate-authority-data"] = json!(ca);
    }
    let kubeconfig = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster.name, "cluster": server}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": cluster.name, "context": {"cluster": cluster.name, "user": account, "namespace": namespace}}],
        "current-context": cluster.name,
    });
    let kubeconfig = serde_yaml::to_string(&kubeconfig).unwrap_or_default();
    let data = BTreeMap::from([
        (
            "kubeconfig".to_string(),
            ByteString(kubeconfig.into_bytes()),
        ),
        (
            "namespace".to_string(),
            ByteString(namespace.as_bytes().to_vec()),
        ),
    ]);
    Ok(Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(format!("flotilla-profile.{}.{namespace}", cluster.name)),
            namespace: Some(local_namespace.to_string()),
            labels: Some(BTreeMap::from([(
                super::PROFILE_LABEL.to_string(),
                cluster.name.clone(),
            )])),
            ..Default::default()
        },
        data: Some(data),
        ..Default::default()
    })
}

/// The token of a `kubernetes.io/service-account-token` Secret for `account`, created if
/// there is none yet, once the token controller has filled it in.
async fn account_token(
    remote: &kube::Client,
    namespace: &str,
    account: &str,
) -> Result<String, EnrollError> {
    let secrets: Api<Secret> = Api::namespaced(remote.clone(), namespace);
    let name = format!("{account}.profile-token");
    let what = || format!("the token Secret {namespace}/{name} of service account {account}");
    let wanted = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.clone()),
            annotations: Some(BTreeMap::from([(
                "kubernetes.io/service-account.name".to_string(),
                account.to_string(),
            )])),
            ..Default::default()
        },
        type_: Some("kubernetes.io/service-account-token".into()),
        ..Default::default()
    };
    match secrets.create(&PostParams::default(), &wanted).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(source) => {
            return Err(EnrollError::Api {
                what: what(),
                source,
            });
        }
    }
    let has_token = |s: Option<&Secret>| {
        s.and_then(|s| s.data.as_ref())
            .is_some_and(|d| d.contains_key("token"))
    };
    let filled = tokio::time::timeout(
        Duration::from_secs(30),
        await_condition(secrets, &name, has_token),
    )
    .await
    .map_err(|_| EnrollError::Crd(format!("{} to get its token", what())))?
    .map_err(|_| EnrollError::Crd(format!("{} to get its token", what())))?;
    let token = filled
        .and_then(|s| s.data)
        .and_then(|d| d.get("token").cloned())
        .map(|t| String::from_utf8_lossy(&t.0).into_owned())
        .unwrap_or_default();
    Ok(token)
}

/// The design's rest config for a kubeconfig context (`flotilla cluster add`): its server, CA
/// and TLS options, and its token, client certificate or basic credentials — files the
/// context names read and inlined, so the entry names none.
pub fn rest_config_of(
    kubeconfig: &kube::config::Kubeconfig,
    context: &str,
) -> Result<serde_json::Value, String> {
    let ctx = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.clone())
        .ok_or_else(|| format!("the kubeconfig has no context {context:?}"))?;
    let cluster = kubeconfig
        .clusters
        .iter()
        .find(|c| c.name == ctx.cluster)
        .and_then(|c| c.cluster.clone())
        .ok_or_else(|| format!("context {context:?}: no cluster {:?}", ctx.cluster))?;
    let user = ctx
        .user
        .as_deref()
        .and_then(|u| kubeconfig.auth_infos.iter().find(|a| a.name == u))
        .and_then(|a| a.auth_info.clone())
        .unwrap_or_default();
    use secrecy::ExposeSecret as _;
    let expose =
        |s: &Option<secrecy::SecretString>| s.as_ref().map(|s| s.expose_secret().to_string());
    if user.exec.is_some() || user.auth_provider.is_some() {
        return Err(format!(
            "context {context:?}: its user authenticates through an exec or auth-provider plugin, which a rest config cannot hold; use a token or a client certificate"
        ));
    }
    // Files the context names are the operator's, read here on the operator's machine: the
    // entry carries their contents, since the controller refuses entries naming its own files.
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(bytes);
    let read = |field: &str, path: Option<String>| -> Result<Option<Vec<u8>>, String> {
        path.map(|p| {
            std::fs::read(&p)
                .map_err(|e| format!("context {context:?}: reading its {field} {p}: {e}"))
        })
        .transpose()
    };
    let token_from_file =
        read("tokenFile", user.token_file)?.map(|t| String::from_utf8_lossy(&t).trim().to_string());
    let ca = cluster.certificate_authority_data.or(read(
        "certificate-authority",
        cluster.certificate_authority,
    )?
    .map(b64));
    let cert =
        user.client_certificate_data
            .or(read("client-certificate", user.client_certificate)?.map(b64));
    let key = expose(&user.client_key_data).or(read("client-key", user.client_key)?.map(b64));
    Ok(json!({
        "Host": cluster.server.ok_or_else(|| format!("context {context:?}: the cluster has no server"))?,
        "BearerToken": expose(&user.token).or(token_from_file).unwrap_or_default(),
        "Username": user.username.unwrap_or_default(),
        "Password": expose(&user.password).unwrap_or_default(),
        "TLSClientConfig": {
            "Insecure": cluster.insecure_skip_tls_verify.unwrap_or(false),
            "ServerName": cluster.tls_server_name.unwrap_or_default(),
            "CAData": ca,
            "CertData": cert,
            "KeyData": key,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_add_inlines_the_files_a_context_names_so_the_controller_accepts_the_entry() {
        let dir = std::env::temp_dir().join(format!("flotilla-add-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("ca.crt"), "CA PEM").expect("ca");
        std::fs::write(dir.join("token"), "s3cr3t\n").expect("token");
        let kc: kube::config::Kubeconfig = serde_yaml::from_str(&format!(
            "clusters: [{{name: c, cluster: {{server: 'https://h', certificate-authority: {0}/ca.crt}}}}]\nusers: [{{name: u, user: {{tokenFile: {0}/token}}}}]\ncontexts: [{{name: x, context: {{cluster: c, user: u}}}}]\n",
            dir.display()
        ))
        .expect("kubeconfig");
        let rest = rest_config_of(&kc, "x").expect("entry");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(rest["BearerToken"], "s3cr3t");
        assert_eq!(
            rest["TLSClientConfig"]["CAData"],
            base64::engine::general_purpose::STANDARD.encode("CA PEM")
        );
        let text = rest.to_string();
        assert!(!text.contains("File"), "{text}");
        let registry = crate::clusters::Registry::from_secret_data(
            &[("c.".to_string(), text.into_bytes())].into(),
            &crate::clusters::LocalAccess::none(),
        );
        assert!(registry.problems.is_empty(), "{:?}", registry.problems);

        let missing: kube::config::Kubeconfig = serde_yaml::from_str(
            "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority: /no/such/ca.crt}}]\ncontexts: [{name: x, context: {cluster: c}}]\n",
        )
        .expect("kubeconfig");
        let err = rest_config_of(&missing, "x").unwrap_err();
        assert!(
            err.starts_with(r#"context "x": reading its certificate-authority /no/such/ca.crt:"#),
            "{err}"
        );
    }
}
