//! An expression's value as Go's `fmt.Sprintf("%v", value)` writes it: what Argo puts in place of
//! a `{{=…}}` tag. Integers in decimal; floats as `strconv.FormatFloat(f, 'g', -1, 64)` (the
//! shortest digits, an exponent below 1e-4 and from 1e6 up: `1e+06`); lists as `[a b]`; maps as
//! `map[k:v]` with the keys sorted; `nil` as `<nil>`.

use expr::Value;
use std::fmt::Write;

/// `value` as Go's `%v` writes it.
pub fn go_format(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value);
    out
}

fn write(out: &mut String, value: &Value) {
    match value {
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Integer(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Float(f) => out.push_str(&float(*f)),
        Value::String(s) => out.push_str(s),
        Value::Bytes(bytes) => list(out, bytes.iter().map(|b| Value::Integer(i64::from(*b)))),
        Value::Array(items) => list(out, items.iter().cloned()),
        Value::Map(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push_str("map[");
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                write(out, value);
            }
            out.push(']');
        }
        Value::KeyedMap(entries) => {
            out.push_str("map[");
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write(out, key);
                out.push(':');
                write(out, value);
            }
            out.push(']');
        }
    }
}

fn list(out: &mut String, items: impl Iterator<Item = Value>) {
    out.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write(out, &item);
    }
    out.push(']');
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`.
fn float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Rust's `{:e}` writes the shortest digits that read back as `f`, as Go's `-1` precision does.
    let scientific = format!("{f:e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific;
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    // Shortest formatting decides with a precision of 6, whatever the digits.
    if !(-4..6).contains(&exponent) {
        // %e: d.ddde±dd.
        let (first, rest) = digits.split_at(1);
        let point = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}{point}{rest}e{exp_sign}{:02}", exponent.abs());
    }
    // %f with exactly the digits needed.
    let mut out = String::from(sign);
    if exponent < 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-exponent - 1) as usize));
        out.push_str(&digits);
    } else {
        let int_len = exponent as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            out.push_str(&"0".repeat(int_len - digits.len()));
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;

    #[test]
    fn floats_are_written_as_go_writes_them() {
        // Each pair checked against `fmt.Sprintf("%v", f)` in Go.
        for (f, go) in [
            (3.5, "3.5"),
            (2.0, "2"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (-2.5, "-2.5"),
            (1e21, "1e+21"),
            (1.0 / 3.0, "0.3333333333333333"),
        ] {
            assert_eq!(float(f), go, "{f}");
        }
    }

    #[test]
    fn lists_and_maps_are_written_as_go_writes_them() {
        let mut map = IndexMap::new();
        map.insert("b".to_string(), Value::Integer(2));
        map.insert("a".to_string(), Value::String("x".into()));
        let value = Value::Array(vec![
            Value::String("one".into()),
            Value::Nil,
            Value::Bool(true),
            Value::Map(map),
        ]);
        assert_eq!(go_format(&value), "[one <nil> true map[a:x b:2]]");
    }
}
