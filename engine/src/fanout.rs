//! `withItems`, `withParam` and `withSequence`: one child node per item, named as Argo names them
//! (`task(0:a)`, `task(1:image:debian,tag:9)`), with `{{item}}` and `{{item.<key>}}` in scope.

use serde_json::Value;

use super::template::{Mode, Scope, substitute_str};
use crate::workflow::Sequence;

/// One item of a fan-out.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Item {
    pub(super) value: Value,
}

impl Item {
    /// How the item appears in its node's name.
    pub(super) fn label(&self) -> String {
        match &self.value {
            Value::String(s) => s.clone(),
            Value::Object(map) => {
                let mut parts: Vec<String> = map
                    .iter()
                    .map(|(k, v)| format!("{k}:{}", scalar(v)))
                    .collect();
                parts.sort();
                parts.join(",")
            }
            other => scalar(other),
        }
    }

    /// `item` and, for maps, `item.<key>`.
    pub(super) fn vars(&self) -> Vec<(String, String)> {
        let mut out = vec![("item".to_string(), scalar(&self.value))];
        if let Value::Object(map) = &self.value {
            out.extend(map.iter().map(|(k, v)| (format!("item.{k}"), scalar(v))));
        }
        out
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Most items one fan-out may have: a typo (`count: 1e12`) must not exhaust the controller.
const MAX_ITEMS: i64 = 100_000;

/// The items of a task or step, or `None` when it does not fan out.
pub(super) fn items(
    with_items: Option<&Vec<Value>>,
    with_param: Option<&str>,
    with_sequence: Option<&Sequence>,
    scope: &Scope,
) -> Result<Option<Vec<Item>>, String> {
    if let Some(list) = with_items {
        let mut out = Vec::with_capacity(list.len());
        for v in list {
            let text = serde_json::to_string(v).map_err(|e| e.to_string())?;
            let substituted =
                substitute_str(&text, scope, Mode::Strict).map_err(|e| e.to_string())?;
            let value =
                serde_json::from_str(&substituted).map_err(|e| format!("withItems: {e}"))?;
            out.push(Item { value });
        }
        return Ok(Some(out));
    }
    if let Some(param) = with_param {
        let text = substitute_str(param, scope, Mode::Strict).map_err(|e| e.to_string())?;
        let list: Vec<Value> = serde_json::from_str(&text).map_err(|e| {
            format!("withParam value could not be parsed as a JSON list: {text}: {e}")
        })?;
        return Ok(Some(list.into_iter().map(|value| Item { value }).collect()));
    }
    if let Some(seq) = with_sequence {
        return sequence(seq, scope).map(Some);
    }
    Ok(None)
}

fn number(
    name: &str,
    v: Option<&crate::workflow::AnyString>,
    scope: &Scope,
) -> Result<Option<i64>, String> {
    let Some(v) = v else { return Ok(None) };
    let text = substitute_str(v.as_str(), scope, Mode::Strict).map_err(|e| e.to_string())?;
    text.trim()
        .parse::<i64>()
        .map(Some)
        .map_err(|_| format!("withSequence.{name} {text:?} is not an integer"))
}

/// `count` (0..count) or `start`..=`end` (descending when end < start), optionally printf-formatted.
fn sequence(seq: &Sequence, scope: &Scope) -> Result<Vec<Item>, String> {
    let count = number("count", seq.count.as_ref(), scope)?;
    let start = number("start", seq.start.as_ref(), scope)?.unwrap_or(0);
    let end = number("end", seq.end.as_ref(), scope)?;
    let values: Vec<i64> = match (count, end) {
        (Some(_), Some(_)) => {
            return Err("withSequence: only one of count or end can be defined".into());
        }
        (Some(c), None) if c < 0 => {
            return Err(format!("withSequence.count must be non-negative, got {c}"));
        }
        (Some(c), None) if c > MAX_ITEMS => {
            return Err(format!(
                "withSequence.count {c} is more than {MAX_ITEMS} items"
            ));
        }
        (Some(c), None) => (start..start.saturating_add(c)).collect(),
        (None, Some(e)) if e.abs_diff(start) >= MAX_ITEMS as u64 => {
            return Err(format!(
                "withSequence from {start} to {e} is more than {MAX_ITEMS} items"
            ));
        }
        (None, Some(e)) if e >= start => (start..=e).collect(),
        (None, Some(e)) => (e..=start).rev().collect(),
        (None, None) => return Err("withSequence: either count or end must be defined".into()),
    };
    values
        .into_iter()
        .map(|n| {
            Ok(Item {
                value: Value::String(format_number(seq.format.as_deref(), n)?),
            })
        })
        .collect()
}

/// The printf subset sequences use: `%d`, `%Nd`, `%0Nd`, with surrounding text.
fn format_number(format: Option<&str>, n: i64) -> Result<String, String> {
    let Some(format) = format else {
        return Ok(n.to_string());
    };
    let Some(pos) = format.find('%') else {
        return Ok(format.to_string());
    };
    let rest = &format[pos + 1..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let Some(after) = rest[digits.len()..].strip_prefix('d') else {
        return Err(format!(
            "withSequence.format {format:?}: only %d with an optional width is supported"
        ));
    };
    let width: usize = digits.parse().unwrap_or(0);
    if width > 64 {
        return Err(format!(
            "withSequence.format {format:?}: a width over 64 is not supported"
        ));
    }
    let number = if digits.starts_with('0') {
        format!("{n:0width$}")
    } else {
        format!("{n:width$}")
    };
    Ok(format!("{}{number}{after}", &format[..pos]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_and_vars() {
        let map = Item {
            value: json!({"tag": "9.1", "image": "debian"}),
        };
        assert_eq!(map.label(), "image:debian,tag:9.1");
        assert!(
            map.vars()
                .contains(&("item.image".to_string(), "debian".to_string()))
        );
        assert_eq!(Item { value: json!(3) }.label(), "3");
        assert_eq!(
            Item {
                value: json!("a b")
            }
            .vars()[0]
                .1,
            "a b"
        );
    }

    fn labels(seq: &Sequence, scope: &Scope) -> Vec<String> {
        let items = items(None, None, Some(seq), scope).unwrap().unwrap();
        items.iter().map(Item::label).collect()
    }

    #[test]
    fn params_and_sequences() {
        let mut scope = Scope::new();
        scope.insert("tasks.gen.outputs.result", "[1, \"two\", {\"k\": \"v\"}]");
        let got = items(None, Some("{{tasks.gen.outputs.result}}"), None, &scope)
            .unwrap()
            .unwrap();
        assert_eq!(got.len(), 3);
        assert!(items(None, Some("{{tasks.nope.outputs.result}}"), None, &scope).is_err());
        let seq = Sequence {
            count: Some("3".into()),
            ..Default::default()
        };
        assert_eq!(labels(&seq, &scope), ["0", "1", "2"]);
        let seq = Sequence {
            start: Some("5".into()),
            end: Some("3".into()),
            format: Some("x%02d".into()),
            ..Default::default()
        };
        assert_eq!(labels(&seq, &scope), ["x05", "x04", "x03"]);
        assert!(items(None, Some("not json"), None, &scope).is_err());
        let huge = Sequence {
            count: Some("1000000000000".into()),
            ..Default::default()
        };
        assert!(
            items(None, None, Some(&huge), &scope)
                .unwrap_err()
                .contains("more than 100000 items")
        );
        let wide = Sequence {
            count: Some("1".into()),
            format: Some("%999999999d".into()),
            ..Default::default()
        };
        assert!(items(None, None, Some(&wide), &scope).is_err());
    }
}
