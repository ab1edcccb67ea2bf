//! The key of the controller's creator proofs (`ownership::ProofKey`), kept in a Secret in the
//! controller's namespace so every replica, and the next release, proves and checks with the same
//! key. Made on first start from the system's randomness; a platform team may also put its own
//! there (32 bytes or more under `key`), or delete the Secret to rotate it — pods made under the
//! old key are then foreign to the controller, so rotate between workflows.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};
use ring::rand::SecureRandom as _;

use super::ControllerError;
use super::ownership::{PROOF_KEY_BYTES, ProofKey};

/// The Secret holding the key.
pub(crate) const SECRET: &str = "flotilla-creator-proof";
/// Its data key.
const FIELD: &str = "key";

/// The key from the Secret, made (and stored) first if there is none.
pub(super) async fn load_or_create(
    client: &kube::Client,
    namespace: &str,
) -> Result<ProofKey, ControllerError> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let fail = |reason: String| ControllerError::ProofKey {
        namespace: namespace.to_string(),
        reason,
    };
    if let Some(secret) = secrets
        .get_opt(SECRET)
        .await
        .map_err(|e| fail(e.to_string()))?
    {
        return key_of(&secret).map_err(fail);
    }
    let mut bytes = [0u8; PROOF_KEY_BYTES];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| fail("the system has no randomness to make a key from".into()))?;
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(SECRET.into()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/part-of".to_string(),
                "flotilla".to_string(),
            )])),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([(
            FIELD.to_string(),
            ByteString(bytes.to_vec()),
        )])),
        ..Default::default()
    };
    match secrets.create(&PostParams::default(), &secret).await {
        Ok(_) => {
            tracing::info!(secret = %SECRET, namespace = %namespace, "made the key of the controller's creator proofs");
            Ok(ProofKey::new(&bytes))
        }
        // Another replica made it first: use theirs.
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let secret = secrets.get(SECRET).await.map_err(|e| fail(e.to_string()))?;
            key_of(&secret).map_err(fail)
        }
        Err(e) => Err(fail(e.to_string())),
    }
}

/// The key a Secret holds; what is wrong with it otherwise (never its content).
fn key_of(secret: &Secret) -> Result<ProofKey, String> {
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(FIELD))
        .ok_or_else(|| format!("Secret {SECRET} has no data key {FIELD:?}"))?;
    if bytes.0.len() < PROOF_KEY_BYTES {
        return Err(format!(
            "Secret {SECRET} key {FIELD:?} holds {} bytes; a key needs at least {PROOF_KEY_BYTES}",
            bytes.0.len()
        ));
    }
    Ok(ProofKey::new(&bytes.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_engine::{CreatorProof as _, PodIdentity};

    fn secret(data: Option<&[u8]>) -> Secret {
        Secret {
            data: data.map(|d| BTreeMap::from([(FIELD.to_string(), ByteString(d.to_vec()))])),
            ..Default::default()
        }
    }

    #[test]
    fn a_short_or_missing_key_is_refused_without_its_content() {
        let short = key_of(&secret(Some(b"hunter2"))).unwrap_err();
        assert_eq!(
            short,
            "Secret flotilla-creator-proof key \"key\" holds 7 bytes; a key needs at least 32"
        );
        assert!(!short.contains("hunter2"));
        assert_eq!(
            key_of(&secret(None)).unwrap_err(),
            "Secret flotilla-creator-proof has no data key \"key\""
        );
    }

    #[test]
    fn the_stored_key_is_the_key_used() {
        let pod = PodIdentity {
            workflow_uid: "u",
            node_id: "n",
            namespace: "ns",
            name: "p",
        };
        let stored = key_of(&secret(Some(&[3; 40]))).unwrap();
        assert!(ProofKey::new(&[3; 40]).verifies(&pod, &stored.prove(&pod)));
    }
}
