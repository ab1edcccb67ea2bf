use super::*;

fn state(phase: Phase) -> TaskState {
    TaskState::node(phase)
}

/// Evaluates `expr` with the dependencies given as `(name, state)`; unknown names are not created.
fn decide(expr: &str, deps: &[(&str, TaskState)]) -> DependsDecision {
    let parsed = DependsExpr::parse(expr).unwrap_or_else(|err| panic!("parse {expr:?}: {err}"));
    parsed.evaluate(|name| {
        deps.iter()
            .find(|(n, _)| *n == name)
            .map_or_else(TaskState::not_created, |(_, s)| s.clone())
    })
}

#[test]
fn dependencies_are_listed_once_in_order_of_mention() {
    let cases: &[(&str, &[&str])] = &[
        ("A", &["A"]),
        ("A && (B.Failed || C)", &["A", "B", "C"]),
        ("P && (F.Succeeded || F.Failed)", &["P", "F"]),
        (
            "should-execute-2.Succeeded || should-not-execute",
            &["should-execute-2", "should-not-execute"],
        ),
        ("!a1.Skipped&&b-2.Omitted||(a1)", &["a1", "b-2"]),
        ("t1.AnySucceeded", &["t1"]),
        ("  A\n&&\tB  ", &["A", "B"]),
    ];
    for (expr, want) in cases {
        let parsed = DependsExpr::parse(expr).unwrap_or_else(|err| panic!("{expr:?}: {err}"));
        assert_eq!(parsed.dependencies(), *want, "{expr:?}");
        assert_eq!(parsed.to_string(), *expr);
    }
}

#[test]
fn item_dependencies_are_the_fanned_out_ones() {
    let parsed = DependsExpr::parse("a.AllFailed || b || c.AnySucceeded || a.Succeeded")
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(parsed.item_dependencies(), ["a", "c"]);
    assert_eq!(parsed.dependencies(), ["a", "b", "c"]);
}

#[test]
fn syntax_errors_name_the_position_and_what_was_expected() {
    let cases: &[(&str, &str)] = &[
        (
            "",
            "invalid depends expression '': expected a task name, '!' or '(' at position 1, found end of expression",
        ),
        (
            "A &&",
            "invalid depends expression 'A &&': expected a task name, '!' or '(' at position 5, found end of expression",
        ),
        (
            "A & B",
            "invalid depends expression 'A & B': expected '&&' at position 3, found '&'",
        ),
        (
            "A | B",
            "invalid depends expression 'A | B': expected '||' at position 3, found '|'",
        ),
        (
            "(A || B",
            "invalid depends expression '(A || B': expected ')' at position 8, found end of expression",
        ),
        (
            "A B",
            "invalid depends expression 'A B': expected '&&', '||' or the end of the expression at position 3, found 'B'",
        ),
        (
            "A)",
            "invalid depends expression 'A)': expected '&&', '||' or the end of the expression at position 2, found ')'",
        ),
        (
            "A.succeeded",
            "invalid depends expression 'A.succeeded': expected a task result such as 'Succeeded' after '.' at position 3, found 's'",
        ),
        (
            "A.",
            "invalid depends expression 'A.': expected a task result such as 'Succeeded' after '.' at position 3, found end of expression",
        ),
        (
            "-A",
            "invalid depends expression '-A': expected a task name, '!' or '(' at position 1, found '-'",
        ),
        (
            "A && tâche",
            "invalid depends expression 'A && tâche': expected '&&', '||' or the end of the expression at position 7, found 'â'",
        ),
    ];
    for (expr, want) in cases {
        match DependsExpr::parse(expr) {
            Ok(parsed) => panic!("{expr:?} parsed as {parsed:?}"),
            Err(err) => assert_eq!(err.to_string(), *want, "{expr:?}"),
        }
    }
}

#[test]
fn unknown_result_uses_argos_validation_wording() {
    let err = DependsExpr::parse("A && B.Finished").err();
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some("task result 'Finished' for task 'B' is invalid")
    );
}

#[test]
fn waits_until_every_dependency_is_fulfilled() {
    // Even though `A` alone already makes the `||` true, Argo waits for B too.
    let cases: &[(&str, TaskState)] = &[
        ("not created", TaskState::not_created()),
        ("pending", state(Phase::Pending)),
        ("running", state(Phase::Running)),
        (
            "hooks running",
            state(Phase::Succeeded).with_hooks_fulfilled(false),
        ),
        ("pending daemon", state(Phase::Pending).with_daemoned(true)),
    ];
    for (label, b) in cases {
        let got = decide(
            "A || B",
            &[("A", state(Phase::Succeeded)), ("B", b.clone())],
        );
        assert_eq!(got, DependsDecision::Wait, "{label}");
    }
    let running_daemon = state(Phase::Running).with_daemoned(true);
    assert_eq!(
        decide(
            "A && B",
            &[("A", state(Phase::Succeeded)), ("B", running_daemon)]
        ),
        DependsDecision::Run
    );
}

#[test]
fn bare_name_means_succeeded_skipped_or_daemoned() {
    let failed_ok = ContinueOn {
        error: false,
        failed: true,
    };
    let error_ok = ContinueOn {
        error: true,
        failed: false,
    };
    let cases: &[(TaskState, bool)] = &[
        (state(Phase::Succeeded), true),
        (state(Phase::Skipped), true),
        (state(Phase::Running).with_daemoned(true), true),
        (state(Phase::Failed).with_daemoned(true), true),
        (state(Phase::Failed), false),
        (state(Phase::Error), false),
        (state(Phase::Omitted), false),
        (state(Phase::Failed).with_continue_on(failed_ok), true),
        (state(Phase::Error).with_continue_on(failed_ok), false),
        (state(Phase::Error).with_continue_on(error_ok), true),
        (state(Phase::Failed).with_continue_on(error_ok), false),
    ];
    for (dep, runs) in cases {
        let want = if *runs {
            DependsDecision::Run
        } else {
            DependsDecision::Omit
        };
        assert_eq!(decide("A", &[("A", dep.clone())]), want, "{dep:?}");
        let list = DependsExpr::from_dependencies(&["A"]).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(list.evaluate(|_| dep.clone()), want, "list, {dep:?}");
    }
}

#[test]
fn each_result_tests_its_phase() {
    use Phase::*;
    use TaskResult as R;
    // (result, phases for which it holds)
    let cases: &[(TaskResult, &[Phase])] = &[
        (R::Succeeded, &[Succeeded]),
        (R::Failed, &[Failed]),
        (R::Errored, &[Error]),
        (R::Skipped, &[Skipped]),
        (R::Omitted, &[Omitted]),
        (R::Daemoned, &[]),
        (R::AnySucceeded, &[]),
        (R::AllFailed, &[]),
    ];
    for (result, holds) in cases {
        for phase in [Succeeded, Failed, Error, Skipped, Omitted] {
            let expr = format!("A.{}", result.as_str());
            let want = if holds.contains(&phase) {
                DependsDecision::Run
            } else {
                DependsDecision::Omit
            };
            assert_eq!(
                decide(&expr, &[("A", state(phase))]),
                want,
                "{expr} {phase:?}"
            );
        }
    }
    let daemon = state(Running).with_daemoned(true);
    assert_eq!(decide("A.Daemoned", &[("A", daemon)]), DependsDecision::Run);
}

#[test]
fn fan_out_results_look_at_the_children() {
    use Phase::*;
    let cases: &[(Option<&[Phase]>, bool, bool)] = &[
        // (children, AnySucceeded, AllFailed)
        (Some(&[Failed, Succeeded]), true, false),
        (Some(&[Failed, Failed]), false, true),
        (Some(&[Failed, Error]), false, false),
        (Some(&[Failed, Pending]), false, false),
        (Some(&[Succeeded, Succeeded]), true, false),
        (Some(&[]), false, false),
        (None, false, false),
    ];
    for (children, any, all) in cases {
        let mut group = state(Failed);
        if let Some(children) = children {
            group = group.with_children(children.to_vec());
        }
        let verdict = |holds: bool| {
            if holds {
                DependsDecision::Run
            } else {
                DependsDecision::Omit
            }
        };
        let deps = [("t", group.clone())];
        assert_eq!(
            decide("t.AnySucceeded", &deps),
            verdict(*any),
            "{children:?}"
        );
        assert_eq!(decide("t.AllFailed", &deps), verdict(*all), "{children:?}");
    }
}

#[test]
fn operators_and_precedence() {
    let ok = state(Phase::Succeeded);
    let bad = state(Phase::Failed);
    let cases: &[(&str, bool)] = &[
        // `&&` binds tighter than `||`.
        ("A || B && C", true),
        ("(A || B) && C", false),
        ("B && C || A", true),
        ("B && (C || A)", false),
        // `!` binds tightest.
        ("!B && A", true),
        ("!(B && A)", true),
        ("!A || B", false),
        ("!!A", true),
        ("A.Succeeded && B.Failed && C.Failed", true),
        ("B.Succeeded || C.Succeeded", false),
    ];
    for (expr, runs) in cases {
        let got = decide(
            expr,
            &[("A", ok.clone()), ("B", bad.clone()), ("C", bad.clone())],
        );
        let want = if *runs {
            DependsDecision::Run
        } else {
            DependsDecision::Omit
        };
        assert_eq!(got, want, "{expr}");
    }
}

/// Argo's `examples/dag-depends.yaml`: P passes, F fails.
#[test]
fn argo_dag_depends_example() {
    let base = [
        ("P", state(Phase::Succeeded)),
        ("F", state(Phase::Failed)),
        ("should-execute-2", state(Phase::Succeeded)),
        ("should-not-execute", state(Phase::Omitted)),
    ];
    let cases = [
        ("P && (F.Succeeded || F.Failed)", DependsDecision::Run),
        ("P || F", DependsDecision::Run),
        ("P && F", DependsDecision::Omit),
        (
            "should-execute-2.Succeeded || should-not-execute",
            DependsDecision::Run,
        ),
    ];
    for (expr, want) in cases {
        assert_eq!(decide(expr, &base), want, "{expr}");
    }
}

#[test]
fn legacy_list_is_a_conjunction_of_bare_names() {
    let list = DependsExpr::from_dependencies(&["a", "b-1"]).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(list.dependencies(), ["a", "b-1"]);
    assert_eq!(list.source(), "a && b-1");
    let lookup = |b: Phase| {
        move |name: &str| {
            if name == "a" {
                state(Phase::Succeeded)
            } else {
                state(b)
            }
        }
    };
    assert_eq!(list.evaluate(lookup(Phase::Skipped)), DependsDecision::Run);
    assert_eq!(list.evaluate(lookup(Phase::Error)), DependsDecision::Omit);
    assert_eq!(list.evaluate(lookup(Phase::Running)), DependsDecision::Wait);

    let none = DependsExpr::from_dependencies::<&str>(&[]).unwrap_or_else(|err| panic!("{err}"));
    assert!(none.dependencies().is_empty());
    assert_eq!(
        none.evaluate(|_| TaskState::not_created()),
        DependsDecision::Run
    );

    let err = DependsExpr::from_dependencies(&["a b"]).err();
    assert!(matches!(err, Some(ExprError::InvalidDependencyName { name }) if name == "a b"));
}

#[test]
fn for_task_prefers_depends_then_dependencies() {
    let deps = ["x"];
    let pick = |depends: Option<&str>, list: &[&str]| {
        DependsExpr::for_task(depends, list)
            .unwrap_or_else(|err| panic!("{err}"))
            .map(|e| e.source().to_string())
    };
    assert_eq!(pick(Some("A || B"), &deps).as_deref(), Some("A || B"));
    assert_eq!(pick(Some(""), &deps).as_deref(), Some("x"));
    assert_eq!(pick(None, &deps).as_deref(), Some("x"));
    assert_eq!(pick(None, &[]), None);
    assert!(DependsExpr::for_task::<&str>(Some("A &&"), &[]).is_err());
}

#[test]
fn complexity_is_bounded_and_real_sizes_pass() {
    let nested = format!("{}A{}", "(".repeat(128), ")".repeat(128));
    assert_eq!(
        decide(&nested, &[("A", state(Phase::Succeeded))]),
        DependsDecision::Run
    );
    let chain = vec!["!A"; 256].join(" && ");
    assert_eq!(
        decide(&chain, &[("A", state(Phase::Failed))]),
        DependsDecision::Run
    );

    let too_nested = format!("{}A{}", "(".repeat(129), ")".repeat(129));
    assert!(matches!(
        DependsExpr::parse(&too_nested),
        Err(ExprError::TooComplex { limit: 128, .. })
    ));
    let too_long = vec!["A"; 514].join(" || ");
    assert!(matches!(
        DependsExpr::parse(&too_long),
        Err(ExprError::TooComplex { limit: 512, .. })
    ));
}
