//! The two small expression languages Argo uses to decide whether a DAG task or a step runs.
//!
//! - [`DependsExpr`]: a DAG task's `depends` (or legacy `dependencies` list), a boolean formula
//!   over the results of other tasks (`A && (B.Failed || C.AnySucceeded)`). It names the DAG's
//!   edges ([`DependsExpr::dependencies`]) and, once every dependency is fulfilled, says whether the
//!   task runs or is omitted ([`DependsExpr::evaluate`]).
//! - [`when_true`]: a task's or step's `when`, evaluated after `{{…}}` substitution with the
//!   semantics of the govaluate library Argo v3.5/3.6 uses, including its quirk that unquoted words
//!   are strings (`heads == heads` is true).
//!
//! Both are pure: no I/O, no clock, so the engine can call them from its synchronous decision code.

mod depends;
mod when;

pub(crate) use depends::{
    ContinueOn, DependsDecision, DependsExpr, OMITTED_MESSAGE, Phase, TaskState,
};
pub(crate) use when::when_true;

/// Deepest parenthesis nesting allowed in one expression.
const MAX_NESTING: usize = 128;
/// Most operators (prefix `!`/`-` included) allowed in one expression.
const MAX_OPERATORS: usize = 512;

/// Rejects expressions whose nesting or operator count would make the recursive parsers and
/// evaluators go deeper than [`MAX_NESTING`]/[`MAX_OPERATORS`] allow.
fn check_complexity(expr: &str, max_open: usize, operators: usize) -> Result<()> {
    let too_complex = |limit, what| {
        // The text may be huge; its start is enough to recognise it.
        let mut shown: String = expr.chars().take(64).collect();
        if shown.len() < expr.len() {
            shown.push('…');
        }
        Err(ExprError::TooComplex {
            expr: shown,
            limit,
            what,
        })
    };
    if max_open > MAX_NESTING {
        return too_complex(MAX_NESTING, "nested parentheses");
    }
    if operators > MAX_OPERATORS {
        return too_complex(MAX_OPERATORS, "operators");
    }
    Ok(())
}

/// Result alias for this module.
pub(crate) type Result<T, E = ExprError> = std::result::Result<T, E>;

/// Why an expression could not be parsed or evaluated.
///
/// The `When*` messages are Argo's own, word for word (including its "expresion" typo), because
/// users see them as the message of the node that errored and may match on them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ExprError {
    /// A `depends` expression is not well formed. `position` is the 1-based character column.
    #[error(
        "invalid depends expression '{expr}': expected {expected} at position {position}, found {found}"
    )]
    DependsSyntax {
        expr: String,
        position: usize,
        expected: &'static str,
        found: String,
    },
    /// `depends` names a result that does not exist (`A.Finished`). Argo's validation wording.
    #[error("task result '{result}' for task '{task}' is invalid")]
    InvalidTaskResult { task: String, result: String },
    /// A name in a legacy `dependencies` list is not a task name Argo can refer to.
    #[error(
        "dependency '{name}' is invalid: name must consist of alpha-numeric characters or '-', and must start with an alpha-numeric character"
    )]
    InvalidDependencyName { name: String },
    /// The expression nests deeper, or chains more operators, than any real workflow does. Refused
    /// so that parsing and evaluation (which recurse) cannot exhaust the stack.
    #[error("expression '{expr}' is too complex: more than {limit} {what}")]
    TooComplex {
        expr: String,
        limit: usize,
        what: &'static str,
    },
    /// The substituted `when` text does not lex or parse (Argo: the node errors).
    #[error("Invalid 'when' expression '{expr}': {reason}")]
    WhenInvalid { expr: String, reason: String },
    /// The `when` text parsed, but not once unquoted words were turned into strings.
    #[error("Failed to parse 'when' expression '{expr}': {reason}")]
    WhenParse { expr: String, reason: String },
    /// Evaluating the `when` failed, e.g. `heads-up == x` subtracts two strings.
    #[error("Failed to evaluate 'when' expresion '{expr}': {reason}")]
    WhenEvaluate { expr: String, reason: String },
    /// The `when` evaluated to something other than a boolean, e.g. `1 + 2`.
    #[error("Expected boolean evaluation for '{expr}'. Got {got}")]
    WhenNotBool { expr: String, got: String },
}
