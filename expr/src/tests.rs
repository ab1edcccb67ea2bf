//! Expressions as Argo's documentation and examples write them, with the results Argo gives.

use super::*;

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn eval(expression: &str, pairs: &[(&str, &str)]) -> String {
    match evaluate(expression, &vars(pairs)) {
        Ok(Some(text)) => text,
        other => panic!("{expression}: {other:?}"),
    }
}

#[test]
fn argo_documented_functions_give_argos_results() {
    let n = [("inputs.parameters.n", "41")];
    assert_eq!(eval("asInt(inputs.parameters.n) + 1", &n), "42");
    assert_eq!(eval("asFloat(inputs.parameters.n) / 2", &n), "20.5");
    assert_eq!(eval("string(1)", &[]), "1");
    assert_eq!(eval("toJson([1, 2])", &[]), "[1,2]");
    assert_eq!(eval("filter([1, 2], { # > 1 })", &[]), "[2]");
    assert_eq!(eval("map([1, 2], { # * 2 })", &[]), "[2 4]");
    assert_eq!(
        eval(
            "jsonpath(inputs.parameters.json, '$.some.path')",
            &[("inputs.parameters.json", r#"{"some":{"path":"x"}}"#)]
        ),
        "x"
    );
    assert_eq!(
        eval(
            "sprig.trim(inputs.parameters['my-string-param'])",
            &[("inputs.parameters.my-string-param", "  padded  ")]
        ),
        "padded"
    );
}

/// examples/expression-tag-template.yaml in argo-workflows.
#[test]
fn the_expression_tag_template_example_evaluates() {
    let item = [("item", "9"), ("inputs.parameters.foo", "9")];
    assert_eq!(eval("asInt(item) + 1", &item), "10");
    assert_eq!(eval("asInt(inputs.parameters.foo) * 10", &item), "90");
    assert_eq!(eval("toJson(filter([1, 3], {# > 1}))", &[]), "[3]");
    let result = [("tasks.task-0.outputs.result", "hello")];
    assert_eq!(
        eval(
            "tasks['task-0'].outputs.result == 'hello' ? 'yes' : 'no'",
            &result
        ),
        "yes"
    );
    assert_eq!(
        eval("sprig.upper(tasks['task-0'].outputs.result)", &result),
        "HELLO"
    );
}

/// examples/expression-reusing-verbose-snippets.yaml in argo-workflows.
#[test]
fn the_reusing_verbose_snippets_example_evaluates() {
    let weather = r#"{"weekWeather": "eyJ0ZW1wcyI6IFszNCwgMjcsIDE1LCA1NywgNDZdfQo="}"#;
    let expression = "let tempsObj = sprig.fromJson(sprig.b64dec(jsonpath(workflow.parameters.weather, '$.weekWeather')));\nlet tempsArr = tempsObj.temps;\nlet minTemp = min(tempsArr);\nlet maxTemp = max(tempsArr);\ntoJson([sum(tempsArr) / len(tempsArr), minTemp, maxTemp])";
    let out = eval(expression, &[("workflow.parameters.weather", weather)]);
    assert_eq!(out, "[35.8,15,57]");
}

#[test]
fn results_are_written_as_go_prints_them() {
    assert_eq!(eval("1e6", &[]), "1e+06");
    assert_eq!(eval("3 / 2", &[]), "1.5");
    assert_eq!(eval("true && !false", &[]), "true");
    assert_eq!(eval("{'b': 1, 'a': 'x'}", &[]), "map[a:x b:1]");
    assert_eq!(eval("[1, 'x', [true]]", &[]), "[1 x [true]]");
    assert_eq!(evaluate("nil", &[]), Ok(None));
    // As Go's expr compiled with Argo's map as its environment: an unknown name is an error
    // (which Argo, substituting leniently, leaves unresolved).
    assert!(matches!(
        evaluate("missing", &[]),
        Err(Error::Evaluation(_))
    ));
}

#[test]
fn sprig_functions_keep_sprigs_argument_order_and_leniency() {
    assert_eq!(eval("sprig.trimPrefix('v', 'v1.2')", &[]), "1.2");
    assert_eq!(eval("sprig.add(1, '2', 3.9)", &[]), "6");
    assert_eq!(eval("sprig.int('0x10') + sprig.int('nope')", &[]), "16");
    assert_eq!(eval("sprig.default('d', '')", &[]), "d");
    assert_eq!(eval("sprig.default('d', 'given')", &[]), "given");
    assert_eq!(
        eval("sprig.join(',', sprig.splitList(' ', 'a b c'))", &[]),
        "a,b,c"
    );
    assert_eq!(eval("sprig.replace('a', 'b', 'banana')", &[]), "bbnbnb");
    assert_eq!(eval("sprig.substr(1, 3, 'hello')", &[]), "el");
    assert_eq!(eval("sprig.trunc(-2, 'hello')", &[]), "lo");
    assert_eq!(
        eval("sprig.sha256sum('hello world')", &[]),
        "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    );
    assert_eq!(
        eval("sprig.regexReplaceAll('a(x*)b', '-ab-axxb-', '${1}W')", &[]),
        "-W-xxW-"
    );
    assert_eq!(eval("sprig.ternary('y', 'n', 1 > 2)", &[]), "n");
    assert_eq!(eval("sprig.get(sprig.dict('a', 1), 'b')", &[]), "");
    assert_eq!(
        eval("sprig.toJson(sprig.dict('k', '<v>'))", &[]),
        r#"{"k":"\u003cv\u003e"}"#
    );
    assert_eq!(eval("sprig.until(3)", &[]), "[0 1 2]");
    assert_eq!(eval("'x' | sprig.upper()", &[]), "X");
}

#[test]
fn check_names_an_unknown_function_and_a_syntax_error() {
    assert_eq!(check("asInt(x) + 1"), Ok(()));
    assert_eq!(
        check("sprig.randAlphaNum(5)"),
        Err(Error::UnknownFunction("sprig.randAlphaNum".into()))
    );
    assert_eq!(check("nope(1)"), Err(Error::UnknownFunction("nope".into())));
    // Left out with expr-lang's `temporal` feature: refused the same way.
    assert_eq!(check("now()"), Err(Error::UnknownFunction("now".into())));
    let Err(Error::Syntax(message)) = check("1 +") else {
        panic!("a syntax error")
    };
    assert!(!message.is_empty());
    let message = Error::UnknownFunction("sprig.uuidv4".into()).to_string();
    assert_eq!(
        message,
        "the expression calls sprig.uuidv4(), which Flotilla's expressions do not have"
    );
}

#[test]
fn evaluation_errors_name_the_function_not_the_rewrite() {
    let Err(Error::Evaluation(message)) = evaluate("asInt('x')", &[]) else {
        panic!("asInt of a word fails")
    };
    assert!(message.contains("asInt"), "{message}");
    let Err(Error::Evaluation(message)) = evaluate("sprig.div(1, 0)", &[]) else {
        panic!("division by zero fails")
    };
    assert!(!message.contains(scan::SPRIG), "{message}");
}

#[test]
fn a_panic_in_expr_lang_is_an_error() {
    // expr-lang 2.1 allows only constants as a map literal's values.
    let Err(Error::Evaluation(message)) = evaluate("{'a': [1]}", &[]) else {
        panic!("an error, not a panic")
    };
    assert!(message.starts_with("the evaluator failed"), "{message}");
}

#[test]
fn values_and_messages_are_bounded() {
    assert_eq!(
        evaluate("sprig.repeat(3000000, 'x')", &[]),
        Err(Error::TooLarge(3_000_000))
    );
    let long = "y".repeat(10_000);
    let Err(Error::Evaluation(message)) = evaluate("v ? 1 : 2", &vars(&[("v", long.as_str())]))
    else {
        panic!("a string is no condition")
    };
    assert!(
        message.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8(),
        "{}",
        message.len()
    );
}
