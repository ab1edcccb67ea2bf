//! govaluate's run-time values and how Go's `%v` prints them in error messages.

use regex::Regex;

/// A compiled `=~` pattern and the text it came from (what Go prints for a `*regexp.Regexp`).
#[derive(Debug, Clone)]
pub(super) struct Pattern {
    pub(super) source: String,
    pub(super) regex: Regex,
}

/// A govaluate value: every number is a float64; `Nil` is what an empty `()` or a false `?`
/// yields.
#[derive(Debug, Clone)]
pub(super) enum Value {
    Nil,
    Number(f64),
    Str(String),
    Bool(bool),
    Pattern(Pattern),
    Array(Vec<Value>),
}

impl Value {
    /// Go's `%v`.
    pub(super) fn go_fmt(&self) -> String {
        match self {
            Value::Nil => "<nil>".to_string(),
            Value::Number(n) => go_float(*n),
            Value::Str(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Pattern(p) => p.source.clone(),
            Value::Array(items) => {
                let items: Vec<String> = items.iter().map(Value::go_fmt).collect();
                format!("[{}]", items.join(" "))
            }
        }
    }

    /// Go's `reflect.DeepEqual` on the boxed values, which `==` and `!=` use: no conversions, so
    /// `5 == "5"` is false.
    pub(super) fn deep_equal(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Pattern(a), Value::Pattern(b)) => a.source == b.source,
            (Value::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.deep_equal(y))
            }
            _ => false,
        }
    }

    /// Go's `==` on two `interface{}` values, which `in` uses. Slices are not comparable in Go
    /// (it would panic); here they are simply unequal.
    pub(super) fn interface_equal(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Array(_), _) | (_, Value::Array(_)) => false,
            _ => self.deep_equal(other),
        }
    }
}

/// Formats a float64 as Go's `%v` does (`strconv.FormatFloat(f, 'g', -1, 64)`): shortest digits,
/// exponent form when the decimal exponent is below -4 or at least 6, with at least two exponent
/// digits (`123456`, `1e+06`, `1.5e-07`).
pub(super) fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let sign = if f < 0.0 { "-" } else { "" };
    // Rust's `{:e}` prints the shortest round-tripping digits, as Go's shortest formatting does.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{exp_sign}{:02}", exp.unsigned_abs());
    }
    if exp < 0 {
        let zeros = "0".repeat(usize::try_from(-exp - 1).unwrap_or(0));
        return format!("{sign}0.{zeros}{digits}");
    }
    let int_len = usize::try_from(exp + 1).unwrap_or(1);
    if digits.len() <= int_len {
        let zeros = "0".repeat(int_len - digits.len());
        format!("{sign}{digits}{zeros}")
    } else {
        let (int, frac) = digits.split_at(int_len);
        format!("{sign}{int}.{frac}")
    }
}
