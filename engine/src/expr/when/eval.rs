//! govaluate's evaluation: operands first (with `&&`, `||`, `?`, `:`, `??` short-circuiting),
//! then the operator's type checks, then the operator. Error strings are govaluate's.

use super::lex::{Op, compile_pattern};
use super::parse::Ast;
use super::value::Value;

const LOGICAL: &str =
    "Value '{v}' cannot be used with the logical operator '{op}', it is not a bool";
const MODIFIER: &str = "Value '{v}' cannot be used with the modifier '{op}', it is not a number";
const COMPARATOR: &str =
    "Value '{v}' cannot be used with the comparator '{op}', it is not a number";
const TERNARY: &str =
    "Value '{v}' cannot be used with the ternary operator '{op}', it is not a bool";
const PREFIX: &str = "Value '{v}' cannot be used with the prefix '{op}'";

fn type_error(format: &str, value: &Value, op: Op) -> String {
    format
        .replace("{v}", &value.go_fmt())
        .replace("{op}", op.symbol())
}

/// The error format govaluate attaches to the precedence level an operator is planned at.
fn format_for(op: Op) -> &'static str {
    match op {
        Op::And | Op::Or => LOGICAL,
        Op::Eq | Op::Neq | Op::Gt | Op::Lt | Op::Gte | Op::Lte | Op::Req | Op::Nreq | Op::In => {
            COMPARATOR
        }
        Op::TernaryTrue | Op::TernaryFalse | Op::Coalesce => TERNARY,
        Op::Negate | Op::Invert | Op::BitNot => PREFIX,
        _ => MODIFIER,
    }
}

fn is_number(v: &Value) -> bool {
    matches!(v, Value::Number(_))
}

fn is_string(v: &Value) -> bool {
    matches!(v, Value::Str(_))
}

fn is_bool(v: &Value) -> bool {
    matches!(v, Value::Bool(_))
}

/// govaluate's per-operator type checks: `Err` names the offending value.
fn type_check(op: Op, left: &Value, right: &Value) -> Result<(), String> {
    let fail = |value: &Value| Err(type_error(format_for(op), value, op));
    match op {
        // Combined checks report the left value whichever side is wrong.
        Op::Gt | Op::Lt | Op::Gte | Op::Lte => {
            let ok = (is_number(left) && is_number(right)) || (is_string(left) && is_string(right));
            if ok { Ok(()) } else { fail(left) }
        }
        Op::Plus => {
            let ok = (is_number(left) && is_number(right)) || is_string(left) || is_string(right);
            if ok { Ok(()) } else { fail(left) }
        }
        Op::Req | Op::Nreq => {
            if !is_string(left) {
                fail(left)
            } else if !matches!(right, Value::Str(_) | Value::Pattern(_)) {
                fail(right)
            } else {
                Ok(())
            }
        }
        Op::And | Op::Or => {
            if !is_bool(left) {
                fail(left)
            } else if !is_bool(right) {
                fail(right)
            } else {
                Ok(())
            }
        }
        Op::In => {
            if matches!(right, Value::Array(_)) {
                Ok(())
            } else {
                fail(right)
            }
        }
        Op::Minus
        | Op::Mul
        | Op::Div
        | Op::Mod
        | Op::Pow
        | Op::BitAnd
        | Op::BitOr
        | Op::BitXor
        | Op::Shl
        | Op::Shr => {
            if !is_number(left) {
                fail(left)
            } else if !is_number(right) {
                fail(right)
            } else {
                Ok(())
            }
        }
        Op::TernaryTrue => {
            if is_bool(left) {
                Ok(())
            } else {
                fail(left)
            }
        }
        Op::Negate | Op::BitNot => {
            if is_number(right) {
                Ok(())
            } else {
                fail(right)
            }
        }
        Op::Invert => {
            if is_bool(right) {
                Ok(())
            } else {
                fail(right)
            }
        }
        Op::Eq | Op::Neq | Op::TernaryFalse | Op::Coalesce | Op::Separate => Ok(()),
    }
}

pub(super) fn eval(ast: &Ast) -> Result<Value, String> {
    match ast {
        Ast::Nil => Ok(Value::Nil),
        Ast::Literal(value) => Ok(value.clone()),
        Ast::Variable(name) => Err(format!("No parameter '{name}' found.")),
        Ast::Accessor { parts, args } => {
            if let Some(args) = args {
                eval(args)?;
            }
            let first = parts.first().map_or("", String::as_str);
            Err(format!("No parameter '{first}' found."))
        }
        Ast::Prefix(op, operand) => {
            let right = eval(operand)?;
            type_check(*op, &Value::Nil, &right)?;
            Ok(match (op, right) {
                (Op::Negate, Value::Number(n)) => Value::Number(-n),
                (Op::BitNot, Value::Number(n)) => Value::Number(!(n as i64) as f64),
                (Op::Invert, Value::Bool(b)) => Value::Bool(!b),
                (_, other) => other,
            })
        }
        Ast::Binary(op, left, right) => {
            let left = eval(left)?;
            // Short circuits happen before the right side is evaluated or type checked.
            match (op, &left) {
                (Op::And, Value::Bool(false)) => return Ok(Value::Bool(false)),
                (Op::Or, Value::Bool(true)) => return Ok(Value::Bool(true)),
                (Op::TernaryTrue, Value::Bool(false)) => return Ok(Value::Nil),
                (Op::TernaryFalse | Op::Coalesce, l) if !matches!(l, Value::Nil) => {
                    return Ok(left);
                }
                _ => {}
            }
            let right = eval(right)?;
            type_check(*op, &left, &right)?;
            binary(*op, left, right)
        }
    }
}

/// Applies `op` to operands that passed its type check.
fn binary(op: Op, left: Value, right: Value) -> Result<Value, String> {
    use Value::{Bool, Number as Num, Str};
    let value = match (op, left, right) {
        (Op::Eq, l, r) => Bool(l.deep_equal(&r)),
        (Op::Neq, l, r) => Bool(!l.deep_equal(&r)),
        (Op::Gt, Str(l), Str(r)) => Bool(l > r),
        (Op::Lt, Str(l), Str(r)) => Bool(l < r),
        (Op::Gte, Str(l), Str(r)) => Bool(l >= r),
        (Op::Lte, Str(l), Str(r)) => Bool(l <= r),
        (Op::Gt, Num(l), Num(r)) => Bool(l > r),
        (Op::Lt, Num(l), Num(r)) => Bool(l < r),
        (Op::Gte, Num(l), Num(r)) => Bool(l >= r),
        (Op::Lte, Num(l), Num(r)) => Bool(l <= r),
        (Op::Req | Op::Nreq, Str(candidate), pattern) => {
            let pattern = match pattern {
                Value::Pattern(p) => p,
                other => compile_pattern(&other.go_fmt()).map_err(|err| {
                    format!(
                        "Unable to compile regexp pattern '{}': {err}",
                        other.go_fmt()
                    )
                })?,
            };
            Bool(pattern.regex.is_match(&candidate) == (op == Op::Req))
        }
        (Op::In, l, Value::Array(items)) => Bool(items.iter().any(|i| l.interface_equal(i))),
        (Op::And, Bool(l), Bool(r)) => Bool(l && r),
        (Op::Or, Bool(l), Bool(r)) => Bool(l || r),
        (Op::Plus, Num(l), Num(r)) => Num(l + r),
        (Op::Plus, l, r) => Str(format!("{}{}", l.go_fmt(), r.go_fmt())),
        (Op::Minus, Num(l), Num(r)) => Num(l - r),
        (Op::Mul, Num(l), Num(r)) => Num(l * r),
        (Op::Div, Num(l), Num(r)) => Num(l / r),
        (Op::Mod, Num(l), Num(r)) => Num(l % r),
        (Op::Pow, Num(l), Num(r)) => Num(l.powf(r)),
        (Op::BitAnd, Num(l), Num(r)) => Num(((l as i64) & (r as i64)) as f64),
        (Op::BitOr, Num(l), Num(r)) => Num(((l as i64) | (r as i64)) as f64),
        (Op::BitXor, Num(l), Num(r)) => Num(((l as i64) ^ (r as i64)) as f64),
        (Op::Shl, Num(l), Num(r)) => Num(shift(l, r, u64::checked_shl)),
        (Op::Shr, Num(l), Num(r)) => Num(shift(l, r, u64::checked_shr)),
        (Op::TernaryTrue, _, r) => r,
        (Op::TernaryFalse | Op::Coalesce, _, r) => r,
        (Op::Separate, Value::Array(mut items), r) => {
            items.push(r);
            Value::Array(items)
        }
        (Op::Separate, l, r) => Value::Array(vec![l, r]),
        (op, l, r) => {
            // Unreachable after the type checks; reported rather than panicking.
            return Err(type_error(format_for(op), &Value::Array(vec![l, r]), op));
        }
    };
    Ok(value)
}

/// Go's `uint64(l) << uint64(r)`: shifting by 64 or more gives 0.
fn shift(l: f64, r: f64, f: fn(u64, u32) -> Option<u64>) -> f64 {
    let amount = u32::try_from(r as u64).unwrap_or(u32::MAX);
    f(l as u64, amount).unwrap_or(0) as f64
}
