//! Argo's `{{=…}}` expressions, evaluated in the controller's own WebAssembly component
//! (`plugins/expr-sandbox`, the `flotilla-expr` crate behind `wit/flotilla-expressions@0.1.0`),
//! which `host/build.rs` builds and this module embeds.
//!
//! A tenant writes the expression, and nothing in expr-lang bounds what one may cost: a range of
//! two billion integers, a parser recursing on deep nesting, a panic on some input. So every
//! evaluation runs in a WebAssembly instance with at most [`FUEL`] to spend (wasmtime counts
//! instructions; the engine's per-pass budget may allow less), [`MEMORY`] of linear memory, no
//! WASI capabilities, and inputs and output bounded in size. Evaluations run on [`THREADS`]
//! threads of their own, with stacks deep enough for the sandbox's, each keeping one instance
//! between calls (its start-up and expr-lang's function table cost more than most evaluations):
//! at most that many instances exist at once, whatever the number of reconciles. An instance is
//! dropped once it traps, and replaced after [`RECYCLE_CALLS`] calls or once its memory passes
//! [`RECYCLE_BYTES`]; what one evaluation leaves in it no expression can read (the language has
//! no way to reach memory it did not allocate). Whatever the expression does, the worst outcome
//! is that expression's own error ([`ExpressionError`]); the controller and every other workflow
//! carry on.
//!
//! The component is compiled once per process, on first use or when [`warm`] is called at start.

use std::sync::{Arc, LazyLock, Mutex, OnceLock, mpsc};

use flotilla_engine::ports::{ExpressionFailure, Expressions, Spent};

use crate::plugins::bounds;
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
pub const MEMORY: usize = 32 << 20;
/// Threads evaluating at once: with [`MEMORY`] each, what expressions may hold in all.
pub const THREADS: usize = 2;
/// Each evaluation thread's stack: wasmtime's default 512 KiB for the guest, and room for the
/// host's frames around it.
const STACK_BYTES: usize = 4 << 20;
/// Longest expression evaluated (Argo's own are a few hundred bytes).
pub const MAX_EXPRESSION_BYTES: usize = 64 << 10;
/// Most bytes of variables (names and values) handed to one evaluation (the engine gathers no
/// more: only those under the names the expression mentions).
pub const MAX_VARIABLE_BYTES: usize = 4 << 20;
/// Longest value an evaluation may return (a substitution is capped at 2 MiB anyway; the guest
/// refuses a longer one before it is copied out).
pub const MAX_RESULT_BYTES: usize = 2 << 20;

/// Why an expression was not evaluated. The evaluator's own messages may quote a value of the
/// workflow's (as Argo's do; they go to that workflow's status), at most 1 KiB of it.
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
    /// The caller allowed less fuel than an evaluation needs to start.
    #[error("no fuel was left for the expression")]
    NoFuel,
    /// The component could not be compiled or instantiated: a broken build, not the tenant.
    #[error("the expression sandbox is unavailable: {0}")]
    Unavailable(String),
}

/// The compiled component and what instantiates it.
struct Sandbox {
    engine: Engine,
    pre: bindings::ExpressionsPre<State>,
}

/// An evaluation thread's instance, kept between calls.
struct Warm {
    store: Store<State>,
    instance: bindings::Expressions,
    calls: u32,
}

thread_local! {
    /// This evaluation thread's warm instance.
    static WARM: std::cell::RefCell<Option<Warm>> = const { std::cell::RefCell::new(None) };
}

/// Calls after which an instance is replaced.
const RECYCLE_CALLS: u32 = 1000;
/// Linear memory past which an instance is replaced after its call.
const RECYCLE_BYTES: usize = 8 << 20;

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

/// [`MEMORY`] of linear memory, the plugins' bounds on tables and instances
/// ([`crate::plugins::bounds`]), and whether a growth was refused
/// (so the error says memory, not the trap it turns into).
#[derive(Default)]
struct Limiter {
    refused: bool,
    /// The linear memory's size after its last growth.
    size: usize,
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
        if allowed {
            self.size = desired;
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= bounds::MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        bounds::MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        bounds::MAX_TABLES
    }

    fn memories(&self) -> usize {
        bounds::MAX_MEMORIES
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

    /// A fresh store and instance.
    fn instance(&self) -> wasmtime::Result<Warm> {
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
        // Instantiation runs the guest's start-up code, and a first check builds expr-lang's
        // function table: both on the instance's own fuel, not a caller's.
        store.set_fuel(FUEL)?;
        let instance = self.pre.instantiate(&mut store)?;
        let _ = instance
            .flotilla_expressions_evaluator()
            .call_check(&mut store, "1")?;
        Ok(Warm {
            store,
            instance,
            calls: 0,
        })
    }

    /// `call` on this thread's warm instance (a fresh one if there is none), with `fuel` to
    /// spend: its answer, and the fuel it spent.
    fn call<T>(
        &self,
        fuel: u64,
        call: impl FnOnce(
            &bindings::exports::flotilla::expressions::evaluator::Guest,
            &mut Store<State>,
        ) -> wasmtime::Result<Result<T, ExpressionError>>,
    ) -> (Result<T, ExpressionError>, u64) {
        let fuel = fuel.min(FUEL);
        if fuel == 0 {
            return (Err(ExpressionError::NoFuel), 0);
        }
        WARM.with_borrow_mut(|slot| {
            let mut warm = match slot.take() {
                Some(warm) => warm,
                None => match self.instance() {
                    Ok(fresh) => fresh,
                    Err(e) => return (Err(ExpressionError::Unavailable(format!("{e:#}"))), 0),
                },
            };
            let ready = warm.store.set_fuel(fuel);
            warm.store.data_mut().limiter.refused = false;
            warm.calls += 1;
            let outcome = ready.and_then(|()| {
                call(
                    warm.instance.flotilla_expressions_evaluator(),
                    &mut warm.store,
                )
            });
            let spent = fuel.saturating_sub(warm.store.get_fuel().unwrap_or(0));
            let limiter = &warm.store.data().limiter;
            let (refused, size) = (limiter.refused, limiter.size);
            let answer = match outcome {
                Ok(answer) => answer,
                Err(e) if e.downcast_ref() == Some(&wasmtime::Trap::OutOfFuel) => {
                    Err(ExpressionError::OutOfFuel)
                }
                Err(_) if refused => Err(ExpressionError::OutOfMemory),
                Err(e) => Err(ExpressionError::Trapped(trap_reason(&e))),
            };
            // An instance that trapped is never called again (its state is whatever the trap
            // left); one that grew or served many calls is replaced, so no evaluation inherits
            // a large heap.
            let trapped = !matches!(answer, Ok(_) | Err(ExpressionError::Refused(_)));
            if !trapped && size <= RECYCLE_BYTES && warm.calls < RECYCLE_CALLS {
                *slot = Some(warm);
            }
            (answer, spent)
        })
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

/// Compiles the component now (about a second), so the first workflow with an expression does
/// not wait for it. Returns why it cannot be, if it cannot.
pub fn warm() -> Result<(), ExpressionError> {
    sandbox().map(drop)
}

/// A job for an evaluation thread.
type Job = Box<dyn FnOnce() + Send>;

/// The evaluation threads' queue (they start with the first evaluation).
static THREADS_QUEUE: LazyLock<Result<Mutex<mpsc::Sender<Job>>, String>> = LazyLock::new(|| {
    let (sender, receiver) = mpsc::channel::<Job>();
    let receiver = Arc::new(Mutex::new(receiver));
    for i in 0..THREADS {
        let receiver = receiver.clone();
        std::thread::Builder::new()
            .name(format!("flotilla-expr-{i}"))
            .stack_size(STACK_BYTES)
            .spawn(move || {
                loop {
                    // The lock is held only while waiting for a job, never while running one.
                    let job = match receiver.lock() {
                        Ok(receiver) => receiver.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            })
            .map_err(|e| format!("cannot start an evaluation thread: {e}"))?;
    }
    Ok(Mutex::new(sender))
});

/// Runs `work` on an evaluation thread and waits for its answer.
fn on_thread<T: Send + 'static>(
    work: impl FnOnce() -> (Result<T, ExpressionError>, u64) + Send + 'static,
) -> (Result<T, ExpressionError>, u64) {
    let unavailable = |why: &str| (Err(ExpressionError::Unavailable(why.to_string())), 0);
    let queue = match THREADS_QUEUE.as_ref() {
        Ok(queue) => queue,
        Err(e) => return unavailable(e),
    };
    let (reply, answer) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        // A panic in the host's own code stays on this thread's job: the caller gets an error.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        let _ = reply
            .send(outcome.unwrap_or_else(|_| {
                (Err(ExpressionError::Trapped("the host panicked".into())), 0)
            }));
    });
    let sent = match queue.lock() {
        Ok(sender) => sender.send(job).is_ok(),
        Err(_) => false,
    };
    if !sent {
        return unavailable("the evaluation threads have stopped");
    }
    answer
        .recv()
        .unwrap_or_else(|_| unavailable("the evaluation thread gave no answer"))
}

/// Parses `expression` and checks every function it calls exists, with at most `fuel`.
pub fn check(expression: &str, fuel: u64) -> (Result<(), ExpressionError>, u64) {
    if let Err(e) = expression_fits(expression) {
        return (Err(e), 0);
    }
    let expression = expression.to_string();
    on_thread(move || match sandbox() {
        Ok(sandbox) => sandbox.call(fuel, |guest, store| {
            let answer = guest.call_check(store, &expression)?;
            Ok(answer.map_err(ExpressionError::Refused))
        }),
        Err(e) => (Err(e), 0),
    })
}

/// `expression` over `variables`, with at most `fuel`: its value as Go's `%v` writes it, or
/// `None` when nil; and the fuel spent.
pub fn evaluate(
    expression: &str,
    variables: Vec<(String, String)>,
    fuel: u64,
) -> (Result<Option<String>, ExpressionError>, u64) {
    if let Err(e) = expression_fits(expression) {
        return (Err(e), 0);
    }
    let size: usize = variables.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_VARIABLE_BYTES {
        return (Err(ExpressionError::VariablesTooLarge(size)), 0);
    }
    let expression = expression.to_string();
    let (answer, spent) = on_thread(move || match sandbox() {
        Ok(sandbox) => sandbox.call(fuel, |guest, store| {
            use bindings::exports::flotilla::expressions::evaluator::Failure;
            let answer = guest.call_evaluate(store, &expression, &variables)?;
            Ok(answer.map_err(|failure| match failure {
                Failure::Refused(message) => ExpressionError::Refused(message),
                Failure::TooLarge(bytes) => {
                    ExpressionError::ResultTooLarge(usize::try_from(bytes).unwrap_or(usize::MAX))
                }
            }))
        }),
        Err(e) => (Err(e), 0),
    });
    let answer = match answer {
        Ok(Some(text)) if text.len() > MAX_RESULT_BYTES => {
            Err(ExpressionError::ResultTooLarge(text.len()))
        }
        answer => answer,
    };
    (answer, spent)
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

/// An answer as the engine takes it: a refusal is about the expression; anything else is a
/// bound hit.
fn spent<T>(
    (answer, fuel): (Result<T, ExpressionError>, u64),
) -> Result<Spent<T>, ExpressionFailure> {
    answer
        .map(|value| Spent { value, fuel })
        .map_err(|e| ExpressionFailure {
            exhausted: !matches!(e, ExpressionError::Refused(_)),
            message: e.to_string(),
            fuel,
        })
}

impl Expressions for Sandboxed {
    fn check(&self, expression: &str, fuel: u64) -> Result<Spent<()>, ExpressionFailure> {
        spent(check(expression, fuel))
    }

    fn evaluate(
        &self,
        expression: &str,
        variables: Vec<(String, String)>,
        fuel: u64,
    ) -> Result<Spent<Option<String>>, ExpressionFailure> {
        spent(evaluate(expression, variables, fuel))
    }
}

static PORT: LazyLock<Arc<dyn Expressions>> = LazyLock::new(|| Arc::new(Sandboxed));

/// The evaluator the engine is given: shared, compiled on first use.
pub fn port() -> Arc<dyn Expressions> {
    PORT.clone()
}
