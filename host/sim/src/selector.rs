//! Label and field selectors, parsed and matched exactly as the Kubernetes API server does.
//!
//! - [`LabelSelector`] (`label`): apimachinery `pkg/labels/selector.go` — `a=b`, `a==b`, `a!=b`,
//!   `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, comma = AND, with the lexer's exact
//!   whitespace handling and error wording.
//! - [`FieldSelector`] (`field`): apimachinery `pkg/fields/selector.go` — `f=v`, `f==v`, `f!=v`,
//!   comma = AND, backslash escapes in values; plus the per-resource list of selectable fields
//!   (`field label not supported: ...`) and how each field is read from an object.
//!
//! Parsing happens once per request; matching runs for every watch event of every watcher, so
//! it allocates nothing for string, boolean and missing fields. Every error is answered by the
//! server with 400 BadRequest and the error's `Display` text as the Status message.

mod field;
mod label;

use thiserror::Error;

pub(crate) use field::FieldSelector;
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

#[cfg(test)]
mod tests {
    use super::*;

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
