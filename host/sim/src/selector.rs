//! Label and field selectors, parsed and matched exactly as the Kubernetes API server does.
//!
//! - [`LabelSelector`] (`label`): apimachinery `pkg/labels/selector.go` — `a=b`, `a==b`, `a!=b`,
//!   `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, comma = AND, with the lexer's exact
//!   whitespace handling and error wording.
//! - [`FieldSelector`] (`field`): apimachinery `pkg/fields/selector.go` — `f=v`, `f==v`, `f!=v`,
//!   comma = AND, backslash escapes in values; plus the per-resource list of selectable fields
//!   (`field label not supported: ...`) and how each field is read from an object.
//! - `names`: the label key/value format checks the label parser applies.
//!
//! Parsing happens once per request; matching runs for every watch event of every watcher, so
//! it allocates nothing for string, boolean and missing fields. Every error is answered by the
//! server with 400 BadRequest and the error's `Display` text as the Status message.

mod field;
mod label;
mod names;

use thiserror::Error;

pub(crate) use field::{FieldSelector, field_value, selectable_field};
pub(crate) use label::LabelSelector;

/// Why a selector was rejected. The `Display` text is exactly the message the Kubernetes API
/// server puts in its 400 BadRequest Status.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum SelectorError {
    /// `labelSelector` does not parse, e.g. `unable to parse requirement: found '', expected: identifier`.
    #[error("{0}")]
    Label(String),
    /// `fieldSelector` does not parse, e.g. `invalid selector: 'a'; can't understand 'a'`.
    #[error("{0}")]
    Field(String),
    /// The resource cannot be selected by `field`, e.g. `field label not supported: spec.foo`.
    #[error("{message}")]
    UnsupportedField { field: String, message: String },
}

/// Go's `strconv.Quote` (`%q`), used where Kubernetes quotes a value inside an error message.
/// Printability is approximated by "not a control character and not non-ASCII whitespace".
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c == ' ' || !(c.is_control() || c.is_whitespace()) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_quote_matches_strconv_quote() {
        assert_eq!(go_quote("a\"b"), r#""a\"b""#);
        assert_eq!(go_quote("\u{1}x"), r#""\x01x""#);
        assert_eq!(go_quote("é"), "\"é\"");
        assert_eq!(go_quote("\u{85}"), r#""\u0085""#);
    }

    #[test]
    fn errors_display_their_kubernetes_message() {
        let e = SelectorError::UnsupportedField {
            field: "x".into(),
            message: "field label not supported: x".into(),
        };
        assert_eq!(e.to_string(), "field label not supported: x");
        assert_eq!(SelectorError::Label("m".into()).to_string(), "m");
    }
}
