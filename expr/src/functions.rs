//! The functions of Argo's expression environment beside expr-lang's own: `asInt`, `asFloat`,
//! `string`, `jsonpath` (argoproj/pkg `expr`), `toJson` (argo-workflows `util/expr/env`) and the
//! `sprig.*` functions in [`sprig`].

mod json;
mod sprig;

use expr::{ContextProvider, Environment, Value};

use crate::go_format;

type Result<T> = std::result::Result<T, expr::Error>;

pub(crate) fn fail<T>(message: impl Into<String>) -> Result<T> {
    Err(expr::Error::ExprError(message.into()))
}

/// expr-lang's environment with Argo's functions added.
pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.add_function("asInt", |c| one("asInt", c.args).and_then(as_int));
    env.add_function("asFloat", |c| one("asFloat", c.args).and_then(as_float));
    env.add_function("string", |c| {
        one("string", c.args).map(|v| Value::String(go_format(&v)))
    });
    env.add_function("toJson", |c| {
        one("toJson", c.args).map(|v| Value::String(json::to_go_json(&v)))
    });
    env.add_function("jsonpath", |c| jsonpath(c.args));
    sprig::add(&mut env);
    env
}

/// Whether `env` has the function `name`. expr-lang keeps its table private, so the function is
/// called with no arguments: a missing one says so (and a builtin left out with a Cargo feature
/// says that), anything else is the function's own complaint about its arguments.
pub(crate) fn exists(env: &Environment, ctx: &dyn ContextProvider, name: &str) -> bool {
    match env.eval_func(ctx, name, Vec::new(), None) {
        Ok(_) => true,
        Err(e) => {
            let message = e.to_string();
            !message.starts_with("Unknown function") && !message.contains("requires expr-lang's")
        }
    }
}

/// The one argument of `name`.
pub(crate) fn one(name: &str, mut args: Vec<Value>) -> Result<Value> {
    if args.len() != 1 {
        return fail(format!("{name}() takes 1 argument, not {}", args.len()));
    }
    Ok(args.remove(0))
}

/// Argo's `asInt`: an integer, a float truncated, or a string in base 10.
fn as_int(value: Value) -> Result<Value> {
    match value {
        Value::Integer(n) => Ok(Value::Integer(n)),
        Value::Float(f) => Ok(Value::Integer(f as i64)),
        Value::String(s) => match s.parse::<i64>() {
            Ok(n) => Ok(Value::Integer(n)),
            Err(_) => fail("asInt: the string is not an integer in base 10"),
        },
        other => fail(format!(
            "asInt: cannot convert {} to an integer",
            kind(&other)
        )),
    }
}

/// Argo's `asFloat`: a float, an integer, or a string.
fn as_float(value: Value) -> Result<Value> {
    match value {
        Value::Float(f) => Ok(Value::Float(f)),
        Value::Integer(n) => Ok(Value::Float(n as f64)),
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(f) => Ok(Value::Float(f)),
            Err(_) => fail("asFloat: the string is not a number"),
        },
        other => fail(format!(
            "asFloat: cannot convert {} to a float",
            kind(&other)
        )),
    }
}

/// `jsonpath(json, path)`: the value at `path` in the JSON text `json`; a list for a path that
/// may match several (a wildcard, a slice, a filter, a union or `..`), else the one value.
fn jsonpath(args: Vec<Value>) -> Result<Value> {
    use jsonpath_rust::JsonPath;
    let [Value::String(text), Value::String(path)] = args.as_slice() else {
        return fail("jsonpath() takes a JSON string and a path");
    };
    let document: serde_json::Value = match serde_json::from_str(text) {
        Ok(document) => document,
        Err(e) => return fail(format!("jsonpath: the first argument is not JSON: {e}")),
    };
    let found = match document.query(path) {
        Ok(found) => found,
        Err(e) => return fail(format!("jsonpath: {path}: {e}")),
    };
    let many = ["*", "..", "?(", ":", ","].iter().any(|m| path.contains(m));
    if many {
        return Ok(Value::Array(
            found.into_iter().map(json::from_json).collect(),
        ));
    }
    match found.first() {
        Some(value) => Ok(json::from_json(value)),
        None => fail(format!("jsonpath: {path} matches nothing")),
    }
}

/// The kind of `value` as Go's reflection names it (sprig's `kindOf`).
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Nil => "invalid",
        Value::Bool(_) => "bool",
        Value::Integer(_) => "int",
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) | Value::Bytes(_) => "slice",
        Value::Map(_) | Value::KeyedMap(_) => "map",
    }
}
