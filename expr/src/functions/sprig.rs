//! The sprig functions (Masterminds/sprig v3, `GenericFuncMap`) Argo offers as `sprig.<name>`,
//! those Flotilla implements: strings, conversions, integer and float arithmetic, lists, dicts,
//! defaults, JSON, base64, SHA-256 and regular expressions. Sprig's argument order is kept (the
//! value worked on comes last: `sprig.trimPrefix("v", version)`), and so are its lenient
//! conversions (a string that is not a number is 0, as `cast.ToInt64` makes it).
//!
//! Left out, so refused by name at validation: the random functions (`randAlphaNum`,
//! `uuidv4`, `shuffle`, …: a reconcile must decide the same way twice), dates and durations,
//! semantic versions, cryptography beyond `sha256sum`, paths, URLs, `env` and `expandenv` (Argo
//! removes those two as well).

use base64::Engine as _;
use expr::{Environment, Value};
use indexmap::IndexMap;

use super::{Result, fail, json};
use crate::go_format;
use crate::scan::SPRIG;

type Function = fn(Vec<Value>) -> Result<Value>;

const FUNCTIONS: &[(&str, Function)] = &[
    // Strings.
    ("trim", |a| s1(a, |s| s.trim().to_string())),
    ("trimAll", |a| {
        s2(a, |cut, s| s.trim_matches(|c| cut.contains(c)).to_string())
    }),
    ("trimPrefix", |a| {
        s2(a, |p, s| s.strip_prefix(p).unwrap_or(s).to_string())
    }),
    ("trimSuffix", |a| {
        s2(a, |p, s| s.strip_suffix(p).unwrap_or(s).to_string())
    }),
    ("upper", |a| s1(a, str::to_uppercase)),
    ("lower", |a| s1(a, str::to_lowercase)),
    ("title", |a| s1(a, title)),
    ("nospace", |a| {
        s1(a, |s| s.chars().filter(|c| !c.is_whitespace()).collect())
    }),
    ("contains", |a| b2(a, |sub, s| s.contains(sub))),
    ("hasPrefix", |a| b2(a, |p, s| s.starts_with(p))),
    ("hasSuffix", |a| b2(a, |p, s| s.ends_with(p))),
    ("replace", replace),
    ("repeat", repeat),
    ("substr", substr),
    ("trunc", trunc),
    ("indent", |a| indent(a, false)),
    ("nindent", |a| indent(a, true)),
    ("quote", |a| Ok(joined(&a, |s| format!("{s:?}")))),
    ("squote", |a| Ok(joined(&a, |s| format!("'{s}'")))),
    ("cat", |a| Ok(joined(&a, |s| s.to_string()))),
    ("toString", |a| arg1(a).map(|v| Value::String(text(&v)))),
    // Conversions.
    ("atoi", |a| {
        arg1(a).map(|v| Value::Integer(text(&v).trim().parse().unwrap_or(0)))
    }),
    ("int", |a| arg1(a).map(|v| Value::Integer(int(&v)))),
    ("int64", |a| arg1(a).map(|v| Value::Integer(int(&v)))),
    ("float64", |a| arg1(a).map(|v| Value::Float(float(&v)))),
    // Integer arithmetic.
    ("add", |a| {
        Ok(Value::Integer(
            a.iter().map(int).fold(0i64, i64::wrapping_add),
        ))
    }),
    ("add1", |a| {
        arg1(a).map(|v| Value::Integer(int(&v).wrapping_add(1)))
    }),
    ("sub", |a| i2(a, |x, y| Ok(x.wrapping_sub(y)))),
    ("mul", |a| {
        Ok(Value::Integer(
            a.iter().map(int).fold(1i64, i64::wrapping_mul),
        ))
    }),
    ("div", |a| {
        i2(a, |x, y| x.checked_div(y).ok_or("integer divide by zero"))
    }),
    ("mod", |a| {
        i2(a, |x, y| x.checked_rem(y).ok_or("integer divide by zero"))
    }),
    ("max", |a| extreme(a, i64::max)),
    ("min", |a| extreme(a, i64::min)),
    // Float arithmetic.
    ("addf", |a| Ok(Value::Float(a.iter().map(float).sum()))),
    ("subf", |a| f_fold(a, |x, y| x - y)),
    ("mulf", |a| Ok(Value::Float(a.iter().map(float).product()))),
    ("divf", |a| f_fold(a, |x, y| x / y)),
    ("maxf", |a| f_fold(a, f64::max)),
    ("minf", |a| f_fold(a, f64::min)),
    ("floor", |a| {
        arg1(a).map(|v| Value::Float(float(&v).floor()))
    }),
    ("ceil", |a| arg1(a).map(|v| Value::Float(float(&v).ceil()))),
    ("round", round),
    // Lists.
    ("list", |a| Ok(Value::Array(a))),
    ("splitList", |a| s2v(a, |sep, s| strings(s.split(sep)))),
    ("split", split),
    ("join", join),
    ("sortAlpha", |a| {
        list1(a, |mut l| {
            l.sort_by_key(text);
            Ok(Value::Array(l))
        })
    }),
    ("first", |a| {
        list1(a, |l| Ok(l.into_iter().next().unwrap_or(Value::Nil)))
    }),
    ("last", |a| {
        list1(a, |l| Ok(l.into_iter().last().unwrap_or(Value::Nil)))
    }),
    ("rest", |a| {
        list1(a, |l| Ok(Value::Array(l.into_iter().skip(1).collect())))
    }),
    ("initial", |a| {
        list1(a, |mut l| {
            l.pop();
            Ok(Value::Array(l))
        })
    }),
    ("reverse", |a| {
        list1(a, |mut l| {
            l.reverse();
            Ok(Value::Array(l))
        })
    }),
    ("uniq", |a| {
        list1(a, |l| {
            let mut out: Vec<Value> = Vec::new();
            for v in l {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
            Ok(Value::Array(out))
        })
    }),
    ("compact", |a| {
        list1(a, |l| {
            Ok(Value::Array(l.into_iter().filter(|v| !empty(v)).collect()))
        })
    }),
    ("append", |a| {
        list_and(a, |mut l, v| {
            l.push(v);
            l
        })
    }),
    ("push", |a| {
        list_and(a, |mut l, v| {
            l.push(v);
            l
        })
    }),
    ("prepend", |a| {
        list_and(a, |mut l, v| {
            l.insert(0, v);
            l
        })
    }),
    ("concat", concat),
    ("has", has),
    ("without", without),
    ("until", |a| arg1(a).and_then(|v| steps(0, int(&v), 1))),
    ("untilStep", until_step),
    // Dicts.
    ("dict", dict),
    ("get", |a| {
        dict_key(a, |d, k| {
            Ok(d.get(&k).cloned().unwrap_or(Value::String(String::new())))
        })
    }),
    ("hasKey", |a| {
        dict_key(a, |d, k| Ok(Value::Bool(d.contains_key(&k))))
    }),
    ("keys", |a| {
        Ok(Value::Array(
            maps(a)?
                .into_iter()
                .flat_map(|d| d.into_keys())
                .map(Value::String)
                .collect(),
        ))
    }),
    ("values", |a| {
        dict1(a, |d| Ok(Value::Array(d.into_values().collect())))
    }),
    ("pick", |a| dict_keys(a, true)),
    ("omit", |a| dict_keys(a, false)),
    // Defaults and flow.
    ("default", default),
    ("empty", |a| arg1(a).map(|v| Value::Bool(empty(&v)))),
    ("coalesce", |a| {
        Ok(a.into_iter().find(|v| !empty(v)).unwrap_or(Value::Nil))
    }),
    ("ternary", ternary),
    ("kindOf", |a| {
        arg1(a).map(|v| Value::String(super::kind(&v).to_string()))
    }),
    // JSON and encodings.
    ("toJson", |a| {
        arg1(a).map(|v| Value::String(json::to_go_json(&v)))
    }),
    ("toRawJson", |a| {
        arg1(a).map(|v| Value::String(json::to_go_json(&v)))
    }),
    ("fromJson", |a| {
        arg1(a).map(|v| serde_json::from_str(&text(&v)).map_or(Value::Nil, |j| json::from_json(&j)))
    }),
    ("b64enc", |a| {
        s1(a, |s| base64::engine::general_purpose::STANDARD.encode(s))
    }),
    ("b64dec", |a| {
        s1(a, |s| {
            match base64::engine::general_purpose::STANDARD.decode(s) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(e) => e.to_string(),
            }
        })
    }),
    ("sha256sum", |a| {
        s1(a, |s| {
            use sha2::Digest;
            sha2::Sha256::digest(s.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
    }),
    // Regular expressions (Rust's `regex`: RE2's syntax, as Go's `regexp`).
    ("regexMatch", |a| {
        regex2(a, |re, s| Ok(Value::Bool(re.is_match(s))))
    }),
    ("regexFind", |a| {
        regex2(a, |re, s| {
            Ok(Value::String(
                re.find(s).map_or("", |m| m.as_str()).to_string(),
            ))
        })
    }),
    ("regexFindAll", regex_find_all),
    ("regexReplaceAll", |a| regex_replace(a, false)),
    ("regexReplaceAllLiteral", |a| regex_replace(a, true)),
    ("regexSplit", regex_split),
    ("regexQuoteMeta", |a| s1(a, regex::escape)),
];

/// Registers every function as `__sprig_<name>` (see [`crate::scan`]).
pub(super) fn add(env: &mut Environment) {
    for (name, function) in FUNCTIONS {
        let function = *function;
        env.add_function(&format!("{SPRIG}{name}"), move |c| function(c.args));
    }
}

/// sprig's `strval`: a string as itself, anything else as Go's `%v`.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => go_format(other),
    }
}

/// `cast.ToInt64`: a float truncated, a string parsed (base prefixes allowed, `.0`s trimmed),
/// a bool as 1 or 0, anything else (or a string that is no number) 0.
fn int(value: &Value) -> i64 {
    match value {
        Value::Integer(n) => *n,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::String(s) => {
            let s = s.trim();
            let s = match s.split_once('.') {
                Some((whole, zeros)) if zeros.chars().all(|c| c == '0') => whole,
                _ => s,
            };
            let (negative, digits) = match s.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, s.strip_prefix('+').unwrap_or(s)),
            };
            let parsed = match digits.get(..2) {
                Some("0x" | "0X") => i64::from_str_radix(&digits[2..], 16),
                Some("0o" | "0O") => i64::from_str_radix(&digits[2..], 8),
                Some("0b" | "0B") => i64::from_str_radix(&digits[2..], 2),
                _ => digits.parse(),
            };
            parsed.map_or(0, |n: i64| if negative { -n } else { n })
        }
        _ => 0,
    }
}

/// `cast.ToFloat64`, as lenient as [`int`].
fn float(value: &Value) -> f64 {
    match value {
        Value::Integer(n) => *n as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// sprig's `empty`: nil, `""`, 0, false, and empty lists and maps.
fn empty(value: &Value) -> bool {
    match value {
        Value::Nil => true,
        Value::Bool(b) => !b,
        Value::Integer(n) => *n == 0,
        Value::Float(f) => *f == 0.0,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Bytes(bytes) => bytes.is_empty(),
        Value::Map(map) => map.is_empty(),
        Value::KeyedMap(entries) => entries.is_empty(),
    }
}

fn count(args: &[Value], n: usize) -> Result<()> {
    if args.len() == n {
        Ok(())
    } else {
        fail(format!("takes {n} arguments, not {}", args.len()))
    }
}

fn arg1(args: Vec<Value>) -> Result<Value> {
    count(&args, 1)?;
    Ok(args.into_iter().next().unwrap_or(Value::Nil))
}

fn s1(args: Vec<Value>, f: impl Fn(&str) -> String) -> Result<Value> {
    arg1(args).map(|v| Value::String(f(&text(&v))))
}

fn s2(args: Vec<Value>, f: impl Fn(&str, &str) -> String) -> Result<Value> {
    count(&args, 2)?;
    Ok(Value::String(f(&text(&args[0]), &text(&args[1]))))
}

fn s2v(args: Vec<Value>, f: impl Fn(&str, &str) -> Vec<Value>) -> Result<Value> {
    count(&args, 2)?;
    Ok(Value::Array(f(&text(&args[0]), &text(&args[1]))))
}

fn b2(args: Vec<Value>, f: impl Fn(&str, &str) -> bool) -> Result<Value> {
    count(&args, 2)?;
    Ok(Value::Bool(f(&text(&args[0]), &text(&args[1]))))
}

fn i2(
    args: Vec<Value>,
    f: impl Fn(i64, i64) -> std::result::Result<i64, &'static str>,
) -> Result<Value> {
    count(&args, 2)?;
    match f(int(&args[0]), int(&args[1])) {
        Ok(n) => Ok(Value::Integer(n)),
        Err(e) => fail(e),
    }
}

fn f_fold(args: Vec<Value>, f: impl Fn(f64, f64) -> f64) -> Result<Value> {
    let mut values = args.iter().map(float);
    let Some(first) = values.next() else {
        return fail("takes at least 1 argument");
    };
    Ok(Value::Float(values.fold(first, f)))
}

fn extreme(args: Vec<Value>, f: fn(i64, i64) -> i64) -> Result<Value> {
    let mut values = args.iter().map(int);
    let Some(first) = values.next() else {
        return fail("takes at least 1 argument");
    };
    Ok(Value::Integer(values.fold(first, f)))
}

fn strings<'a>(items: impl Iterator<Item = &'a str>) -> Vec<Value> {
    items.map(|s| Value::String(s.to_string())).collect()
}

fn joined(args: &[Value], f: impl Fn(&str) -> String) -> Value {
    let parts: Vec<String> = args
        .iter()
        .filter(|v| !v.is_nil())
        .map(|v| f(&text(v)))
        .collect();
    Value::String(parts.join(" "))
}

/// A list argument: a list, or bytes as their values.
fn as_list(value: Value) -> Result<Vec<Value>> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Nil => Ok(Vec::new()),
        other => fail(format!("expected a list, got {}", super::kind(&other))),
    }
}

fn list1(args: Vec<Value>, f: impl Fn(Vec<Value>) -> Result<Value>) -> Result<Value> {
    f(as_list(arg1(args)?)?)
}

fn list_and(args: Vec<Value>, f: impl Fn(Vec<Value>, Value) -> Vec<Value>) -> Result<Value> {
    count(&args, 2)?;
    let mut args = args.into_iter();
    let list = as_list(args.next().unwrap_or(Value::Nil))?;
    Ok(Value::Array(f(list, args.next().unwrap_or(Value::Nil))))
}

fn as_map(value: Value) -> Result<IndexMap<String, Value>> {
    match value {
        Value::Map(map) => Ok(map),
        other => fail(format!("expected a dict, got {}", super::kind(&other))),
    }
}

fn maps(args: Vec<Value>) -> Result<Vec<IndexMap<String, Value>>> {
    args.into_iter().map(as_map).collect()
}

fn dict1(args: Vec<Value>, f: impl Fn(IndexMap<String, Value>) -> Result<Value>) -> Result<Value> {
    f(as_map(arg1(args)?)?)
}

fn dict_key(
    args: Vec<Value>,
    f: impl Fn(IndexMap<String, Value>, String) -> Result<Value>,
) -> Result<Value> {
    count(&args, 2)?;
    let mut args = args.into_iter();
    let map = as_map(args.next().unwrap_or(Value::Nil))?;
    f(map, text(&args.next().unwrap_or(Value::Nil)))
}

fn dict_keys(args: Vec<Value>, keep: bool) -> Result<Value> {
    let mut args = args.into_iter();
    let map = as_map(args.next().unwrap_or(Value::Nil))?;
    let keys: Vec<String> = args.map(|k| text(&k)).collect();
    Ok(Value::Map(
        map.into_iter()
            .filter(|(k, _)| keys.contains(k) == keep)
            .collect(),
    ))
}

fn dict(args: Vec<Value>) -> Result<Value> {
    let mut map = IndexMap::new();
    let mut args = args.into_iter();
    while let Some(key) = args.next() {
        map.insert(
            text(&key),
            args.next().unwrap_or(Value::String(String::new())),
        );
    }
    Ok(Value::Map(map))
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = c.is_whitespace();
    }
    out
}

fn replace(args: Vec<Value>) -> Result<Value> {
    count(&args, 3)?;
    let (old, new, s) = (text(&args[0]), text(&args[1]), text(&args[2]));
    Ok(Value::String(s.replace(&old, &new)))
}

fn repeat(args: Vec<Value>) -> Result<Value> {
    count(&args, 2)?;
    let n = usize::try_from(int(&args[0])).unwrap_or(0);
    Ok(Value::String(text(&args[1]).repeat(n)))
}

/// `substr start end s`, in bytes as Go slices; `start < 0` is 0, `end < 0` or past the end is
/// the end.
fn substr(args: Vec<Value>) -> Result<Value> {
    count(&args, 3)?;
    let s = text(&args[2]);
    let bytes = s.as_bytes();
    let start = usize::try_from(int(&args[0])).unwrap_or(0);
    let end = usize::try_from(int(&args[1])).map_or(bytes.len(), |e| e.min(bytes.len()));
    if start > end {
        return Ok(Value::String(String::new()));
    }
    Ok(Value::String(
        String::from_utf8_lossy(&bytes[start..end]).into_owned(),
    ))
}

/// `trunc n s`: the first `n` bytes, or with `n < 0` the last `-n`.
fn trunc(args: Vec<Value>) -> Result<Value> {
    count(&args, 2)?;
    let s = text(&args[1]);
    let n = int(&args[0]);
    let len = s.len() as i64;
    let cut = if n < 0 {
        let from = (len + n).max(0) as usize;
        &s.as_bytes()[from..]
    } else {
        &s.as_bytes()[..n.min(len) as usize]
    };
    Ok(Value::String(String::from_utf8_lossy(cut).into_owned()))
}

fn indent(args: Vec<Value>, newline: bool) -> Result<Value> {
    count(&args, 2)?;
    let pad = " ".repeat(usize::try_from(int(&args[0])).unwrap_or(0));
    let indented = format!("{pad}{}", text(&args[1]).replace('\n', &format!("\n{pad}")));
    Ok(Value::String(if newline {
        format!("\n{indented}")
    } else {
        indented
    }))
}

fn round(args: Vec<Value>) -> Result<Value> {
    if args.is_empty() || args.len() > 3 {
        return fail("takes a value and a precision");
    }
    let value = float(&args[0]);
    let places = args.get(1).map_or(0, int).clamp(0, 15) as i32;
    let scale = 10f64.powi(places);
    Ok(Value::Float((value * scale).round() / scale))
}

/// `split sep s`: a dict `_0`, `_1`, … of the pieces.
fn split(args: Vec<Value>) -> Result<Value> {
    count(&args, 2)?;
    let (sep, s) = (text(&args[0]), text(&args[1]));
    Ok(Value::Map(
        s.split(sep.as_str())
            .enumerate()
            .map(|(i, piece)| (format!("_{i}"), Value::String(piece.to_string())))
            .collect(),
    ))
}

fn join(args: Vec<Value>) -> Result<Value> {
    count(&args, 2)?;
    let sep = text(&args[0]);
    let items = match &args[1] {
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>(),
        other => vec![text(other)],
    };
    Ok(Value::String(items.join(&sep)))
}

fn concat(args: Vec<Value>) -> Result<Value> {
    let mut out = Vec::new();
    for list in args {
        out.extend(as_list(list)?);
    }
    Ok(Value::Array(out))
}

fn has(args: Vec<Value>) -> Result<Value> {
    count(&args, 2)?;
    let mut args = args.into_iter();
    let needle = args.next().unwrap_or(Value::Nil);
    let list = as_list(args.next().unwrap_or(Value::Nil))?;
    Ok(Value::Bool(list.contains(&needle)))
}

fn without(args: Vec<Value>) -> Result<Value> {
    let mut args = args.into_iter();
    let list = as_list(args.next().unwrap_or(Value::Nil))?;
    let drop: Vec<Value> = args.collect();
    Ok(Value::Array(
        list.into_iter().filter(|v| !drop.contains(v)).collect(),
    ))
}

fn steps(start: i64, stop: i64, step: i64) -> Result<Value> {
    let mut out = Vec::new();
    if step == 0 {
        return Ok(Value::Array(out));
    }
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        out.push(Value::Integer(i));
        i = match i.checked_add(step) {
            Some(next) => next,
            None => break,
        };
    }
    Ok(Value::Array(out))
}

fn until_step(args: Vec<Value>) -> Result<Value> {
    count(&args, 3)?;
    steps(int(&args[0]), int(&args[1]), int(&args[2]))
}

/// `default d given`: `given` unless it is empty, then `d`.
fn default(args: Vec<Value>) -> Result<Value> {
    let mut args = args.into_iter();
    let Some(fallback) = args.next() else {
        return fail("takes a default and a value");
    };
    Ok(match args.next() {
        Some(given) if !empty(&given) => given,
        _ => fallback,
    })
}

/// `ternary yes no condition`.
fn ternary(args: Vec<Value>) -> Result<Value> {
    count(&args, 3)?;
    let mut args = args.into_iter();
    let (yes, no) = (args.next(), args.next());
    let chosen = if args.next() == Some(Value::Bool(true)) {
        yes
    } else {
        no
    };
    Ok(chosen.unwrap_or(Value::Nil))
}

fn compiled(pattern: &Value) -> Result<regex::Regex> {
    regex::Regex::new(&text(pattern)).or_else(|e| fail(format!("invalid regular expression: {e}")))
}

fn regex2(args: Vec<Value>, f: impl Fn(&regex::Regex, &str) -> Result<Value>) -> Result<Value> {
    count(&args, 2)?;
    f(&compiled(&args[0])?, &text(&args[1]))
}

fn limit(n: i64, len: usize) -> usize {
    usize::try_from(n).map_or(len, |n| n.min(len))
}

fn regex_find_all(args: Vec<Value>) -> Result<Value> {
    count(&args, 3)?;
    let re = compiled(&args[0])?;
    let s = text(&args[1]);
    let found: Vec<&str> = re.find_iter(&s).map(|m| m.as_str()).collect();
    let n = limit(int(&args[2]), found.len());
    Ok(Value::Array(strings(found.into_iter().take(n))))
}

fn regex_replace(args: Vec<Value>, literal: bool) -> Result<Value> {
    count(&args, 3)?;
    let re = compiled(&args[0])?;
    let (s, with) = (text(&args[1]), text(&args[2]));
    let replaced = if literal {
        re.replace_all(&s, regex::NoExpand(&with))
    } else {
        re.replace_all(&s, with.as_str())
    };
    Ok(Value::String(replaced.into_owned()))
}

fn regex_split(args: Vec<Value>) -> Result<Value> {
    count(&args, 3)?;
    let re = compiled(&args[0])?;
    let s = text(&args[1]);
    let n = int(&args[2]);
    let pieces: Vec<&str> = if n < 0 {
        re.split(&s).collect()
    } else {
        re.splitn(&s, limit(n, usize::MAX)).collect()
    };
    Ok(Value::Array(strings(pieces.into_iter())))
}
