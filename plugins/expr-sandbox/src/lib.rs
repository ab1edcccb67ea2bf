//! `flotilla:expressions/evaluator@0.1.0` over [`flotilla_expr`]: the component the controller
//! embeds and runs each tenant expression in.

wit_bindgen::generate!({
    path: "../../wit/flotilla-expressions@0.1.0",
    world: "expressions",
});

use exports::flotilla::expressions::evaluator::{Failure, Guest};

struct Evaluator;

impl Guest for Evaluator {
    fn check(expression: String) -> Result<(), String> {
        flotilla_expr::check(&expression).map_err(|e| e.to_string())
    }

    fn evaluate(
        expression: String,
        variables: Vec<(String, String)>,
    ) -> Result<Option<String>, Failure> {
        flotilla_expr::evaluate(&expression, &variables).map_err(|e| match e {
            flotilla_expr::Error::TooLarge(bytes) => Failure::TooLarge(bytes as u64),
            e => Failure::Refused(e.to_string()),
        })
    }
}

export!(Evaluator);
