//! The sandbox against what a tenant may write: each costly or broken expression fails alone,
//! with an error that says why, and the next evaluation is unaffected.

use super::*;

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Still answering correctly after whatever came before.
fn still_works() {
    assert_eq!(
        evaluate(
            "asInt(inputs.parameters.n) + 1",
            &vars(&[("inputs.parameters.n", "41")])
        ),
        Ok(Some("42".to_string()))
    );
}

#[test]
fn an_ordinary_expression_is_evaluated_in_the_sandbox() {
    still_works();
    assert_eq!(check("sprig.trim(x)"), Ok(()));
    assert_eq!(
        check("sprig.uuidv4()"),
        Err(ExpressionError::Refused(
            "the expression calls sprig.uuidv4(), which Flotilla's expressions do not have".into()
        ))
    );
    assert_eq!(evaluate("nil", &[]), Ok(None));
}

/// A range too large to hold fails: the memory cap refuses it, or the allocation is refused
/// before it is tried (a panic in the guest, so a trap), or the fuel runs out filling it.
#[test]
fn a_huge_range_fails_alone() {
    for expression in [
        "len(1..2000000000)",
        "len(map(1..100000000, {# * 2}))",
        "len(sprig.repeat(1000000000, 'x'))",
    ] {
        let outcome = evaluate(expression, &[]);
        assert!(
            matches!(
                outcome,
                Err(ExpressionError::OutOfMemory
                    | ExpressionError::OutOfFuel
                    | ExpressionError::Trapped(_))
            ),
            "{expression}: {outcome:?}"
        );
        still_works();
    }
}

#[test]
fn a_long_loop_runs_out_of_fuel() {
    let outcome = evaluate(
        "len(filter(1..300000, {sprig.sha256sum(string(#)) != ''}))",
        &[],
    );
    assert_eq!(outcome, Err(ExpressionError::OutOfFuel));
    still_works();
}

#[test]
fn deep_nesting_fails_without_harm() {
    let deep = format!("{}1{}", "(".repeat(20_000), ")".repeat(20_000));
    let outcome = evaluate(&deep, &[]);
    assert!(outcome.is_err(), "{outcome:?}");
    assert!(check(&deep).is_err());
    still_works();
}

#[test]
fn a_panic_in_the_evaluator_is_a_trap() {
    // expr-lang 2.1 panics on a map literal whose values are not constants.
    let outcome = evaluate("{'a': [1]}", &[]);
    assert!(
        matches!(outcome, Err(ExpressionError::Trapped(_))),
        "{outcome:?}"
    );
    still_works();
}

#[test]
fn inputs_and_outputs_are_bounded() {
    let long = "1".repeat(MAX_EXPRESSION_BYTES + 1);
    assert_eq!(
        evaluate(&long, &[]),
        Err(ExpressionError::ExpressionTooLong(long.len()))
    );
    assert_eq!(
        check(&long),
        Err(ExpressionError::ExpressionTooLong(long.len()))
    );
    let big = vec![("x".to_string(), "y".repeat(MAX_VARIABLE_BYTES))];
    assert_eq!(
        evaluate("x", &big),
        Err(ExpressionError::VariablesTooLarge(MAX_VARIABLE_BYTES + 1))
    );
    let outcome = evaluate("sprig.repeat(3000000, 'x')", &[]);
    assert_eq!(outcome, Err(ExpressionError::ResultTooLarge(3_000_000)));
}

#[test]
fn errors_name_no_variable_value() {
    let secret = "s3cr3t-value";
    let outcome = evaluate(
        "asInt(inputs.parameters.token)",
        &vars(&[("inputs.parameters.token", secret)]),
    );
    let Err(error) = outcome else {
        panic!("asInt of a word fails")
    };
    // Argo's own message quotes the string that does not parse; Flotilla's names the function.
    let message = error.to_string();
    assert!(
        message.contains("asInt") && !message.contains(secret),
        "{message}"
    );
}
