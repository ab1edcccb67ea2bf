//! Authentication and authorization: 401 for bad credentials, RBAC 403s with Kubernetes' exact
//! messages, service-account tokens (TokenRequest and legacy Secrets).

mod support;

use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, PostParams};
use serde_json::json;
use support::{code_of, message_of, wait_for};

#[tokio::test]
async fn invalid_tokens_are_unauthorized_and_missing_ones_anonymous() -> Result<()> {
    let cluster = support::cluster().await?;
    let bogus = cluster.client_for(&flotilla_sim::Token::new("not-a-token"))?;
    let status = Api::<Pod>::namespaced(bogus, "default")
        .list(&Default::default())
        .await;
    assert_eq!(code_of(status), 401);
    let mut config = cluster.config_for(cluster.admin_token());
    config.auth_info.token = None;
    let anonymous = kube::Client::try_from(config)?;
    let msg = message_of(
        Api::<Pod>::namespaced(anonymous, "default")
            .list(&Default::default())
            .await,
    );
    assert_eq!(
        msg,
        r#"pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "default""#
    );
    Ok(())
}

#[tokio::test]
async fn rbac_grants_exactly_what_is_bound() -> Result<()> {
    let cluster = support::cluster().await?;
    let admin = cluster.client()?;
    let token = cluster.add_user("alice", &["devs"]);
    let alice = cluster.client_for(&token)?;
    let cms: Api<ConfigMap> = Api::namespaced(alice.clone(), "default");
    let denied = message_of(cms.get("x").await);
    assert_eq!(
        denied,
        r#"configmaps "x" is forbidden: User "alice" cannot get resource "configmaps" in API group "" in the namespace "default""#
    );

    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "cm-reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
    }))?;
    Api::<Role>::namespaced(admin.clone(), "default")
        .create(&PostParams::default(), &role)
        .await?;
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "devs-read"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"},
        "subjects": [{"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"}],
    }))?;
    Api::<RoleBinding>::namespaced(admin.clone(), "default")
        .create(&PostParams::default(), &binding)
        .await?;
    assert_eq!(code_of(cms.get("x").await), 404, "now allowed to look");
    cms.list(&Default::default()).await?;
    let other_ns = Api::<ConfigMap>::namespaced(alice, "kube-system")
        .list(&Default::default())
        .await;
    assert_eq!(code_of(other_ns), 403);
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "x"}}))?;
    let create = message_of(cms.create(&PostParams::default(), &cm).await);
    assert!(
        create.contains(r#"cannot create resource "configmaps""#),
        "{create}"
    );
    Ok(())
}

#[tokio::test]
async fn service_account_tokens_authenticate_while_the_account_exists() -> Result<()> {
    let cluster = support::cluster().await?;
    let admin = cluster.client()?;
    let sas: Api<ServiceAccount> = Api::namespaced(admin.clone(), "default");
    let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "robot"}}))?;
    sas.create(&PostParams::default(), &sa).await?;
    let request: TokenRequest = serde_json::from_value(json!({"spec": {"audiences": []}}))?;
    let issued = sas
        .create_token_request("robot", &PostParams::default(), &request)
        .await?;
    let token = flotilla_sim::Token::new(issued.status.unwrap().token);
    let robot = cluster.client_for(&token)?;
    let msg = message_of(
        Api::<Pod>::namespaced(robot.clone(), "default")
            .list(&Default::default())
            .await,
    );
    assert!(
        msg.contains(r#"User "system:serviceaccount:default:robot" cannot list resource "pods""#),
        "{msg}"
    );

    // The legacy token Secret is filled in by the token controller.
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "robot-token", "annotations": {"kubernetes.io/service-account.name": "robot"}},
        "type": "kubernetes.io/service-account-token",
    }))?;
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), "default");
    secrets.create(&PostParams::default(), &secret).await?;
    let filled = wait_for(
        "the token controller to fill the secret",
        Duration::from_secs(10),
        || async {
            Ok(secrets
                .get("robot-token")
                .await?
                .data
                .filter(|d| d.contains_key("token")))
        },
    )
    .await?;
    let legacy = flotilla_sim::Token::new(String::from_utf8(filled["token"].0.clone())?);
    assert!(filled.contains_key("ca.crt") && filled.contains_key("namespace"));
    let legacy_client = cluster.client_for(&legacy)?;
    assert_eq!(
        code_of(
            Api::<Pod>::namespaced(legacy_client.clone(), "default")
                .list(&Default::default())
                .await
        ),
        403
    );

    sas.delete("robot", &Default::default()).await?;
    assert_eq!(
        code_of(
            Api::<Pod>::namespaced(robot, "default")
                .list(&Default::default())
                .await
        ),
        401
    );
    assert_eq!(
        code_of(
            Api::<Pod>::namespaced(legacy_client, "default")
                .list(&Default::default())
                .await
        ),
        401
    );
    Ok(())
}
