//! The sandbox against what a tenant may write: each costly or broken expression fails alone,
//! with an error that says why, and the next evaluation is unaffected.

use super::*;

/// An evaluation with the whole of [`FUEL`].
fn eval(
    expression: &str,
    variables: &[(String, String)],
) -> Result<Option<String>, ExpressionError> {
    evaluate(expression, variables.to_vec(), FUEL).0
}

fn checked(expression: &str) -> Result<(), ExpressionError> {
    check(expression, FUEL).0
}

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Still answering correctly after whatever came before.
fn still_works() {
    assert_eq!(
        eval(
            "asInt(inputs.parameters.n) + 1",
            &vars(&[("inputs.parameters.n", "41")])
        ),
        Ok(Some("42".to_string()))
    );
}

#[test]
fn an_ordinary_expression_is_evaluated_in_the_sandbox() {
    still_works();
    assert_eq!(checked("sprig.trim(x)"), Ok(()));
    assert_eq!(
        checked("sprig.uuidv4()"),
        Err(ExpressionError::Refused(
            "the expression calls sprig.uuidv4(), which Flotilla's expressions do not have".into()
        ))
    );
    assert_eq!(eval("nil", &[]), Ok(None));
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
        let outcome = eval(expression, &[]);
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
    let outcome = eval(
        "len(filter(1..300000, {sprig.sha256sum(string(#)) != ''}))",
        &[],
    );
    assert_eq!(outcome, Err(ExpressionError::OutOfFuel));
    still_works();
}

#[test]
fn deep_nesting_fails_without_harm() {
    let deep = format!("{}1{}", "(".repeat(20_000), ")".repeat(20_000));
    let outcome = eval(&deep, &[]);
    assert!(outcome.is_err(), "{outcome:?}");
    assert!(checked(&deep).is_err());
    still_works();
}

#[test]
fn a_panic_in_the_evaluator_is_a_trap() {
    // expr-lang 2.1 panics on a map literal whose values are not constants.
    let outcome = eval("{'a': [1]}", &[]);
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
        eval(&long, &[]),
        Err(ExpressionError::ExpressionTooLong(long.len()))
    );
    assert_eq!(
        checked(&long),
        Err(ExpressionError::ExpressionTooLong(long.len()))
    );
    let big = vec![("x".to_string(), "y".repeat(MAX_VARIABLE_BYTES))];
    assert_eq!(
        eval("x", &big),
        Err(ExpressionError::VariablesTooLarge(MAX_VARIABLE_BYTES + 1))
    );
    // The guest refuses a value over the cap before it is copied out: a bound, not an answer.
    let outcome = eval("sprig.repeat(3000000, 'x')", &[]);
    assert_eq!(outcome, Err(ExpressionError::ResultTooLarge(3_000_000)));
}

#[test]
fn errors_name_no_variable_value() {
    let secret = "s3cr3t-value";
    let outcome = eval(
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

#[test]
fn an_evaluation_says_what_it_spent_and_stops_at_what_it_is_given() {
    // The least a call spends: on a warm instance (a fresh one spends more, starting up).
    let least = (0..4)
        .map(|_| {
            let (answer, spent) = evaluate("1 + 1", Vec::new(), FUEL);
            assert_eq!(answer, Ok(Some("2".into())));
            spent
        })
        .min()
        .unwrap();
    assert!(least > 0 && least < FUEL, "{least}");
    // Too little to finish: out of fuel, having spent all of it.
    let (answer, spent) = evaluate("1 + 1", Vec::new(), least / 2);
    assert_eq!(answer, Err(ExpressionError::OutOfFuel));
    assert_eq!(spent, least / 2);
    assert_eq!(evaluate("1", Vec::new(), 0).0, Err(ExpressionError::NoFuel));
    still_works();
}

#[test]
fn the_host_and_the_guest_agree_on_the_largest_value() {
    assert_eq!(MAX_RESULT_BYTES, flotilla_expr::MAX_RESULT_BYTES);
}

#[test]
fn evaluations_from_many_threads_share_the_sandbox_threads() {
    let answers: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| s.spawn(move || eval(&format!("{i} * 2"), &[])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, answer) in answers.into_iter().enumerate() {
        assert_eq!(answer, Ok(Some((i * 2).to_string())));
    }
}

/// Many evaluations on the threads' warm instances, traps among them: each answer is its own.
#[test]
fn warm_instances_answer_each_call_alone() {
    for i in 0..200 {
        if i % 50 == 7 {
            assert!(eval("{'a': [1]}", &[]).is_err());
        }
        let n = i.to_string();
        assert_eq!(
            eval("asInt(n) * 2", &vars(&[("n", n.as_str())])),
            Ok(Some((i * 2).to_string()))
        );
    }
}
