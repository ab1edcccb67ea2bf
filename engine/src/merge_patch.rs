//! JSON merge patches (RFC 7386) that turn one document into another: every value of the new
//! one, and `null` for each field the old one had and the new one drops — what `kubectl apply`
//! sends against its last-applied configuration, and what the controller sends against the
//! status it read (a merge patch that only *omits* a field leaves it in place).

use serde_json::Value;

/// The merge patch from `old` to `new` (`None`: nothing to remove).
pub fn diff(old: Option<&Value>, new: &Value) -> Value {
    match (old, new) {
        (Some(Value::Object(old)), Value::Object(new)) => {
            let mut patch = serde_json::Map::new();
            for (k, v) in new {
                patch.insert(k.clone(), diff(old.get(k), v));
            }
            for k in old.keys().filter(|k| !new.contains_key(*k)) {
                patch.insert(k.clone(), Value::Null);
            }
            Value::Object(patch)
        }
        (_, new) => new.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dropped_fields_become_nulls() {
        let old =
            json!({"metadata": {"name": "x", "labels": {"a": "1", "b": "2"}}, "data": {"k": "v"}});
        let new = json!({"metadata": {"name": "x", "labels": {"a": "1"}}});
        assert_eq!(
            diff(Some(&old), &new),
            json!({"metadata": {"name": "x", "labels": {"a": "1", "b": null}}, "data": null})
        );
        assert_eq!(diff(None, &new), new);
    }
}
