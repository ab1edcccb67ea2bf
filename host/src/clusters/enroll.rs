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

/// The controller's service account in a remote cluster (`manifests/quick-start/cluster-1`).
pub const CONTROLLER_ACCOUNT: &str = "flotilla-controller";

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
