//! Tests mirror Argo's `util/template` tests (`replace_test.go`,
//! `template_test.go`) and the variable shapes of its `examples/` workflows.

use serde_json::json;

use super::*;

fn scope(vars: &[(&str, &str)]) -> Scope<'static> {
    vars.iter().map(|&(k, v)| (k, v)).collect()
}

fn unresolved(tag: &str) -> TemplateError {
    TemplateError::Unresolved {
        tag: tag.to_owned(),
    }
}

const MSG: (&str, &str) = ("inputs.parameters.message", "hello world");

/// What a [`substitute_str`] case must produce.
enum Want {
    Text(&'static str),
    Unresolved(&'static str),
    MissingEnd(&'static str),
    Expression(&'static str),
}

type Case = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    Mode,
    Want,
);

#[rustfmt::skip]
const STR_CASES: &[Case] = {
    use Mode::{Lenient, Strict};
    use Want::{Expression, MissingEnd, Text, Unresolved};
    &[
        ("plain", "{{foo}}", &[("foo", "bar")], Strict, Text("bar")),
        ("no tags", "just text", &[], Strict, Text("just text")),
        ("whitespace", "{{ inputs.parameters.message }}", &[MSG], Strict, Text("hello world")),
        ("unicode space", "{{   foo\u{a0}}}", &[("foo", "x")], Strict, Text("x")),
        ("surrounding text", "say {{foo}}!", &[("foo", "hi")], Strict, Text("say hi!")),
        ("adjacent", "{{a}}{{b}}", &[("a", "1"), ("b", "2")], Strict, Text("12")),
        ("repeated", "{{a}}-{{a}}", &[("a", "1")], Strict, Text("1-1")),
        ("empty value", "[{{a}}]", &[("a", "")], Strict, Text("[]")),
        ("lone closing", "a }} b", &[], Strict, Text("a }} b")),
        ("extra closing brace", "{{a}}}", &[("a", "1")], Strict, Text("1}")),
        // `{{{a}}` is the tag `{a`, which no name matches.
        ("extra opening brace", "{{{a}}", &[("a", "1")], Lenient, Text("{{{a}}")),
        ("extra opening brace strict", "{{{a}}", &[("a", "1")], Strict, Unresolved("{a")),
        ("unresolved strict", "{{foo}}", &[], Strict, Unresolved("foo")),
        ("unresolved strict keeps spaces", "{{ foo }}", &[], Strict, Unresolved(" foo ")),
        ("unresolved lenient", "x {{foo}} y", &[], Lenient, Text("x {{foo}} y")),
        ("unresolved lenient keeps spaces", "{{ foo }}", &[], Lenient, Text("{{ foo }}")),
        ("partly resolved lenient", "{{a}} {{b}}", &[("a", "1")], Lenient, Text("1 {{b}}")),
        ("first unresolved fails strict", "{{a}} {{b}}", &[("a", "1")], Strict, Unresolved("b")),
        ("empty tag lenient", "{{}}", &[], Lenient, Text("{{}}")),
        ("empty tag strict", "{{}}", &[], Strict, Unresolved("")),
        // Inside Argo's JSON text a real newline is `\n`, which trimming keeps.
        ("newline in tag", "{{\nfoo}}", &[("foo", "x")], Lenient, Text("{{\nfoo}}")),
        ("unterminated", "{{", &[], Lenient, MissingEnd("{{")),
        ("unterminated after good tag", "{{a}} {{b", &[("a", "1")], Lenient, MissingEnd("{{b")),
        // Values are substituted once; their own tags are data.
        ("value not rescanned", "{{a}}", &[("a", "{{b}}"), ("b", "no")], Strict, Text("{{b}}")),
        ("double quote in value", "{{p}}", &[("p", "This is \" John")], Strict, Text("This is \" John")),
        ("single quote in value", "{{p}}", &[("p", "This is ' John")], Strict, Text("This is ' John")),
        ("backslash and newline", "{{p}}", &[("p", "a\\b\nc\td")], Strict, Text("a\\b\nc\td")),
        ("unicode", "{{p}} ✓", &[("p", "héllo 🚀")], Strict, Text("héllo 🚀 ✓")),
        ("json value", "{{inputs.parameters}}", &[("inputs.parameters", r#"[{"name":"x","value":"1"}]"#)],
            Strict, Text(r#"[{"name":"x","value":"1"}]"#)),
        // Expressions are recognised by a leading `=` on the raw tag.
        ("expression lenient", "{{=foo}}", &[("foo", "bar")], Lenient, Text("{{=foo}}")),
        ("expression lenient spaced", "a {{= sprig.trunc(5, x) }} b", &[], Lenient,
            Text("a {{= sprig.trunc(5, x) }} b")),
        ("expression strict", "{{=foo}}", &[("foo", "bar")], Strict, Expression("foo")),
        ("expression quotes", r#"{{=x == "a" ? "b" : 'c'}}"#, &[], Strict, Expression(r#"x == "a" ? "b" : 'c'"#)),
        ("expression newline", "{{=1 + \n1}}", &[], Strict, Expression("1 + \n1")),
        ("space before = is a variable", "{{ =foo}}", &[("foo", "bar")], Strict, Unresolved(" =foo")),
    ]
};

#[test]
fn substitute_str_table() {
    for (name, text, vars, mode, want) in STR_CASES {
        let want = match want {
            Want::Text(text) => Ok((*text).to_owned()),
            Want::Unresolved(tag) => Err(unresolved(tag)),
            Want::MissingEnd(excerpt) => Err(missing(excerpt)),
            Want::Expression(source) => Err(expr(source)),
        };
        let got = substitute_str(text, &scope(vars), *mode);
        assert_eq!(got, want, "case {name:?}: {text:?}");
    }
}

fn missing(excerpt: &str) -> TemplateError {
    TemplateError::MissingEndTag {
        excerpt: excerpt.to_owned(),
    }
}

fn expr(expression: &str) -> TemplateError {
    TemplateError::ExpressionUnsupported {
        expression: expression.to_owned(),
    }
}

/// Argo's `TestNestedReplaceString`, `NestedVariableResolution` and
/// `TripleNestedVariableResolution`: Go-template text around Argo tags.
#[test]
fn nested_tags_follow_argo() {
    let vars = scope(&[MSG]);
    let cases = [
        (
            "{{- with secret \"{{inputs.parameters.message}}\" -}}\n    {{ .Data.data.gitcreds }}\n  {{- end }}",
            "{{- with secret \"hello world\" -}}\n    {{ .Data.data.gitcreds }}\n  {{- end }}",
        ),
        (
            "{{- with {{ secret \"{{inputs.parameters.message}}\" -}}\n    {{ .Data.data.gitcreds }}\n  {{- end }}",
            "{{- with {{ secret \"hello world\" -}}\n    {{ .Data.data.gitcreds }}\n  {{- end }}",
        ),
        (
            "{{- with {{ secret \"{{inputs.parameters.message}}\" -}} }}\n    {{ .Data.data.gitcreds }}\n  {{- end }}",
            "{{- with {{ secret \"hello world\" -}} }}\n    {{ .Data.data.gitcreds }}\n  {{- end }}",
        ),
        (
            "{{- with {{ {{ }} secret \"{{inputs.parameters.message}}\" -}} }}\n    {{ .Data.data.gitcreds }}\n  {{- end }}",
            "{{- with {{ {{ }} secret \"hello world\" -}} }}\n    {{ .Data.data.gitcreds }}\n  {{- end }}",
        ),
        (
            "{{- with {{ {{ }} secret \"{{does-not-exist}}\" -}} }}\n    {{ .Data.data.gitcreds }}\n  {{- end }}",
            "{{- with {{ {{ }} secret \"{{does-not-exist}}\" -}} }}\n    {{ .Data.data.gitcreds }}\n  {{- end }}",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(
            substitute_str(text, &vars, Mode::Lenient).as_deref(),
            Ok(want),
            "{text:?}"
        );
    }

    // Each pass resolves the innermost tag; the outer one waits for the next.
    let vars = scope(&[("inner", "suffix"), ("outer-suffix", "final-value")]);
    let pass1 = substitute_str("{{outer-{{inner}}}}", &vars, Mode::Lenient).unwrap();
    assert_eq!(pass1, "{{outer-suffix}}");
    assert_eq!(
        substitute_str(&pass1, &vars, Mode::Strict).unwrap(),
        "final-value"
    );

    let vars = scope(&[("C", "valC"), ("B valC", "valB"), ("A valB", "final")]);
    let mut text = "{{A {{B {{C}}}}}}".to_owned();
    for want in ["{{A {{B valC}}}}", "{{A valB}}", "final"] {
        text = substitute_str(&text, &vars, Mode::Lenient).unwrap();
        assert_eq!(text, want);
    }

    // The nested name is looked up exactly as written (Argo does not trim it),
    // and the rule applies in strict mode too.
    let vars = scope(&[("b", "B")]);
    assert_eq!(
        substitute_str("{{a {{b}}", &vars, Mode::Strict).unwrap(),
        "{{a B"
    );
    assert_eq!(
        substitute_str("{{a {{ b }}", &vars, Mode::Strict),
        Err(unresolved("a {{ b "))
    );
    // A tag that *starts* with `{{` is not nested (Argo requires index > 0).
    assert_eq!(
        substitute_str("{{{{b}}", &vars, Mode::Strict),
        Err(unresolved("{{b"))
    );
}

#[test]
fn error_messages_use_argo_wording() {
    let cases = [
        (
            unresolved("tasks.a.outputs.result"),
            "failed to resolve {{tasks.a.outputs.result}}",
        ),
        (
            expr("asInt(x) + 1"),
            "expressions ({{=...}}) are not supported yet: {{=asInt(x) + 1}}",
        ),
        (
            missing("{{foo bar"),
            r#"Cannot find end tag="}}" in the template starting from "{{foo bar""#,
        ),
    ];
    for (err, want) in cases {
        assert_eq!(err.to_string(), want);
    }
}

#[test]
fn unterminated_excerpt_is_bounded() {
    let text = format!("{{{{{}", "x".repeat(500));
    let Err(TemplateError::MissingEndTag { excerpt }) =
        substitute_str(&text, &Scope::new(), Mode::Lenient)
    else {
        panic!("expected MissingEndTag");
    };
    assert_eq!(excerpt.chars().count(), ERROR_EXCERPT_CHARS);
    assert!(excerpt.starts_with("{{xx"));
}

/// Go's `strconv.Quote` writes these as `\x1b`, `\a`, `\v`, `\x00`, `\x7f`,
/// which are not JSON, so Argo's substitution fails; `\b` and `\f` are fine.
#[test]
fn control_characters_fail_like_argo() {
    for bad in ["\u{1b}[31mred", "\u{7}", "\u{b}", "\u{0}", "\u{7f}"] {
        let vars = scope(&[("tasks.a.outputs.result", bad)]);
        for mode in [Mode::Strict, Mode::Lenient] {
            let err = substitute_str("{{tasks.a.outputs.result}}", &vars, mode).unwrap_err();
            assert!(
                matches!(&err, TemplateError::InvalidJsonResult { reason } if reason.contains("{{tasks.a.outputs.result}}")),
                "{bad:?}: {err}"
            );
        }
    }
    let vars = scope(&[("a", "x\u{8}y\u{c}z")]);
    assert_eq!(
        substitute_str("{{a}}", &vars, Mode::Strict).unwrap(),
        "x\u{8}y\u{c}z"
    );
}

#[test]
fn substitute_value_covers_keys_values_and_escaping() {
    let vars = scope(&[
        ("k", "key"),
        ("v", "value"),
        ("inputs.parameters.msg", "say \"hi\"\nbye"),
    ]);
    let input = json!({
        "{{k}}": "{{v}}",
        "count": 3,
        "ratio": 1.5,
        "flag": true,
        "none": null,
        "args": ["echo {{inputs.parameters.msg}}", "{{ v }}"],
        "nested": {"deep": [{"x": "{{k}}-{{v}}"}]},
    });
    let want = json!({
        "key": "value",
        "count": 3,
        "ratio": 1.5,
        "flag": true,
        "none": null,
        "args": ["echo say \"hi\"\nbye", "value"],
        "nested": {"deep": [{"x": "key-value"}]},
    });
    assert_eq!(substitute_value(&input, &vars, Mode::Strict).unwrap(), want);

    // No tags: returned unchanged (and without a parse round trip).
    let plain = json!({"a": [1, "b", {"c": null}]});
    assert_eq!(
        substitute_value(&plain, &vars, Mode::Strict).unwrap(),
        plain
    );

    // Scalars and bare strings work too.
    assert_eq!(
        substitute_value(&json!("{{v}}"), &vars, Mode::Strict).unwrap(),
        json!("value")
    );
    assert_eq!(
        substitute_value(&json!(7), &vars, Mode::Strict).unwrap(),
        json!(7)
    );
}

/// Argo scans the marshalled JSON text, so `{{` in one string and `}}` in a
/// later one form one (unresolvable) tag instead of an unterminated one.
#[test]
fn tags_can_span_json_strings_like_argo() {
    let input = json!({"a": "{{", "b": "}}"});
    assert_eq!(
        substitute_value(&input, &Scope::new(), Mode::Lenient).unwrap(),
        input
    );
    assert_eq!(
        substitute_value(&input, &Scope::new(), Mode::Strict),
        Err(unresolved(r#"","b":""#))
    );
    // On its own, the same string is unterminated.
    assert!(matches!(
        substitute_value(&json!({"a": "{{"}), &Scope::new(), Mode::Lenient),
        Err(TemplateError::MissingEndTag { .. })
    ));
}

/// Variable shapes from Argo's `examples/`: DAG and steps outputs, loops over
/// maps, workflow parameters, and the JSON forms of `inputs.parameters`.
#[test]
fn example_workflow_shapes() {
    let global = scope(&[
        ("workflow.name", "dag-diamond-x7k2p"),
        ("workflow.namespace", "argo"),
        ("workflow.parameters.message", "hello argo"),
    ]);
    let dag = global.with("tasks.A.outputs.result", "4");
    let mut dag = dag.with("tasks.B.outputs.parameters.hello-param", "from B");
    dag.insert("tasks.A.status", "Succeeded");

    let task = json!({
        "name": "D",
        "dependencies": ["A", "B"],
        "when": "{{tasks.A.status}} == Succeeded",
        "arguments": {"parameters": [
            {"name": "a", "value": "{{tasks.A.outputs.result}}"},
            {"name": "b", "value": "{{tasks.B.outputs.parameters.hello-param}}"},
            {"name": "m", "value": "{{workflow.parameters.message}} from {{workflow.name}}"},
        ]},
    });
    let got = substitute_value(&task, &dag, Mode::Strict).unwrap();
    assert_eq!(got["when"], "Succeeded == Succeeded");
    assert_eq!(got["arguments"]["parameters"][0]["value"], "4");
    assert_eq!(got["arguments"]["parameters"][1]["value"], "from B");
    assert_eq!(
        got["arguments"]["parameters"][2]["value"],
        "hello argo from dag-diamond-x7k2p"
    );

    // withItems over maps (examples/loops-maps.yaml): one layer per item.
    let step = json!({"name": "test-linux", "arguments": {"parameters": [
        {"name": "image", "value": "{{item.image}}"},
        {"name": "tag", "value": "{{item.tag}}"},
    ]}});
    let items = [("debian", "9.1"), ("alpine", "3.6"), ("ubuntu", "17.10")];
    for (image, tag) in items {
        let mut item = global.child();
        item.extend([("item.image", image), ("item.tag", tag)]);
        item.insert("item", format!(r#"{{"image":"{image}","tag":"{tag}"}}"#));
        let got = substitute_value(&step, &item, Mode::Strict).unwrap();
        assert_eq!(got["arguments"]["parameters"][0]["value"], image);
        assert_eq!(got["arguments"]["parameters"][1]["value"], tag);
    }

    // Before task outputs exist, a lenient global pass keeps their tags.
    let early = substitute_value(&task, &global, Mode::Lenient).unwrap();
    assert_eq!(
        early["arguments"]["parameters"][0]["value"],
        "{{tasks.A.outputs.result}}"
    );
    assert_eq!(
        early["arguments"]["parameters"][2]["value"],
        "hello argo from dag-diamond-x7k2p"
    );
    // Which tag fails first follows JSON key order (sorted, or insertion order
    // with serde_json's `preserve_order`), so accept either.
    let err = substitute_value(&task, &global, Mode::Strict).unwrap_err();
    assert!(
        [
            unresolved("tasks.A.status"),
            unresolved("tasks.A.outputs.result")
        ]
        .contains(&err),
        "{err}"
    );
}

#[test]
fn scope_layers_shadow_and_share() {
    let mut root = scope(&[("a", "root-a"), ("b", "root-b")]);
    root.insert("c", "root-c");
    let mut child = root.child();
    child.insert("a", "child-a");
    let grandchild = child.with("b", "grandchild-b");

    assert_eq!(grandchild.get("a").as_deref(), Some("child-a"));
    assert_eq!(grandchild.get("b").as_deref(), Some("grandchild-b"));
    assert_eq!(grandchild.get("c").as_deref(), Some("root-c"));
    assert_eq!(grandchild.get("d").as_deref(), None);
    assert!(grandchild.contains("c"));
    assert!(!grandchild.contains("d"));
    // Parents never see their children's additions.
    assert_eq!(child.get("b").as_deref(), Some("root-b"));
    assert_eq!(root.get("a").as_deref(), Some("root-a"));

    // Many siblings over one parent: each sees the parent and only itself.
    let siblings: Vec<Scope<'_>> = (0..5000)
        .map(|i| root.with("item", i.to_string()))
        .collect();
    assert!(
        siblings
            .iter()
            .enumerate()
            .all(|(i, s)| s.get("item").as_deref() == Some(&*i.to_string())
                && s.get("c").as_deref() == Some("root-c"))
    );
    assert_eq!(root.get("item").as_deref(), None);
}
