//! Object metadata the server owns: uid, timestamps, names from generateName, resourceVersion
//! preconditions, and the apiVersion an object is served at.

use rand::Rng;
use serde_json::{Map, Value};

use crate::resources::ResourceType;
use crate::status::{ApiError, Result};

/// RFC 3339 with second precision, as `metav1.Time` serialises.
pub(crate) fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub(crate) fn rfc3339_after(seconds: i64) -> String {
    let t = jiff::Timestamp::now().as_second().saturating_add(seconds);
    jiff::Timestamp::from_second(t)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub(crate) fn new_uid() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `generateName` + five random characters from apimachinery's name-generator alphabet.
pub(crate) fn generate_name(prefix: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    const MAX_PREFIX: usize = 63 - 5;
    let prefix: String = prefix.chars().take(MAX_PREFIX).collect();
    let mut rng = rand::rng();
    let suffix: String = (0..5)
        .map(|_| ALPHANUMS[rng.random_range(0..ALPHANUMS.len())] as char)
        .collect();
    format!("{prefix}{suffix}")
}

pub(crate) fn metadata(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

pub(crate) fn metadata_mut(obj: &mut Value) -> Result<&mut Map<String, Value>> {
    let root = obj
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the object must be a JSON object"))?;
    let meta = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if meta.is_null() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut()
        .ok_or_else(|| ApiError::bad_request("metadata must be an object"))
}

pub(crate) fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    metadata(obj)?
        .get(field)?
        .as_str()
        .filter(|s| !s.is_empty())
}

/// Fills in or checks `apiVersion` and `kind` against the endpoint the object was sent to.
pub(crate) fn check_type(rt: &ResourceType, obj: &mut Value) -> Result<()> {
    let expected = rt.api_version();
    let root = obj
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the object must be a JSON object"))?;
    match root.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            root.insert("apiVersion".into(), Value::String(expected));
        }
        Some(v) if v == expected => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected})"
            )));
        }
    }
    match root.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            root.insert("kind".into(), Value::String(rt.kind.clone()));
        }
        Some(k) if k == rt.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                rt.kind
            )));
        }
    }
    Ok(())
}

/// The object as served at `rt`'s version (stored objects carry their storage version).
pub(crate) fn served(rt: &ResourceType, stored: &Value) -> Value {
    let mut v = stored.clone();
    if rt.version != rt.storage_version {
        v["apiVersion"] = Value::String(rt.api_version());
    }
    v
}

/// A client-supplied resourceVersion, parsed; a malformed one is 400 as in Kubernetes.
pub(crate) fn parse_rv(rv: &str) -> Result<u64> {
    rv.parse::<u64>().map_err(|_| {
        ApiError::bad_request(format!(
            "Invalid value: {rv:?}: resourceVersion must be an unsigned integer"
        ))
    })
}

pub(crate) fn has_deletion_timestamp(obj: &Value) -> bool {
    metadata(obj)
        .and_then(|m| m.get("deletionTimestamp"))
        .is_some_and(|t| !t.is_null())
}

pub(crate) fn finalizers(obj: &Value) -> Vec<String> {
    metadata(obj)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_and_names_have_kubernetes_shape() {
        let uid = new_uid();
        assert_eq!(uid.len(), 36);
        assert_eq!(uid.as_bytes()[14], b'4');
        let name = generate_name("hello-world-");
        assert_eq!(name.len(), "hello-world-".len() + 5);
        assert!(name.starts_with("hello-world-"));
        let long = generate_name(&"x".repeat(100));
        assert_eq!(long.len(), 63);
    }
}
