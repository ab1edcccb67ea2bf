//! What one pass may spend on Argo's `{{=…}}` expressions.
//!
//! Each evaluation runs in the host's sandbox under its own fuel, but a workflow may hold many
//! expressions and a pass may meet each of them many times (a fan-out's items, every pass while a
//! node waits). So one pass shares [`PASS_FUEL`] among all of them, each evaluation counted at
//! least [`EVALUATION_COST`] for the instance it takes. A pass that runs out is cut short and
//! the workflow errors, saying so ([`Evaluator::spent_out`]): a workflow whose expressions cost
//! more than a pass allows would cost it again on every pass.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use crate::ports::{ExpressionFailure, Expressions, Spent};

/// Instructions one pass's expressions may use in all: about 9,000 plain evaluations (each
/// spends about 0.9 M and is charged [`EVALUATION_COST`] more), a few seconds of one core at
/// worst for expressions that only compute.
pub(crate) const PASS_FUEL: u64 = 10_000_000_000;
/// What an evaluation costs besides its fuel (the call into the sandbox, the variables copied
/// in), so a pass makes at most 40,000 even of evaluations that spend nothing.
pub(crate) const EVALUATION_COST: u64 = 250_000;
/// Most bytes of variables (names and values) one evaluation is given: those under the names
/// the expression mentions (see [`super::Scope`]'s `variables`), more than a status may hold.
pub(crate) const MAX_VARIABLE_BYTES: usize = 4 << 20;
/// What each byte of variables gathered, copied into the sandbox and read there costs.
pub(crate) const BYTE_COST: u64 = 2;

/// The expression port, and what the pass has left to spend (shared by every scope of a pass).
#[derive(Debug, Clone)]
pub(crate) struct Evaluator {
    port: Arc<dyn Expressions>,
    /// What the pass may spend: [`PASS_FUEL`], or less when the namespace has less left.
    limit: u64,
    left: Rc<Cell<u64>>,
}

impl Evaluator {
    /// An evaluator with a fresh pass's budget.
    #[cfg(test)]
    pub(crate) fn new(port: Arc<dyn Expressions>) -> Self {
        Self::within(port, None)
    }

    /// An evaluator whose pass may spend at most `allowance` (and never more than a pass).
    pub(crate) fn within(port: Arc<dyn Expressions>, allowance: Option<u64>) -> Self {
        let limit = allowance.map_or(PASS_FUEL, |a| a.min(PASS_FUEL));
        Evaluator {
            port,
            limit,
            left: Rc::new(Cell::new(limit)),
        }
    }

    /// What the pass has spent.
    pub(crate) fn spent(&self) -> u64 {
        self.limit - self.left.get()
    }

    /// Whether the pass ran out of its namespace's allowance (not of a pass's own budget): it
    /// is to be tried again once the allowance has grown, not held against the workflow.
    pub(crate) fn throttled(&self) -> bool {
        self.limit < PASS_FUEL && self.spent_out().is_some()
    }

    /// Parses `expression` and checks its functions.
    pub(crate) fn check(&self, expression: &str) -> Result<(), ExpressionFailure> {
        self.fuel()?;
        self.charge(EVALUATION_COST);
        self.settle(self.port.check(expression, self.left.get()))
            .map(drop)
    }

    /// Evaluates `expression` over the variables `variables` gives (asked only if the budget
    /// allows an evaluation). The call and every byte gathered are charged, whatever comes of
    /// them.
    pub(crate) fn evaluate(
        &self,
        expression: &str,
        variables: impl FnOnce() -> Result<Vec<(String, String)>, ExpressionFailure>,
    ) -> Result<Option<String>, ExpressionFailure> {
        self.fuel()?;
        self.charge(EVALUATION_COST);
        let variables = match variables() {
            Ok(variables) => variables,
            Err(failure) => {
                self.charge(failure.fuel);
                return Err(failure);
            }
        };
        let bytes: usize = variables.iter().map(|(k, v)| k.len() + v.len()).sum();
        self.charge((bytes as u64).saturating_mul(BYTE_COST));
        self.settle(self.port.evaluate(expression, variables, self.left.get()))
    }

    /// Charges what an answer spent, failures included, and passes the answer on.
    fn settle<T>(
        &self,
        answer: Result<Spent<T>, ExpressionFailure>,
    ) -> Result<T, ExpressionFailure> {
        let spent = match &answer {
            Ok(spent) => spent.fuel,
            Err(failure) => failure.fuel,
        };
        self.charge(spent);
        answer.map(|spent| spent.value)
    }

    fn charge(&self, fuel: u64) {
        self.left.set(self.left.get().saturating_sub(fuel));
    }

    /// Why the pass must stop, once its budget is spent.
    pub(crate) fn spent_out(&self) -> Option<String> {
        (self.left.get() < EVALUATION_COST).then(|| {
            format!(
                "the workflow's expressions used up the {} instructions one pass may spend on them",
                self.limit
            )
        })
    }

    /// What a call may use now, or the failure of a spent budget.
    fn fuel(&self) -> Result<u64, ExpressionFailure> {
        match self.spent_out() {
            Some(message) => Err(ExpressionFailure {
                message,
                fuel: 0,
                exhausted: true,
            }),
            None => Ok(self.left.get()),
        }
    }
}

/// The failure of variables that exceed [`MAX_VARIABLE_BYTES`], having gathered `bytes`.
pub(crate) fn too_many_variables(bytes: usize) -> ExpressionFailure {
    ExpressionFailure {
        message: format!(
            "the variables the expression names are more than the {MAX_VARIABLE_BYTES} bytes an expression is given"
        ),
        fuel: (bytes as u64).saturating_mul(BYTE_COST),
        exhausted: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers every call, saying it spent `fuel`.
    #[derive(Debug)]
    struct Costly(u64);

    impl Expressions for Costly {
        fn check(&self, _: &str, _: u64) -> Result<Spent<()>, ExpressionFailure> {
            Ok(Spent {
                value: (),
                fuel: self.0,
            })
        }

        fn evaluate(
            &self,
            _: &str,
            _: Vec<(String, String)>,
            fuel: u64,
        ) -> Result<Spent<Option<String>>, ExpressionFailure> {
            assert!(fuel <= PASS_FUEL);
            Ok(Spent {
                value: Some("x".into()),
                fuel: self.0,
            })
        }
    }

    #[test]
    fn a_pass_stops_evaluating_once_its_budget_is_spent() {
        let evaluator = Evaluator::new(Arc::new(Costly(99_750_000)));
        let copy = evaluator.clone();
        let mut answered = 0;
        while evaluator.evaluate("x", || Ok(Vec::new())).is_ok() {
            answered += 1;
        }
        // 1e10 / (99.75e6 + 0.25e6) = 100 evaluations, shared with every clone of the pass.
        assert_eq!(answered, 100);
        assert!(copy.spent_out().is_some());
        let failure = copy.check("x").unwrap_err();
        assert!(
            failure.exhausted && failure.message.contains("used up"),
            "{failure:?}"
        );
        // The variables are not even gathered for an evaluation the budget refuses.
        let asked = Cell::new(false);
        let _ = copy.evaluate("x", || {
            asked.set(true);
            Ok(Vec::new())
        });
        assert!(!asked.get());
    }

    #[test]
    fn variables_are_charged_by_the_byte_even_when_refused() {
        let evaluator = Evaluator::new(Arc::new(Costly(0)));
        let big = vec![("x".to_string(), "y".repeat(999_999))];
        let _ = evaluator.evaluate("x", || Ok(big.clone()));
        assert_eq!(
            evaluator.left.get(),
            PASS_FUEL - EVALUATION_COST - 1_000_000 * BYTE_COST
        );
        let _ = evaluator.evaluate("x", || Err(too_many_variables(MAX_VARIABLE_BYTES)));
        assert_eq!(
            evaluator.left.get(),
            PASS_FUEL - 2 * EVALUATION_COST - (1_000_000 + MAX_VARIABLE_BYTES as u64) * BYTE_COST
        );
    }

    #[test]
    fn a_pass_within_an_allowance_is_throttled_not_failed() {
        let evaluator = Evaluator::within(Arc::new(Costly(99_750_000)), Some(1_000_000_000));
        while evaluator.evaluate("x", || Ok(Vec::new())).is_ok() {}
        assert!(evaluator.throttled());
        assert_eq!(evaluator.spent(), 1_000_000_000);
        // A pass's own budget spent is no throttling: the workflow's expressions cost too much.
        let evaluator = Evaluator::within(Arc::new(Costly(99_750_000)), Some(u64::MAX));
        while evaluator.evaluate("x", || Ok(Vec::new())).is_ok() {}
        assert!(!evaluator.throttled() && evaluator.spent_out().is_some());
    }

    #[test]
    fn even_free_answers_cost_an_evaluation() {
        let evaluator = Evaluator::new(Arc::new(Costly(0)));
        let mut answered = 0u64;
        while evaluator.check("x").is_ok() {
            answered += 1;
        }
        assert_eq!(answered, PASS_FUEL / EVALUATION_COST);
    }
}
