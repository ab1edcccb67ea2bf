use super::value::go_float;
use super::*;

/// What Argo's `shouldExecute` does with a `when`.
#[derive(Debug)]
enum Want {
    Run,
    Skip,
    /// `Invalid 'when' expression '…': <reason>`
    Invalid(&'static str),
    /// `Failed to parse 'when' expression '…': <reason>`
    Parse(&'static str),
    /// `Failed to evaluate 'when' expresion '…': <reason>`
    Eval(&'static str),
    /// `Expected boolean evaluation for '…'. Got <value>`
    NotBool(&'static str),
}

fn check(cases: &[(&str, Want)]) {
    for (when, want) in cases {
        let got = when_true(when);
        let expr = when.to_string();
        let expected: Result<bool> = match want {
            Want::Run => Ok(true),
            Want::Skip => Ok(false),
            Want::Invalid(reason) => Err(ExprError::WhenInvalid {
                expr,
                reason: reason.to_string(),
            }),
            Want::Parse(reason) => Err(ExprError::WhenParse {
                expr,
                reason: reason.to_string(),
            }),
            Want::Eval(reason) => Err(ExprError::WhenEvaluate {
                expr,
                reason: reason.to_string(),
            }),
            Want::NotBool(got) => Err(ExprError::WhenNotBool {
                expr,
                got: got.to_string(),
            }),
        };
        assert_eq!(got, expected, "when: {when:?}");
    }
}

/// Shapes of `when` in Argo's examples, after substitution.
#[test]
fn argo_examples() {
    use Want::*;
    check(&[
        ("", Run),
        // coinflip.yaml, dag-coinflip.yaml: `{{steps.flip-coin.outputs.result}} == heads`
        ("heads == heads", Run),
        ("tails == heads", Skip),
        // quoted forms
        (r#""tails" == "tails""#, Run),
        ("'tails' == \"heads\"", Skip),
        // conditionals.yaml: `{{inputs.parameters.should-print}} == true`
        ("true == true", Run),
        ("false == true", Skip),
        // conditionals-complex.yaml
        (
            "( heads == heads &&\n  tails == tails\n) ||\n( heads == tails &&\n  tails == tails )",
            Run,
        ),
        (
            "( tails == heads &&\n  heads == tails\n) ||\n( tails == tails &&\n  heads == tails )",
            Skip,
        ),
        ("heads =~ hea", Run),
        ("tails =~ hea", Skip),
        // loops and parameters
        ("5 > 3", Run),
        // `{{item}} != skip`
        ("skip != skip", Skip),
        ("1 != skip", Run),
        ("true", Run),
        ("false && true", Skip),
        ("'a' =~ '^a'", Run),
        ("'b' !~ '^a'", Run),
        ("!(1 < 2)", Skip),
        // `{{=…}}` expressions are substituted to their result first.
        ("false", Skip),
    ]);
}

#[test]
fn comparisons_and_types() {
    use Want::*;
    check(&[
        ("5 == 5.0", Run),
        ("5 == \"5\"", Skip),
        ("5 != \"5\"", Run),
        ("10 > 9", Run),
        ("\"10\" > \"9\"", Skip),
        ("abc < abd", Run),
        ("abc >= abc", Run),
        (".5 < 1", Run),
        ("-1 < 0", Run),
        ("2 - 1 - 1 == 0", Run),
        ("2 ** 3 == 8", Run),
        ("7 % 4 == 3", Run),
        ("1 / 0 > 1000", Run),
        ("6 & 3 == 2", Run),
        ("1 << 70 == 0", Run),
        ("'a' + 1 == a1", Run),
        ("[hello world] == 'hello world'", Run),
        ("a in (a, b)", Run),
        ("c in (a, b)", Skip),
        ("2 in (1, 2, 3)", Run),
        ("1 > 2 ? false : true", Run),
        ("(true) false", Run),
        ("() == ()", Run),
        ("'' == \"\"", Run),
    ]);
}

#[test]
fn precedence() {
    use Want::*;
    check(&[
        // `&&` binds tighter than `||`.
        ("true || false && false", Run),
        ("(true || false) && false", Skip),
        // Prefix operators bind tightest.
        ("!true == false", Run),
        ("!(true == false)", Run),
        // Arithmetic before comparison, comparison before logic.
        ("1 + 2 * 3 == 7", Run),
        ("1 < 2 == true", Run),
        ("a == a && b == c || x == x", Run),
        ("a == a && (b == c || x == y)", Skip),
    ]);
}

#[test]
fn short_circuit_skips_errors_on_the_right() {
    use Want::*;
    check(&[
        ("false && (1 - a)", Skip),
        ("true || a - 1", Run),
        (
            "true && 1",
            Eval("Value '1' cannot be used with the logical operator '&&', it is not a bool"),
        ),
        (
            "x && true",
            Eval("Value 'x' cannot be used with the logical operator '&&', it is not a bool"),
        ),
    ]);
}

#[test]
fn errors_use_govaluate_and_argo_wording() {
    use Want::*;
    check(&[
        // `{{item}}` left unsubstituted.
        (
            "{{item}} == a",
            Invalid(
                "Invalid token: '{{' (hint: try wrapping the affected expression in quotes (\"))",
            ),
        ),
        ("a ==", Invalid("Unexpected end of expression")),
        ("   ", Invalid("Unexpected end of expression")),
        ("(a == a", Invalid("Unbalanced parenthesis")),
        ("'abc == x", Invalid("Unclosed string literal")),
        ("[abc == x", Invalid("Unclosed parameter bracket")),
        (
            "1.2.3 == 1",
            Invalid("Unable to parse numeric value '1.2.3' to float64"),
        ),
        (
            "hello world == hello world",
            Invalid("Cannot transition token types from VARIABLE [hello] to VARIABLE [world]"),
        ),
        (
            "1e5 == 100000",
            Invalid("Cannot transition token types from NUMERIC [1] to VARIABLE [e5]"),
        ),
        (
            "&& a",
            Invalid("Cannot transition token types from UNKNOWN [<nil>] to LOGICALOP [&&]"),
        ),
        ("(a) == (", Invalid("Unbalanced parenthesis")),
        ("foo(1) == 1", Invalid("Undefined function foo")),
        (
            "foo.bar == x",
            Invalid("Unable to access unexported field 'bar' in token 'foo.bar'"),
        ),
        ("foo. == x", Invalid("Hanging accessor on token 'foo.'")),
        (
            "a ! b",
            Invalid(
                "Invalid token: '!' (hint: try wrapping the affected expression in quotes (\"))",
            ),
        ),
        // Valid as govaluate variables, invalid once Argo makes them strings.
        (
            "!foo",
            Parse("Cannot transition token types from PREFIX [!] to STRING [foo]"),
        ),
        (
            "a == !b",
            Parse("Cannot transition token types from PREFIX [!] to STRING [b]"),
        ),
        // Unquoted hyphenated words subtract.
        (
            "heads-up == heads-up",
            Eval("Value 'heads' cannot be used with the modifier '-', it is not a number"),
        ),
        (
            "5 > abc",
            Eval("Value '5' cannot be used with the comparator '>', it is not a number"),
        ),
        (
            "5 > 3 > 1",
            Eval("Value 'true' cannot be used with the comparator '>', it is not a number"),
        ),
        (
            "1 in (1)",
            Eval("Value '1' cannot be used with the comparator 'in', it is not a number"),
        ),
        ("v1.2 == v1.2", Eval("No parameter 'v1' found.")),
        (
            "-a == 1",
            Parse("Cannot transition token types from PREFIX [-] to STRING [a]"),
        ),
        ("1 + 2", NotBool("3")),
        ("0.1 + 0.2", NotBool("0.30000000000000004")),
        ("hello", NotBool("hello")),
        ("()", NotBool("<nil>")),
        ("a, b", NotBool("[a b]")),
    ]);
}

#[test]
fn bad_regex_is_a_parse_time_error() {
    for when in ["a =~ '('", "a =~ ("] {
        let err = when_true(when)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with(&format!("Invalid 'when' expression '{when}': ")),
            "{when}: {err}"
        );
    }
    let err = when_true("a =~ '('")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("error parsing regexp: "), "{err}");
    assert!(err.ends_with(": `(`"), "{err}");
}

#[test]
fn floats_print_as_go_does() {
    let cases: &[(f64, &str)] = &[
        (0.0, "0"),
        (5.0, "5"),
        (-2.5, "-2.5"),
        (100.0, "100"),
        (123_456.0, "123456"),
        (1_000_000.0, "1e+06"),
        (1_234_567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (1e21, "1e+21"),
        (f64::INFINITY, "+Inf"),
        (f64::NAN, "NaN"),
    ];
    for (f, want) in cases {
        assert_eq!(go_float(*f), *want, "{f}");
    }
}

#[test]
fn complexity_is_bounded_and_real_sizes_pass() {
    // At the limits: evaluates (on a test thread's 2 MiB stack) without overflowing.
    let nested = format!("{}true{}", "(".repeat(128), ")".repeat(128));
    assert_eq!(when_true(&nested), Ok(true));
    let chain = vec!["a == a"; 256].join(" && ");
    assert_eq!(when_true(&chain), Ok(true));

    let too_nested = format!("{}true{}", "(".repeat(129), ")".repeat(129));
    let err = when_true(&too_nested).err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some(
            "expression '((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((…' is too complex: more than 128 nested parentheses"
        )
    );
    let too_long = vec!["a == a"; 257].join(" && ");
    assert!(matches!(
        when_true(&too_long),
        Err(ExprError::TooComplex { limit: 512, .. })
    ));
}
