//! JSON as Go's `encoding/json` writes and reads it into `interface{}`: what `toJson`,
//! `sprig.toJson`, `sprig.fromJson` and `jsonpath` see.

use expr::Value;
use indexmap::IndexMap;
use std::fmt::Write;

/// `value` as Go's `json.Marshal` writes it: compact, map keys sorted, `<`, `>` and `&` escaped,
/// floats without a trailing `.0` and with an exponent below 1e-6 and from 1e21 up.
pub(crate) fn to_go_json(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value);
    out
}

fn write(out: &mut String, value: &Value) {
    match value {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Integer(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Float(f) => float(out, *f),
        Value::String(s) => string(out, s),
        // Go writes a []byte as base64.
        Value::Bytes(bytes) => {
            use base64::Engine;
            string(
                out,
                &base64::engine::general_purpose::STANDARD.encode(bytes),
            );
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item);
            }
            out.push(']');
        }
        Value::Map(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            object(out, entries.into_iter().map(|(k, v)| (k.clone(), v)));
        }
        Value::KeyedMap(entries) => {
            let mut entries: Vec<(String, &Value)> = entries
                .iter()
                .map(|(k, v)| (crate::go_format(k), v))
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            object(out, entries.into_iter());
        }
    }
}

fn object<'a>(out: &mut String, entries: impl Iterator<Item = (String, &'a Value)>) {
    out.push('{');
    for (i, (key, value)) in entries.enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, &key);
        out.push(':');
        write(out, value);
    }
    out.push('}');
}

fn float(out: &mut String, f: f64) {
    if !f.is_finite() {
        // Go's Marshal fails on these; null keeps the text JSON.
        out.push_str("null");
        return;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Go: 'e' format, a positive exponent of two digits at least (1e+21), a negative one
        // without its leading zero (1e-7).
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        if exponent < 0 {
            let _ = write!(out, "{mantissa}e{exponent}");
        } else {
            let _ = write!(out, "{mantissa}e+{exponent:02}");
        }
    } else {
        // Rust's Display is Go's 'f' with the shortest digits (`2`, not `2.0`).
        let _ = write!(out, "{f}");
    }
}

fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `value` as Go's `json.Unmarshal` into `interface{}` gives it: every number a float.
pub(crate) fn from_json(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(items) => Value::Array(items.iter().map(from_json).collect()),
        serde_json::Value::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| (k.clone(), from_json(v)))
                .collect::<IndexMap<_, _>>(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_as_go_marshals_them() {
        let mut map = IndexMap::new();
        map.insert("z".to_string(), Value::Float(2.0));
        map.insert("a".to_string(), Value::String("<b>&\"\n".into()));
        let value = Value::Array(vec![
            Value::Map(map),
            Value::Float(0.5),
            Value::Float(1e21),
            Value::Float(1e-7),
            Value::Integer(-3),
            Value::Nil,
        ]);
        assert_eq!(
            to_go_json(&value),
            r#"[{"a":"\u003cb\u003e\u0026\"\n","z":2},0.5,1e+21,1e-7,-3,null]"#
        );
    }
}
