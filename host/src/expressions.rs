//! Argo's `{{=…}}` expressions, evaluated in the controller's own WebAssembly component
//! (`plugins/expr-sandbox`, the `flotilla-expr` crate behind `wit/flotilla-expressions@0.1.0`),
//! which `host/build.rs` builds and this module embeds.
//!
//! A tenant writes the expression, and nothing in expr-lang bounds what one may cost: a range of
//! two billion integers, a parser recursing on deep nesting, a panic on some input. So every
//! evaluation gets a fresh instance in a store of its own, with [`FUEL`] to spend (wasmtime
//! counts instructions), [`MEMORY`] of linear memory, no WASI capabilities, and inputs and
//! output bounded in size. Whatever the expression does, the worst outcome is that expression's
//! own error ([`ExpressionError`]); the controller and every other workflow carry on.
//!
//! The component is compiled once per process, on first use or when [`warm`] is called at start.

use std::sync::{Arc, LazyLock, OnceLock};

use flotilla_engine::ports::Expressions;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/flotilla-expressions@0.1.0",
        world: "expressions",
    });
}

#[cfg(test)]
mod tests;

/// The component, as `host/build.rs` built it.
const COMPONENT: &[u8] = include_bytes!(env!("FLOTILLA_EXPR_SANDBOX"));

/// Instructions one evaluation (instantiation included) may execute. An ordinary expression
/// takes well under a million (docs/performance.md); this is about a tenth of a second of one
/// core, and more than any expression in Argo's examples needs by a factor of a hundred.
pub const FUEL: u64 = 100_000_000;
/// Linear memory one evaluation may hold.
pub const MEMORY: usize = 64 << 20;
/// Longest expression evaluated (Argo's own are a few hundred bytes).
pub const MAX_EXPRESSION_BYTES: usize = 64 << 10;
/// Most bytes of variables (names and values) handed to one evaluation: a workflow's variables
/// come from its status, which the API server caps at 1.5 MiB, plus outputs read from pods.
pub const MAX_VARIABLE_BYTES: usize = 8 << 20;
/// Longest value an evaluation may return (a substitution is capped at 2 MiB anyway).
pub const MAX_RESULT_BYTES: usize = 2 << 20;

/// Why an expression was not evaluated. No message quotes a variable's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpressionError {
    /// The evaluator's own answer: a syntax error, an unknown function, a failed evaluation.
    #[error("{0}")]
    Refused(String),
    #[error("the expression is {0} bytes, more than the {MAX_EXPRESSION_BYTES} evaluated")]
    ExpressionTooLong(usize),
    #[error(
        "the variables in scope are {0} bytes, more than the {MAX_VARIABLE_BYTES} an expression is given"
    )]
    VariablesTooLarge(usize),
    #[error("the expression's value is {0} bytes, more than the {MAX_RESULT_BYTES} allowed")]
    ResultTooLarge(usize),
    #[error("the expression ran past its budget of {FUEL} instructions")]
    OutOfFuel,
    #[error("the expression needed more than {} MiB of memory", MEMORY >> 20)]
    OutOfMemory,
    /// The evaluator trapped for another reason (a stack overflow on deep nesting, a panic).
    #[error("the evaluator failed on this expression ({0})")]
    Trapped(String),
    /// The component could not be compiled or instantiated: a broken build, not the tenant.
    #[error("the expression sandbox is unavailable: {0}")]
    Unavailable(String),
}

/// The compiled component and what instantiates it.
struct Sandbox {
    engine: Engine,
    pre: bindings::ExpressionsPre<State>,
}

/// One evaluation's store: WASI with nothing granted, and the memory cap.
struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// [`MEMORY`] of linear memory, a few tables and instances, and whether a growth was refused
/// (so the error says memory, not the trap it turns into).
#[derive(Default)]
struct Limiter {
    refused: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= MEMORY;
        self.refused |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 10_000)
    }

    fn instances(&self) -> usize {
        8
    }

    fn tables(&self) -> usize {
        8
    }

    fn memories(&self) -> usize {
        2
    }
}

impl Sandbox {
    fn new() -> Result<Self, String> {
        let mut config = Config::new();
        config.consume_fuel(true);
        let engine = Engine::new(&config).map_err(|e| format!("{e:#}"))?;
        let component = Component::new(&engine, COMPONENT).map_err(|e| format!("{e:#}"))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| format!("{e:#}"))?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(bindings::ExpressionsPre::new)
            .map_err(|e| format!("{e:#}"))?;
        Ok(Sandbox { engine, pre })
    }

    /// `call` on a fresh instance, under the budget.
    fn call<T>(
        &self,
        call: impl FnOnce(
            &bindings::exports::flotilla::expressions::evaluator::Guest,
            &mut Store<State>,
        ) -> wasmtime::Result<Result<T, String>>,
    ) -> Result<T, ExpressionError> {
        let state = State {
            wasi: WasiCtxBuilder::new()
                .allow_tcp(false)
                .allow_udp(false)
                .allow_ip_name_lookup(false)
                .build(),
            table: ResourceTable::new(),
            limiter: Limiter::default(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        store
            .set_fuel(FUEL)
            .map_err(|e| ExpressionError::Unavailable(format!("{e:#}")))?;
        let outcome = self
            .pre
            .instantiate(&mut store)
            .and_then(|instance| call(instance.flotilla_expressions_evaluator(), &mut store));
        match outcome {
            Ok(answer) => answer.map_err(ExpressionError::Refused),
            Err(e) if e.downcast_ref() == Some(&wasmtime::Trap::OutOfFuel) => {
                Err(ExpressionError::OutOfFuel)
            }
            Err(_) if store.data().limiter.refused => Err(ExpressionError::OutOfMemory),
            Err(e) => Err(ExpressionError::Trapped(trap_reason(&e))),
        }
    }
}

/// A trap's kind, without the guest's backtrace.
fn trap_reason(error: &wasmtime::Error) -> String {
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::StackOverflow) => "it is nested too deeply".to_string(),
        // How a Rust guest stops: a panic, or an allocation it refuses to attempt.
        Some(wasmtime::Trap::UnreachableCodeReached) => {
            "it stopped on a panic or an allocation beyond its memory".to_string()
        }
        Some(trap) => trap.to_string(),
        None => error.to_string(),
    }
}

static SANDBOX: OnceLock<Result<Sandbox, String>> = OnceLock::new();

fn sandbox() -> Result<&'static Sandbox, ExpressionError> {
    SANDBOX
        .get_or_init(Sandbox::new)
        .as_ref()
        .map_err(|e| ExpressionError::Unavailable(e.clone()))
}

/// Compiles the component now (a second or two), so the first workflow with an expression does
/// not wait for it. Returns why it cannot be, if it cannot.
pub fn warm() -> Result<(), ExpressionError> {
    sandbox().map(drop)
}

/// Parses `expression` and checks every function it calls exists.
pub fn check(expression: &str) -> Result<(), ExpressionError> {
    expression_fits(expression)?;
    sandbox()?.call(|guest, store| guest.call_check(store, expression))
}

/// `expression` over `variables`: its value as Go's `%v` writes it, or `None` when nil.
pub fn evaluate(
    expression: &str,
    variables: &[(String, String)],
) -> Result<Option<String>, ExpressionError> {
    expression_fits(expression)?;
    let size: usize = variables.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_VARIABLE_BYTES {
        return Err(ExpressionError::VariablesTooLarge(size));
    }
    let value =
        sandbox()?.call(|guest, store| guest.call_evaluate(store, expression, variables))?;
    match value {
        Some(text) if text.len() > MAX_RESULT_BYTES => {
            Err(ExpressionError::ResultTooLarge(text.len()))
        }
        value => Ok(value),
    }
}

fn expression_fits(expression: &str) -> Result<(), ExpressionError> {
    if expression.len() > MAX_EXPRESSION_BYTES {
        return Err(ExpressionError::ExpressionTooLong(expression.len()));
    }
    Ok(())
}

/// The engine's port onto the sandbox.
#[derive(Debug)]
struct Sandboxed;

impl Expressions for Sandboxed {
    fn check(&self, expression: &str) -> Result<(), String> {
        check(expression).map_err(|e| e.to_string())
    }

    fn evaluate(
        &self,
        expression: &str,
        variables: &[(String, String)],
    ) -> Result<Option<String>, String> {
        evaluate(expression, variables).map_err(|e| e.to_string())
    }
}

static PORT: LazyLock<Arc<dyn Expressions>> = LazyLock::new(|| Arc::new(Sandboxed));

/// The evaluator the engine is given: shared, compiled on first use.
pub fn port() -> Arc<dyn Expressions> {
    PORT.clone()
}
