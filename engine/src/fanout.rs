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

/// The error of a fan-out of `n` items where at most `max` may be (the controller's
/// `--max-fan-out`): a typo (`count: 1e12`) or a runaway producer must not exhaust it.
fn too_many(field: &str, n: impl std::fmt::Display, max: usize) -> String {
    format!(
        "{field} expands to {n} items, more than the {max} a fan-out may have (the controller's --max-fan-out)"
    )
}

/// The items of a task or step, or `None` when it does not fan out; at most `max` of them.
pub(super) fn items(
    with_items: Option<&Vec<Value>>,
    with_param: Option<&str>,
    with_sequence: Option<&Sequence>,
    scope: &Scope,
    max: usize,
) -> Result<Option<Vec<Item>>, String> {
    if let Some(list) = with_items {
        if list.len() > max {
            return Err(too_many("withItems", list.len(), max));
        }
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
        if list.len() > max {
            return Err(too_many("withParam", list.len(), max));
        }
        return Ok(Some(list.into_iter().map(|value| Item { value }).collect()));
    }
    if let Some(seq) = with_sequence {
        return sequence(seq, scope, max).map(Some);
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
fn sequence(seq: &Sequence, scope: &Scope, max: usize) -> Result<Vec<Item>, String> {
    let max_items = i64::try_from(max).unwrap_or(i64::MAX);
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
        (Some(c), None) if c > max_items => {
            return Err(too_many("withSequence", c, max));
        }
        (Some(c), None) => (start..start.saturating_add(c)).collect(),
        (None, Some(e)) if e.abs_diff(start) >= max as u64 => {
            return Err(too_many(
                "withSequence",
                u128::from(e.abs_diff(start)) + 1,
                max,
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

    const MAX: usize = crate::DEFAULT_MAX_FAN_OUT;

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
        let items = items(None, None, Some(seq), scope, MAX).unwrap().unwrap();
        items.iter().map(Item::label).collect()
    }

    #[test]
    fn params_and_sequences() {
        let mut scope = Scope::new();
        scope.insert("tasks.gen.outputs.result", "[1, \"two\", {\"k\": \"v\"}]");
        let got = items(
            None,
            Some("{{tasks.gen.outputs.result}}"),
            None,
            &scope,
            MAX,
        )
        .unwrap()
        .unwrap();
        assert_eq!(got.len(), 3);
        assert!(
            items(
                None,
                Some("{{tasks.nope.outputs.result}}"),
                None,
                &scope,
                MAX
            )
            .is_err()
        );
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
        assert!(items(None, Some("not json"), None, &scope, MAX).is_err());
        let huge = Sequence {
            count: Some("1000000000000".into()),
            ..Default::default()
        };
        assert!(
            items(None, None, Some(&huge), &scope, MAX)
                .unwrap_err()
                .contains("more than the 100000 a fan-out may have")
        );
        let wide = Sequence {
            count: Some("1".into()),
            format: Some("%999999999d".into()),
            ..Default::default()
        };
        assert!(items(None, None, Some(&wide), &scope, MAX).is_err());
    }

    /// Every form of fan-out is held to the controller's limit, and the error names the form:
    /// the limit itself is allowed, one more is not.
    #[test]
    fn each_form_is_capped_at_the_configured_limit() {
        let mut scope = Scope::new();
        scope.insert("tasks.gen.outputs.result", "[1, 2, 3, 4]");
        let four: Vec<Value> = (0..4).map(Value::from).collect();
        let param = "{{tasks.gen.outputs.result}}";
        let count = |n: &str| Sequence {
            count: Some(n.into()),
            ..Default::default()
        };
        let range = |end: &str| Sequence {
            start: Some("1".into()),
            end: Some(end.into()),
            ..Default::default()
        };
        assert_eq!(
            items(Some(&four), None, None, &scope, 4)
                .unwrap()
                .unwrap()
                .len(),
            4
        );
        assert_eq!(
            items(None, Some(param), None, &scope, 4)
                .unwrap()
                .unwrap()
                .len(),
            4
        );
        assert_eq!(
            items(None, None, Some(&count("4")), &scope, 4)
                .unwrap()
                .unwrap()
                .len(),
            4
        );
        assert_eq!(
            items(None, None, Some(&range("4")), &scope, 4)
                .unwrap()
                .unwrap()
                .len(),
            4
        );
        let too_many = |r: Result<Option<Vec<Item>>, String>| r.unwrap_err();
        assert_eq!(
            too_many(items(Some(&four), None, None, &scope, 3)),
            "withItems expands to 4 items, more than the 3 a fan-out may have (the controller's --max-fan-out)"
        );
        assert!(
            too_many(items(None, Some(param), None, &scope, 3))
                .starts_with("withParam expands to 4 items")
        );
        assert!(
            too_many(items(None, None, Some(&count("4")), &scope, 3))
                .starts_with("withSequence expands to 4 items")
        );
        assert!(
            too_many(items(None, None, Some(&range("4")), &scope, 3))
                .starts_with("withSequence expands to 4 items")
        );
    }
}
