//! Statuses as a tenant writes them: node IDs the engine computes and others, every type and
//! phase, timestamps at their limits, and a graph with self-loops, cycles and dangling edges.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

use super::*;

/// Timestamps at the limits of what Kubernetes and jiff represent.
pub(super) fn time() -> BoxedStrategy<Value> {
    let odd = select(&["-009999-01-01T00:00:00Z", "not a time"][..]).prop_map(String::from);
    string(prop_oneof![12 => select(&[
            "2027-01-15T07:59:00Z",
            "2027-01-15T08:00:00Z",
            "1970-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00:00Z",
            "2027-01-15T08:00:00.123456789Z",
        ][..])
        .prop_map(String::from), 1 => odd])
}

/// Node IDs: the root's, those the engine computes for plausible node names, and others.
fn node_id() -> BoxedStrategy<String> {
    let computed = select(
        &[
            "wf[0]",
            "wf[0].a",
            "wf[1].b",
            "wf.a",
            "wf.b",
            "wf(0)",
            "wf.a(0)",
            "wf.onExit",
            "wf[0].a(0:x)",
        ][..],
    )
    .prop_map(|n| naming::node_id(WORKFLOW, n));
    prop_oneof![
        3 => Just(WORKFLOW.to_string()),
        5 => computed,
        2 => name(),
    ]
    .boxed()
}

const NODE_TYPES: &[&str] = &[
    "Pod",
    "Container",
    "Steps",
    "StepGroup",
    "DAG",
    "TaskGroup",
    "Retry",
    "Skipped",
    "Suspend",
    "Plugin",
];
const NODE_PHASES: &[&str] = &[
    "Pending",
    "Running",
    "Succeeded",
    "Skipped",
    "Failed",
    "Error",
    "Omitted",
];

fn node() -> BoxedStrategy<(String, Value)> {
    let edges = || prop::collection::vec(node_id(), 0..4);
    let place = (
        prop::option::weighted(0.3, string(name())),
        prop::option::weighted(0.3, string(name())),
        prop::option::weighted(0.3, string(name())),
    );
    let times = (
        prop::option::weighted(0.5, time()),
        prop::option::weighted(0.3, time()),
    );
    (
        node_id(),
        prop::option::weighted(0.1, node_id()),
        select(NODE_TYPES),
        or_wrong(select(NODE_PHASES).prop_map(Value::from)),
        prop::option::weighted(0.8, select(TEMPLATES)),
        (edges(), edges()),
        place,
        times,
        prop::option::weighted(0.2, node_id()),
        prop::option::weighted(0.2, outputs()),
        prop::option::weighted(0.2, text()),
    )
        .prop_map(
            |(
                key,
                other_id,
                type_,
                phase,
                template,
                (children, outbound),
                place,
                times,
                boundary,
                outputs,
                message,
            )| {
                let (cluster, namespace, pod_name) = place;
                let node = object(vec![
                    ("id", Some(other_id.unwrap_or_else(|| key.clone()).into())),
                    ("name", Some(format!("{WORKFLOW}.{key}").into())),
                    ("displayName", Some(key.clone().into())),
                    ("type", Some(type_.into())),
                    ("phase", Some(phase)),
                    ("templateName", template.map(Value::from)),
                    ("children", Some(children.into())),
                    ("outboundNodes", Some(outbound.into())),
                    ("cluster", cluster),
                    ("namespace", namespace),
                    ("podName", pod_name),
                    ("startedAt", times.0),
                    ("finishedAt", times.1),
                    ("boundaryID", boundary.map(Value::from)),
                    ("outputs", outputs),
                    ("message", message.map(Value::from)),
                ]);
                (key, node)
            },
        )
        .boxed()
}

pub(super) fn status() -> BoxedStrategy<Value> {
    let phase = prop::option::of(or_wrong(
        select(&["Pending", "Running", "Succeeded", "Failed", "Error"][..]).prop_map(Value::from),
    ));
    (
        phase,
        prop::option::weighted(0.5, time()),
        prop::option::weighted(0.2, time()),
        prop::collection::vec(node(), 0..10),
        prop::option::weighted(0.1, text()),
    )
        .prop_map(|(phase, started, finished, nodes, message)| {
            let nodes: Map<String, Value> = nodes.into_iter().collect();
            object(vec![
                ("phase", phase),
                ("startedAt", started),
                ("finishedAt", finished),
                ("nodes", Some(Value::Object(nodes))),
                ("message", message.map(Value::from)),
            ])
        })
        .boxed()
}

/// Node phases, for a tenant's edits of the status between reconciles.
pub(in crate::controller::fuzz) fn node_phase() -> BoxedStrategy<&'static str> {
    select(NODE_PHASES).boxed()
}

/// Node IDs, likewise.
pub(in crate::controller::fuzz) fn any_node_id() -> BoxedStrategy<String> {
    node_id()
}
