//! Decoding of Kubernetes protobuf request bodies
//! (`application/vnd.kubernetes.protobuf`) into the JSON the rest of the
//! server understands.
//!
//! kubectl's typed-client commands (`kubectl create namespace|configmap|
//! secret|serviceaccount|role|rolebinding|clusterrole|clusterrolebinding|
//! deployment|job|cronjob|service|quota|pdb|priorityclass|ingress`,
//! `kubectl create token`, `kubectl drain`'s evictions) send protobuf. The
//! body is the magic `k8s\0` followed by a `runtime.Unknown` whose `typeMeta`
//! names the object and whose `raw` holds the object's own encoding.
//!
//! A hand-written wire decoder driven by compact field tables
//! ([`schema`]) is used rather than `prost` + `k8s-pb`: it needs no new
//! dependency, compiles in a blink, and the JSON rendering (field names,
//! `omitempty`, base64 bytes, times, quantities) lives in one table per type
//! instead of a hand-written conversion per generated struct.
//!
//! The result is exactly what the same object looks like in Kubernetes JSON,
//! with `apiVersion` and `kind` set. Unknown field numbers inside a known
//! message are skipped, as protobuf requires (the real API server drops them
//! silently too: strict field validation does not apply to protobuf), and
//! reported by [`decode_detailed`] so the server can log them.

mod schema;
#[cfg(test)]
mod tests;
mod wire;

use schema::Message;

/// The media type of Kubernetes protobuf bodies.
pub(crate) const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Kubernetes protobuf body starts with.
const MAGIC: &[u8; 4] = b"k8s\x00";

/// Why a protobuf body could not be turned into JSON.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProtobufError {
    /// The bytes are not a well-formed Kubernetes protobuf body: answer 400.
    #[error("{0}")]
    Malformed(String),
    /// Well-formed, but a type the simulator has no tables for: answer 415.
    #[error(
        "the simulator decodes {CONTENT_TYPE} bodies only for {supported}; got kind {kind:?} \
         in version {api_version:?}: send it as application/json instead",
        supported = supported_kinds()
    )]
    UnsupportedType { api_version: String, kind: String },
}

/// A decoded body, with the fields that were skipped.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// The object as Kubernetes JSON, `apiVersion` and `kind` included.
    pub(crate) object: serde_json::Value,
    /// One line per skipped field: its JSON path and field number.
    pub(crate) unknown_fields: Vec<String>,
}

/// Decodes a protobuf request body into its Kubernetes JSON form, reporting the field numbers
/// the tables do not know.
pub(crate) fn decode_detailed(body: &[u8]) -> Result<Decoded, ProtobufError> {
    let malformed = ProtobufError::Malformed;
    let Some(envelope) = body.strip_prefix(MAGIC) else {
        return Err(malformed(format!(
            "provided data does not appear to be a protobuf message, expected prefix {:?}",
            MAGIC
        )));
    };
    let wire::Envelope {
        api_version,
        kind,
        raw,
        content_encoding,
    } = wire::envelope(envelope).map_err(|e| malformed(format!("runtime.Unknown: {e}")))?;
    if !content_encoding.is_empty() {
        return Err(malformed(format!(
            "runtime.Unknown contentEncoding {content_encoding:?} is not supported"
        )));
    }
    let Some(root) = root_message(&api_version, &kind) else {
        return Err(ProtobufError::UnsupportedType { api_version, kind });
    };
    let mut decoder = wire::Decoder::default();
    let mut object = decoder.message(raw, root, "").map_err(|e| {
        // transformDecodeError's wording in the API server.
        malformed(format!(
            "{kind} in version {api_version:?} cannot be handled as a {kind}: {e}"
        ))
    })?;
    object.insert("apiVersion".to_owned(), api_version.into());
    object.insert("kind".to_owned(), kind.into());
    Ok(Decoded {
        object: serde_json::Value::Object(object),
        unknown_fields: decoder.unknown_fields,
    })
}

/// The (apiVersion, kind) pairs with tables; `DeleteOptions` is separate as
/// every group version registers it.
static KINDS: &[(&str, &str, &Message)] = &[
    ("v1", "Namespace", &schema::NAMESPACE),
    ("v1", "ConfigMap", &schema::CONFIG_MAP),
    ("v1", "Secret", &schema::SECRET),
    ("v1", "ServiceAccount", &schema::SERVICE_ACCOUNT),
    ("v1", "Pod", &schema::POD),
    ("v1", "Service", &schema::SERVICE),
    ("v1", "ResourceQuota", &schema::RESOURCE_QUOTA),
    ("rbac.authorization.k8s.io/v1", "Role", &schema::ROLE),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        &schema::CLUSTER_ROLE,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        &schema::ROLE_BINDING,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        &schema::CLUSTER_ROLE_BINDING,
    ),
    (
        "authentication.k8s.io/v1",
        "TokenRequest",
        &schema::TOKEN_REQUEST,
    ),
    ("apps/v1", "Deployment", &schema::DEPLOYMENT),
    ("batch/v1", "Job", &schema::JOB),
    ("batch/v1", "CronJob", &schema::CRON_JOB),
    (
        "policy/v1",
        "PodDisruptionBudget",
        &schema::POD_DISRUPTION_BUDGET,
    ),
    ("policy/v1", "Eviction", &schema::EVICTION),
    (
        "scheduling.k8s.io/v1",
        "PriorityClass",
        &schema::PRIORITY_CLASS,
    ),
    ("networking.k8s.io/v1", "Ingress", &schema::INGRESS),
];

fn root_message(api_version: &str, kind: &str) -> Option<&'static Message> {
    if kind == "DeleteOptions" && !api_version.is_empty() {
        return Some(&schema::DELETE_OPTIONS);
    }
    KINDS
        .iter()
        .find(|(v, k, _)| *v == api_version && *k == kind)
        .map(|(_, _, msg)| *msg)
}

/// "Namespace (v1), ..., and DeleteOptions", for the 415 message.
fn supported_kinds() -> String {
    let mut list: Vec<String> = KINDS.iter().map(|(v, k, _)| format!("{k} ({v})")).collect();
    list.push("DeleteOptions".to_owned());
    list.join(", ")
}
