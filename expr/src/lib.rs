//! Argo's expressions: the text of a `{{=…}}` tag, evaluated as Argo's controller does (expr-lang,
//! `util/expr/env` and `util/template/expression_template.go` in argo-workflows).
//!
//! - The variables are Argo's flat names (`inputs.parameters.n`, `tasks.a.outputs.result`), all
//!   strings, expanded into nested maps (`inputs.parameters['n']` works), a name that is the
//!   prefix of another dropped as Argo drops it ([`variables`]).
//! - Argo's functions are added to expr-lang's: `asInt`, `asFloat`, `string`, `toJson`,
//!   `jsonpath` and the `sprig.*` functions Flotilla implements ([`functions`]). A call to any other
//!   function is refused by [`check`], naming it.
//! - The result is written as Go's `fmt.Sprintf("%v", result)` would ([`go_format`]); a `nil`
//!   result is `None`, which Argo treats as unresolved.
//!
//! Nothing here bounds time or memory: `1..2000000000` allocates what it says, and a deeply
//! nested expression recurses in the parser. The controller therefore never calls this natively;
//! it runs the `expr-sandbox` WebAssembly component built from it, under fuel and a memory cap.
//! The engine's unit tests call it natively, on expressions they wrote.

mod functions;
mod go_format;
mod scan;
mod variables;

pub use go_format::go_format;

/// Longest value an evaluation returns: a longer one is an error (a substitution cannot hold
/// more anyway), refused where it was made rather than copied out of the sandbox.
pub const MAX_RESULT_BYTES: usize = 2 << 20;
/// Longest error message: expr-lang's messages may quote a value (`Invalid condition for ?:
/// String("…")`), and a message goes into the workflow's status.
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// Why an expression could not be evaluated. A message names what was wrong; like Argo's, it may
/// quote a value of the workflow's own (it goes into that workflow's status), never more than
/// [`MAX_MESSAGE_BYTES`] of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The text is not an expression (the parser's message, with the position).
    Syntax(String),
    /// The expression calls a function that neither expr-lang nor Argo's environment has (or one
    /// Flotilla leaves out): its name, as written.
    UnknownFunction(String),
    /// Evaluation failed (a wrong argument type, an integer that does not parse, …).
    Evaluation(String),
    /// The value is longer than [`MAX_RESULT_BYTES`]: its length. A bound, not an answer about
    /// the expression.
    TooLarge(usize),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Syntax(message) => write!(f, "cannot parse the expression: {message}"),
            Error::UnknownFunction(name) => write!(
                f,
                "the expression calls {name}(), which Flotilla's expressions do not have"
            ),
            Error::Evaluation(message) => write!(f, "failed to evaluate expression: {message}"),
            Error::TooLarge(bytes) => write!(
                f,
                "the expression's value is {bytes} bytes, more than the {MAX_RESULT_BYTES} an expression may give"
            ),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The error with its message cut to [`MAX_MESSAGE_BYTES`] (at a character boundary).
    fn shortened(self) -> Self {
        let cut = |mut message: String| {
            if message.len() > MAX_MESSAGE_BYTES {
                let mut end = MAX_MESSAGE_BYTES;
                while !message.is_char_boundary(end) {
                    end -= 1;
                }
                message.truncate(end);
                message.push('…');
            }
            message
        };
        match self {
            Error::Syntax(m) => Error::Syntax(cut(m)),
            Error::UnknownFunction(m) => Error::UnknownFunction(cut(m)),
            Error::Evaluation(m) => Error::Evaluation(cut(m)),
            Error::TooLarge(bytes) => Error::TooLarge(bytes),
        }
    }
}

/// Parses `expression` and checks that every function it calls exists: what validation asks of
/// an expression before the workflow runs.
pub fn check(expression: &str) -> Result<(), Error> {
    contained(|| prepare(expression).map(drop)).map_err(Error::shortened)
}

/// Evaluates `expression` over `variables` (Argo's flat names and their string values): the
/// result as Go's `%v` writes it, or `None` when it is `nil`.
pub fn evaluate(expression: &str, variables: &[(String, String)]) -> Result<Option<String>, Error> {
    contained(|| {
        let (program, environment) = prepare(expression)?;
        let value = environment
            .run(&program, &variables::context(variables))
            .map_err(|e| Error::Evaluation(scan::restore(&e.to_string())))?;
        let text = (!value.is_nil()).then(|| go_format(&value));
        match text {
            Some(text) if text.len() > MAX_RESULT_BYTES => Err(Error::TooLarge(text.len())),
            text => Ok(text),
        }
    })
    .map_err(Error::shortened)
}

/// `f`, a panic in expr-lang an error. expr-lang 2.1 panics on some input it parses (a map
/// literal whose values are not constants: `{"a": x}`). Where panics abort (the WebAssembly
/// sandbox) the host sees a trap instead.
fn contained<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("a panic");
        Err(Error::Evaluation(format!(
            "the evaluator failed on this expression: {}",
            scan::restore(message)
        )))
    })
}

/// The environment every expression runs in: built once (its table of about 250 functions
/// costs more than most evaluations).
static ENVIRONMENT: std::sync::LazyLock<expr::Environment<'static>> =
    std::sync::LazyLock::new(functions::environment);

/// `expression` parsed, with the environment it runs in, once every function it calls is known.
fn prepare(
    expression: &str,
) -> Result<(expr::Program, &'static expr::Environment<'static>), Error> {
    let source = scan::rewrite(expression);
    let program =
        expr::compile(&source).map_err(|e| Error::Syntax(scan::restore(&e.to_string())))?;
    let environment = &*ENVIRONMENT;
    let empty = expr::Context::default();
    if let Some(name) = scan::called(&source)
        .into_iter()
        .find(|name| !functions::exists(environment, &empty, name))
    {
        return Err(Error::UnknownFunction(scan::restore(&name)));
    }
    Ok((program, environment))
}

#[cfg(test)]
mod tests;
