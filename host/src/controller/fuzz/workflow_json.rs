//! Workflows as JSON documents, shaped like Argo's and hostile in their details: templates of
//! every kind calling each other, `{{...}}` expressions, fan-outs, deadlines and back-offs at
//! their limits, cluster and namespace names of every sort, and a status whose node graph has
//! self-loops, cycles and dangling edges. Now and then a field holds a value of the wrong kind,
//! as the CRDs let a tenant store.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

use super::name;
use flotilla_engine::naming;

mod status;

pub(super) use status::{any_node_id, node_phase};
use status::{status, time};

/// The workflow's name: its root node's ID.
pub(super) const WORKFLOW: &str = "wf";

/// Template names: few, so that calls resolve (and recurse).
const TEMPLATES: &[&str] = &["main", "a", "b", "exit", "\u{20ac}"];
/// Step, task and parameter names.
const LOCAL_NAMES: &[&str] = &["a", "b", "c", "p", "x"];
/// Step, task and parameter names a validator refuses.
const BAD_LOCAL_NAMES: &[&str] = &["\u{20ac}", "a.b", "a b", ""];

fn local_name() -> BoxedStrategy<&'static str> {
    prop_oneof![12 => select(LOCAL_NAMES), 1 => select(BAD_LOCAL_NAMES)].boxed()
}

/// A template's name: one of [`TEMPLATES`] by position (so that names are unique), now and
/// then another.
fn template_name(i: usize) -> BoxedStrategy<&'static str> {
    prop_oneof![12 => Just(TEMPLATES[i % TEMPLATES.len()]), 1 => select(TEMPLATES)].boxed()
}

/// Strings where an expression may be: references to parameters, outputs and items, broken
/// and expensive `{{...}}`s, JSON for `withParam`, numbers at the limits.
const EXPRESSIONS: &[&str] = &[
    "{{inputs.parameters.p}}",
    "{{workflow.parameters.p}}",
    "{{tasks.a.outputs.result}}",
    "{{tasks.a.outputs.parameters.x}}",
    "{{steps.a.outputs.result}}",
    "{{steps.a.outputs.parameters.x}}",
    "{{item}}",
    "{{item.k}}",
    "{{workflow.name}}",
    "{{workflow.namespace}}",
    "{{pod.name}}",
    "{{retries}}",
    "{{workflow.status}}",
    "{{tasks.a.status}} == Succeeded",
    "{{=1/0}}",
    "{{=asInt(inputs.parameters.p) * 99999999999}}",
    "{{=jsonpath(inputs.parameters.p, '$.a')}}",
    "{{=sprig.repeat('a', 9)}}",
    "{{tasks.\u{20ac}.outputs.result}}",
    "{{=",
    "{{",
    "}}",
    "{{}}",
    "{{ }}",
    "[1, 2, 3]",
    "[{\"k\": \"v\"}]",
    "[\"{{item}}\"]",
    "{\"k\":",
    "5",
    "-1",
    "0",
    "1e308",
    "99999999999999999999",
    "true",
    "10s",
    "1h",
    "-5m",
    "9999999999h",
    "P1D",
];

/// Text where a tenant writes a value.
pub(super) fn text() -> BoxedStrategy<String> {
    prop_oneof![
        8 => select(&["hello", "1", "3", "true", "{{workflow.name}}", "{{workflow.namespace}}"][..]).prop_map(String::from),
        6 => select(EXPRESSIONS).prop_map(String::from),
        2 => name(),
        2 => (select(EXPRESSIONS), select(EXPRESSIONS)).prop_map(|(a, b)| format!("{a} {b}")),
        1 => (0usize..300).prop_map(|n| format!("{{{{={}1{}}}}}", "(".repeat(n), ")".repeat(n))),
        1 => (0usize..600).prop_map(|n| "!".repeat(n) + "true"),
    ]
    .boxed()
}

/// A JSON value of any kind (what sits in a field of the wrong type).
fn any_json() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        name().prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
    ]
    .boxed()
}

/// Mostly `s`, now and then a value of another kind.
fn or_wrong(s: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Value> {
    prop_oneof![60 => s, 1 => any_json()].boxed()
}

fn string(s: impl Strategy<Value = String> + 'static) -> BoxedStrategy<Value> {
    or_wrong(s.prop_map(Value::from))
}

/// An integer at the limits, or one that is fine.
fn int() -> BoxedStrategy<Value> {
    const INTS: &[i64] = &[
        0,
        1,
        2,
        3,
        -1,
        30,
        3600,
        i32::MAX as i64,
        i64::MAX,
        i64::MIN,
    ];
    or_wrong(select(INTS).prop_map(Value::from))
}

/// An object of the fields whose values are `Some`.
fn object(fields: Vec<(&'static str, Option<Value>)>) -> Value {
    let map: Map<String, Value> = fields
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect();
    Value::Object(map)
}

fn parameter() -> BoxedStrategy<Value> {
    (
        local_name(),
        prop::option::weighted(0.85, string(text())),
        prop::option::of(string(text())),
        prop::option::weighted(0.1, prop::collection::vec(text(), 0..3)),
    )
        .prop_map(|(name, value, default, enum_values)| {
            object(vec![
                ("name", Some(name.into())),
                ("value", value),
                ("default", default),
                ("enum", enum_values.map(Value::from)),
            ])
        })
        .boxed()
}

fn parameters() -> BoxedStrategy<Value> {
    or_wrong(prop::collection::vec(parameter(), 0..3).prop_map(|p| json!({"parameters": p})))
}

fn outputs() -> BoxedStrategy<Value> {
    let value_from = prop_oneof![
        Just(json!({"path": "/tmp/x"})),
        Just(json!({"jsonPath": "{.status.phase}"})),
        Just(json!({"parameter": "{{steps.a.outputs.parameters.x}}"})),
        Just(json!({"expression": "tasks.a.outputs.result"})),
        Just(json!({"supplied": {}})),
        text().prop_map(|t| json!({"expression": t})),
    ];
    let parameter =
        (local_name(), value_from).prop_map(|(n, v)| json!({"name": n, "valueFrom": v}));
    or_wrong(
        (
            prop::collection::vec(parameter, 0..2),
            prop::option::of(text()),
        )
            .prop_map(|(p, r)| {
                object(vec![
                    ("parameters", Some(p.into())),
                    ("result", r.map(Value::from)),
                ])
            }),
    )
}

/// `withItems`, `withParam` and `withSequence`: none of them, or one or more.
fn fan_out() -> BoxedStrategy<Vec<(&'static str, Option<Value>)>> {
    let sequence = (
        prop::option::of(string(text())),
        prop::option::of(string(text())),
        prop::option::of(string(text())),
        prop::option::of(select(&["%d", "%s", "%05d", "%", "%q%q%q", "item-%x"][..])),
    )
        .prop_map(|(count, start, end, format)| {
            object(vec![
                ("count", count),
                ("start", start),
                ("end", end),
                ("format", format.map(Value::from)),
            ])
        });
    let items = prop::collection::vec(
        prop_oneof![
            any_json(),
            Just(json!({"k": "v"})),
            text().prop_map(Value::from)
        ],
        0..4,
    );
    (
        prop::option::weighted(0.2, or_wrong(items.prop_map(Value::from))),
        prop::option::weighted(0.2, string(text())),
        prop::option::weighted(0.2, or_wrong(sequence)),
    )
        .prop_map(|(items, param, sequence)| {
            vec![
                ("withItems", items),
                ("withParam", param),
                ("withSequence", sequence),
            ]
        })
        .boxed()
}

/// A call of a template: a DAG task or a step.
fn call(dag: bool, i: usize) -> BoxedStrategy<Value> {
    let depends = prop::option::weighted(
        0.2,
        string(prop_oneof![
            select(
                &[
                    "a",
                    "a && b",
                    "a.Succeeded || b.Failed",
                    "!a",
                    "(a",
                    "a.Bogus",
                    "\u{20ac}",
                    "a.AnySucceeded"
                ][..]
            )
            .prop_map(String::from),
            text(),
        ]),
    );
    let dependencies = prop::option::weighted(0.2, prop::collection::vec(local_name(), 0..3));
    (
        prop_oneof![12 => Just(LOCAL_NAMES[i % LOCAL_NAMES.len()]), 1 => local_name()],
        prop::option::weighted(0.95, select(&TEMPLATES[1..])),
        prop::option::weighted(0.4, parameters()),
        prop::option::weighted(0.3, string(text())),
        fan_out(),
        depends,
        dependencies,
        prop::option::weighted(0.1, Just(json!({"failed": true, "error": true}))),
        prop::option::weighted(0.1, select(TEMPLATES)),
    )
        .prop_map(
            move |(
                name,
                template,
                arguments,
                when,
                fan_out,
                depends,
                dependencies,
                continue_on,
                on_exit,
            )| {
                let mut fields = vec![
                    ("name", Some(name.into())),
                    ("template", template.map(Value::from)),
                    ("arguments", arguments),
                    ("when", when),
                    ("continueOn", continue_on),
                    ("onExit", on_exit.map(Value::from)),
                ];
                if dag {
                    fields.push(("depends", depends));
                    fields.push(("dependencies", dependencies.map(Value::from)));
                }
                fields.extend(fan_out);
                object(fields)
            },
        )
        .boxed()
}

const MANIFESTS: &[&str] = &[
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: kube-system\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: team-\u{20ac}\n",
    "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: root\n",
    "apiVersion: v1\nkind: Pod\nmetadata:\n  generateName: x-\n  namespace: '{{inputs.parameters.p}}'\n",
    "kind: [",
    "",
    "- a\n- b\n",
    "metadata: {name: {{workflow.name}}}",
];

/// What the template does: one kind of body, none, or two.
fn body() -> BoxedStrategy<Vec<(&'static str, Option<Value>)>> {
    let container = prop::collection::vec(text(), 0..2)
        .prop_map(|args| json!({"image": "argoproj/argosay:v2", "args": args}));
    let script = text()
        .prop_map(|source| json!({"image": "python:3", "command": ["python"], "source": source}));
    let resource = (
        select(
            &[
                "create", "apply", "get", "delete", "patch", "replace", "x", "",
            ][..],
        ),
        prop_oneof![select(MANIFESTS).prop_map(String::from), text()],
        prop::option::of(text()),
    )
        .prop_map(|(action, manifest, condition)| {
            object(vec![
                ("action", Some(action.into())),
                ("manifest", Some(manifest.into())),
                ("successCondition", condition.map(Value::from)),
            ])
        });
    let calls = |dag: bool| {
        (0usize..4).prop_flat_map(move |n| (0..n).map(|i| call(dag, i)).collect::<Vec<_>>())
    };
    let dag =
        (calls(true), prop::option::weighted(0.2, local_name())).prop_map(|(tasks, target)| {
            object(vec![
                ("tasks", Some(tasks.into())),
                ("target", target.map(Value::from)),
            ])
        });
    let steps = prop::collection::vec(calls(false), 0..3).prop_map(Value::from);
    let suspend = prop::option::of(string(text())).prop_map(|d| object(vec![("duration", d)]));
    let one = prop_oneof![
        3 => or_wrong(container).prop_map(|v| ("container", Some(v))),
        2 => or_wrong(script).prop_map(|v| ("script", Some(v))),
        2 => or_wrong(resource).prop_map(|v| ("resource", Some(v))),
        3 => or_wrong(dag).prop_map(|v| ("dag", Some(v))),
        3 => or_wrong(steps).prop_map(|v| ("steps", Some(v))),
        1 => or_wrong(suspend).prop_map(|v| ("suspend", Some(v))),
    ];
    prop_oneof![
        8 => one.clone().prop_map(|b| vec![b]),
        1 => prop::collection::vec(one, 0..3),
    ]
    .boxed()
}

fn retry_strategy() -> BoxedStrategy<Value> {
    let backoff = (string(text()), string(text()), string(text()))
        .prop_map(|(d, f, m)| json!({"duration": d, "factor": f, "maxDuration": m}));
    (
        prop::option::of(string(text())),
        prop::option::of(select(
            &["Always", "OnFailure", "OnError", "OnTransientError", "x"][..],
        )),
        prop::option::of(backoff),
        prop::option::weighted(0.2, text()),
    )
        .prop_map(|(limit, policy, backoff, expression)| {
            object(vec![
                ("limit", limit),
                ("retryPolicy", policy.map(Value::from)),
                ("backoff", backoff),
                ("expression", expression.map(Value::from)),
            ])
        })
        .boxed()
}

fn template(i: usize) -> BoxedStrategy<Value> {
    let place = (
        prop::option::weighted(0.3, string(name())),
        prop::option::weighted(0.1, string(name())),
        prop::option::weighted(0.3, string(name())),
    );
    let limits = (
        prop::option::weighted(0.2, retry_strategy()),
        prop::option::weighted(0.15, string(text())),
        prop::option::weighted(0.15, string(text())),
        prop::option::weighted(0.15, int()),
        prop::option::weighted(0.1, or_wrong(any::<bool>().prop_map(Value::from))),
    );
    (
        template_name(i),
        body(),
        place,
        limits,
        prop::option::weighted(0.4, parameters()),
        prop::option::weighted(0.3, outputs()),
        prop::option::weighted(0.1, string(text())),
    )
        .prop_map(
            |(name, body, (cluster, cluster_name, namespace), limits, inputs, outputs, patch)| {
                let (retry, deadline, timeout, parallelism, fail_fast) = limits;
                let mut fields = vec![
                    ("name", Some(name.into())),
                    ("cluster", cluster),
                    ("clusterName", cluster_name),
                    ("namespace", namespace),
                    ("retryStrategy", retry),
                    ("activeDeadlineSeconds", deadline),
                    ("timeout", timeout),
                    ("parallelism", parallelism),
                    ("failFast", fail_fast),
                    ("inputs", inputs),
                    ("outputs", outputs),
                    ("podSpecPatch", patch),
                ];
                fields.extend(body);
                object(fields)
            },
        )
        .boxed()
}

/// Shapes the validator accepts (a pod; DAGs and steps calling pods, scripts and resources,
/// with fan-outs), so that most cases reach placement and pod creation, with hostile
/// settings laid over each template.
fn shaped_templates() -> BoxedStrategy<Vec<Value>> {
    let leaf = |name: &str| json!({"name": name, "container": {"image": "argoproj/argosay:v2"}});
    let shapes = vec![
        vec![leaf("main")],
        vec![
            json!({"name": "main", "dag": {"tasks": [
                {"name": "a", "template": "a"},
                {"name": "b", "template": "a", "depends": "a", "withItems": [1, 2, 3]},
            ]}}),
            leaf("a"),
        ],
        vec![
            json!({"name": "main", "steps": [
                [{"name": "a", "template": "a"}],
                [{"name": "b", "template": "a", "withSequence": {"count": "3"}}, {"name": "c", "template": "b"}],
            ]}),
            leaf("a"),
            json!({"name": "b", "script": {"image": "python:3", "source": "print(1)"}}),
        ],
        vec![
            json!({"name": "main", "dag": {"tasks": [
                {"name": "a", "template": "a"},
                {"name": "b", "template": "r", "depends": "a"},
            ]}}),
            leaf("a"),
            json!({"name": "r", "resource": {"action": "create", "manifest": MANIFESTS[1]}}),
        ],
    ];
    let place = || {
        string(prop_oneof![
            3 => select(&["cluster-0", "cluster-1", "team-a", "team-b", "kube-system"][..]).prop_map(String::from),
            1 => name(),
        ])
    };
    let overlay = (
        prop::option::weighted(0.3, place()),
        prop::option::weighted(0.3, place()),
        prop::option::weighted(0.1, retry_strategy()),
        prop::option::weighted(0.02, string(text())),
        prop::option::weighted(0.02, string(text())),
        prop::option::weighted(0.02, int()),
    )
        .prop_map(
            |(cluster, namespace, retry, deadline, timeout, parallelism)| {
                object(vec![
                    ("cluster", cluster),
                    ("namespace", namespace),
                    ("retryStrategy", retry),
                    ("activeDeadlineSeconds", deadline),
                    ("timeout", timeout),
                    ("parallelism", parallelism),
                ])
            },
        );
    (select(shapes), prop::collection::vec(overlay, 4))
        .prop_map(|(mut templates, overlays)| {
            for (template, overlay) in templates.iter_mut().zip(overlays) {
                if let (Some(t), Value::Object(o)) = (template.as_object_mut(), overlay) {
                    t.extend(o);
                }
            }
            templates
        })
        .boxed()
}

/// A spec the validator accepts more often than not: a known shape, the workflow-wide
/// settings that act at run time (deadline, shutdown, suspension, parallelism, TTL).
fn tame_spec() -> BoxedStrategy<Value> {
    (
        shaped_templates(),
        prop::option::weighted(0.1, int()),
        prop::option::weighted(0.1, int()),
        prop::option::weighted(0.1, select(&["Stop", "Terminate"][..])),
        prop::option::weighted(0.05, any::<bool>()),
        prop::option::weighted(
            0.1,
            (int(), int())
                .prop_map(|(c, f)| json!({"secondsAfterCompletion": c, "secondsAfterFailure": f})),
        ),
    )
        .prop_map(
            |(templates, parallelism, deadline, shutdown, suspend, ttl)| {
                object(vec![
                    ("entrypoint", Some("main".into())),
                    ("templates", Some(templates.into())),
                    ("parallelism", parallelism),
                    ("activeDeadlineSeconds", deadline),
                    ("shutdown", shutdown.map(Value::from)),
                    ("suspend", suspend.map(Value::from)),
                    ("ttlStrategy", ttl),
                ])
            },
        )
        .boxed()
}

fn spec() -> BoxedStrategy<Value> {
    prop_oneof![tame_spec(), wild_spec()].boxed()
}

fn wild_spec() -> BoxedStrategy<Value> {
    let lifecycle = (
        prop::option::weighted(0.15, int()),
        prop::option::weighted(0.15, int()),
        prop::option::weighted(
            0.15,
            string(select(&["Stop", "Terminate", "", "x"][..]).prop_map(String::from)),
        ),
        prop::option::weighted(0.1, or_wrong(any::<bool>().prop_map(Value::from))),
        prop::option::weighted(0.15, select(TEMPLATES)),
    );
    let cleanup = (
        prop::option::weighted(
            0.2,
            or_wrong(
                (
                    select(&["OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess", "x"][..]),
                    prop::option::of(text()),
                    prop::option::of(Just(json!({"matchLabels": {"a": "b"}}))),
                )
                    .prop_map(|(s, d, l)| {
                        object(vec![("strategy", Some(s.into())), ("deleteDelayDuration", d.map(Value::from)), ("labelSelector", l)])
                    }),
            ),
        ),
        prop::option::weighted(0.15, or_wrong((int(), int(), int()).prop_map(|(c, s, f)| {
            json!({"secondsAfterCompletion": c, "secondsAfterSuccess": s, "secondsAfterFailure": f})
        }))),
    );
    (
        prop::option::weighted(
            0.95,
            string(prop_oneof![8 => Just("main".to_string()), 1 => select(TEMPLATES).prop_map(String::from), 1 => name()]),
        ),
        prop_oneof![
            12 => shaped_templates(),
            8 => (1usize..5).prop_flat_map(|n| (0..n).map(template).collect::<Vec<_>>()),
            1 => Just(Vec::new()),
        ],
        prop::option::weighted(0.4, parameters()),
        lifecycle,
        cleanup,
        prop::option::weighted(0.1, Just(json!({"synchronization": {"mutex": {"name": "m"}}}))),
    )
        .prop_map(|(entrypoint, templates, arguments, lifecycle, (pod_gc, ttl), unknown)| {
            let (parallelism, deadline, shutdown, suspend, on_exit) = lifecycle;
            let mut spec = object(vec![
                ("entrypoint", entrypoint),
                ("templates", Some(templates.into())),
                ("arguments", arguments),
                ("parallelism", parallelism),
                ("activeDeadlineSeconds", deadline),
                ("shutdown", shutdown),
                ("suspend", suspend),
                ("onExit", on_exit.map(Value::from)),
                ("podGC", pod_gc),
                ("ttlStrategy", ttl),
            ]);
            if let (Some(spec), Some(Value::Object(unknown))) = (spec.as_object_mut(), unknown) {
                spec.extend(unknown);
            }
            spec
        })
        .boxed()
}

fn metadata() -> BoxedStrategy<Value> {
    (
        prop_oneof![8 => Just("team-a".to_string()), 1 => Just("argo".to_string()), 1 => name()],
        prop::option::weighted(0.9, Just("uid-1")),
        prop::option::weighted(0.05, time()),
        prop::option::weighted(0.1, select(&["v1", "v2", "v3", ""][..])),
    )
        .prop_map(|(namespace, uid, deleting, format)| {
            object(vec![
                ("name", Some(WORKFLOW.into())),
                ("namespace", Some(namespace.into())),
                ("uid", uid.map(Value::from)),
                ("resourceVersion", Some("1".into())),
                (
                    "finalizers",
                    deleting
                        .is_some()
                        .then(|| json!([flotilla_engine::FINALIZER])),
                ),
                ("deletionTimestamp", deleting),
                (
                    "annotations",
                    format.map(|f| json!({flotilla_engine::workflow::labels::POD_NAME_FORMAT: f})),
                ),
            ])
        })
        .boxed()
}

/// A whole workflow: spec always, status (as the tenant wrote it) often.
pub(super) fn workflow() -> BoxedStrategy<Value> {
    (metadata(), spec(), prop::option::weighted(0.6, status()))
        .prop_map(|(metadata, spec, status)| {
            object(vec![
                ("apiVersion", Some("argoproj.io/v1alpha1".into())),
                ("kind", Some("Workflow".into())),
                ("metadata", Some(metadata)),
                ("spec", Some(spec)),
                ("status", status),
            ])
        })
        .boxed()
}

/// A workflow without a status: the engine builds the graph itself.
pub(super) fn new_workflow() -> BoxedStrategy<Value> {
    (metadata(), spec())
        .prop_map(|(metadata, spec)| json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": metadata, "spec": spec}))
        .boxed()
}

/// Outputs as an executor (or anyone who may write task results) reports them.
pub(super) fn task_outputs() -> BoxedStrategy<Value> {
    prop_oneof![
        6 => outputs(),
        1 => (1usize..100_000).prop_map(|n| json!({"result": "r".repeat(n)})),
        1 => Just(json!({"result": 5})),
        1 => Just(json!({"parameters": "s3cr3t"})),
        1 => Just(json!({"exitCode": "{{workflow.name}}", "parameters": [{"name": "x", "value": "{{tasks.a.outputs.result}}"}]})),
    ]
    .boxed()
}
