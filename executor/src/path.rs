//! Reading a value out of a resource's JSON: gjson paths (Argo's conditions) and kubectl's
//! JSONPath templates (Argo's `valueFrom.jsonPath` outputs).

use serde_json::Value;

/// gjson's `Get(path).String()` for plain paths: `.`-separated keys, a number indexes an array,
/// `\.` escapes a dot. `None` when nothing is there (gjson's `Exists() == false`).
pub fn gjson_get(object: &Value, path: &str) -> Option<String> {
    let mut at = object;
    for key in split_escaped(path) {
        at = match at {
            Value::Object(map) => map.get(&key)?,
            Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(match at {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

fn split_escaped(path: &str) -> Vec<String> {
    let mut keys = vec![String::new()];
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(last)) = (chars.next(), keys.last_mut()) {
                    last.push(next);
                }
            }
            '.' => keys.push(String::new()),
            c => {
                if let Some(last) = keys.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    keys
}

/// Why a JSONPath template could not be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JsonPathError {
    #[error("jsonPath {0:?}: only field (.a.b) and index ([0]) expressions are supported")]
    Unsupported(String),
    #[error("jsonPath {template:?}: {field} is not found")]
    NotFound { template: String, field: String },
    #[error("jsonPath {0:?}: unclosed '{{'")]
    Unclosed(String),
}

/// kubectl's `-o jsonpath=TEMPLATE` for the common subset: literal text and `{.a.b[0].c}`
/// expressions. Strings print as they are, anything else as JSON.
pub fn kubectl_jsonpath(object: &Value, template: &str) -> Result<String, JsonPathError> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| JsonPathError::Unclosed(template.to_string()))?;
        let expr = rest[open + 1..open + close].trim();
        out.push_str(&expression(object, expr, template)?);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn expression(object: &Value, expr: &str, template: &str) -> Result<String, JsonPathError> {
    let unsupported = || JsonPathError::Unsupported(template.to_string());
    let body = expr.strip_prefix('$').unwrap_or(expr);
    if body.contains("..") || body.contains('*') || body.contains('?') || body.contains(' ') {
        return Err(unsupported());
    }
    let mut at = object;
    let mut seen = String::new();
    for part in body.split('.').filter(|p| !p.is_empty()) {
        let (field, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        let not_found = |seen: &str| JsonPathError::NotFound {
            template: template.to_string(),
            field: seen.to_string(),
        };
        if !field.is_empty() {
            seen.push('.');
            seen.push_str(field);
            at = at.get(field).ok_or_else(|| not_found(&seen))?;
        }
        for index in indexes.split_inclusive(']') {
            let n = index
                .strip_prefix('[')
                .and_then(|i| i.strip_suffix(']'))
                .and_then(|i| i.parse::<usize>().ok())
                .ok_or_else(unsupported)?;
            seen.push_str(&format!("[{n}]"));
            at = at.get(n).ok_or_else(|| not_found(&seen))?;
        }
    }
    Ok(match at {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gjson_paths_read_strings_numbers_and_escaped_keys() {
        let obj =
            json!({"metadata": {"labels": {"app.kubernetes.io/name": "x"}}, "n": 3, "l": [true]});
        assert_eq!(gjson_get(&obj, "n").as_deref(), Some("3"));
        assert_eq!(gjson_get(&obj, "l.0").as_deref(), Some("true"));
        assert_eq!(
            gjson_get(&obj, r"metadata.labels.app\.kubernetes\.io/name").as_deref(),
            Some("x")
        );
        assert_eq!(gjson_get(&obj, "metadata.missing"), None);
        assert_eq!(gjson_get(&obj, "n.deeper"), None);
    }

    #[test]
    fn kubectl_jsonpath_templates() {
        let obj = json!({"metadata": {"name": "job-1"}, "spec": {"ports": [{"port": 80}]}});
        assert_eq!(kubectl_jsonpath(&obj, "{.metadata.name}").unwrap(), "job-1");
        assert_eq!(
            kubectl_jsonpath(&obj, "port={.spec.ports[0].port}").unwrap(),
            "port=80"
        );
        assert_eq!(
            kubectl_jsonpath(&obj, "{.spec.ports[0]}").unwrap(),
            r#"{"port":80}"#
        );
        assert_eq!(
            kubectl_jsonpath(&obj, "{.spec.nope}")
                .unwrap_err()
                .to_string(),
            r#"jsonPath "{.spec.nope}": .spec.nope is not found"#
        );
        assert!(matches!(
            kubectl_jsonpath(&obj, "{.items[*].name}"),
            Err(JsonPathError::Unsupported(_))
        ));
        assert!(matches!(
            kubectl_jsonpath(&obj, "{.a"),
            Err(JsonPathError::Unclosed(_))
        ));
    }
}
