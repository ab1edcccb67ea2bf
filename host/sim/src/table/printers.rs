//! Row printers for built-in kinds, after `pkg/printers/internalversion/printers.go`.
//! The server always prints with `Wide: true`; kubectl hides priority-1 columns itself.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{translate_timestamp_since, value_str};

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn get<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter()
        .try_fold(v, |cur, k| cur.get(k))
        .unwrap_or(&Value::Null)
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn name(obj: &Value) -> Value {
    Value::String(value_str(get(obj, &["metadata", "name"])).to_string())
}

fn age(obj: &Value, now: jiff::Timestamp) -> Value {
    Value::String(translate_timestamp_since(
        get(obj, &["metadata", "creationTimestamp"]),
        now,
    ))
}

fn count(v: &Value) -> Value {
    let n = match v {
        Value::Object(m) => m.len(),
        Value::Array(a) => a.len(),
        _ => 0,
    };
    Value::from(n as i64)
}

fn or_none(s: &str) -> String {
    if s.is_empty() {
        "<none>".to_string()
    } else {
        s.to_string()
    }
}

/// Cells and row conditions of a Pod (`printPod`).
pub(super) fn pod(pod: &Value, now: jiff::Timestamp) -> (Vec<Value>, Option<Value>) {
    let spec = get(pod, &["spec"]);
    let status = get(pod, &["status"]);
    let phase = value_str(get(status, &["phase"]));
    let mut reason = phase.to_string();
    let status_reason = value_str(get(status, &["reason"]));
    if !status_reason.is_empty() {
        reason = status_reason.to_string();
    }
    let conditions = list(status, "conditions");
    if conditions.iter().any(|c| {
        value_str(&c["type"]) == "PodScheduled" && value_str(&c["reason"]) == "SchedulingGated"
    }) {
        reason = "SchedulingGated".to_string();
    }
    let row_conditions = match phase {
        "Succeeded" => Some(
            json!([{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}]),
        ),
        "Failed" => Some(
            json!([{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]),
        ),
        _ => None,
    };
    let init_specs = list(spec, "initContainers");
    let restartable = |name: &str| {
        init_specs
            .iter()
            .any(|c| value_str(&c["name"]) == name && value_str(&c["restartPolicy"]) == "Always")
    };
    let total = list(spec, "containers").len()
        + init_specs
            .iter()
            .filter(|c| value_str(&c["restartPolicy"]) == "Always")
            .count();
    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut sidecar_restarts = 0i64;
    let mut last_restart: Option<jiff::Timestamp> = None;
    let mut last_sidecar_restart: Option<jiff::Timestamp> = None;
    let finished = |c: &Value| {
        get(c, &["lastState", "terminated", "finishedAt"])
            .as_str()
            .and_then(|s| s.parse::<jiff::Timestamp>().ok())
    };

    let mut initializing = false;
    for (i, c) in list(status, "initContainerStatuses").iter().enumerate() {
        restarts += int(&c["restartCount"]);
        if let Some(t) = finished(c) {
            last_restart = last_restart.max(Some(t));
        }
        let cname = value_str(&c["name"]);
        if restartable(cname) {
            sidecar_restarts += int(&c["restartCount"]);
            if let Some(t) = finished(c) {
                last_sidecar_restart = last_sidecar_restart.max(Some(t));
            }
        }
        let terminated = get(c, &["state", "terminated"]);
        let waiting_reason = value_str(get(c, &["state", "waiting", "reason"]));
        if terminated.is_object() && int(&terminated["exitCode"]) == 0 {
            continue;
        }
        if restartable(cname) && c["started"].as_bool() == Some(true) {
            if c["ready"].as_bool() == Some(true) {
                ready += 1;
            }
            continue;
        }
        if terminated.is_object() {
            let r = value_str(&terminated["reason"]);
            reason = if !r.is_empty() {
                format!("Init:{r}")
            } else if int(&terminated["signal"]) != 0 {
                format!("Init:Signal:{}", int(&terminated["signal"]))
            } else {
                format!("Init:ExitCode:{}", int(&terminated["exitCode"]))
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    let initialized = conditions
        .iter()
        .any(|c| value_str(&c["type"]) == "Initialized" && value_str(&c["status"]) == "True");
    if !initializing || initialized {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for c in list(status, "containerStatuses").iter().rev() {
            restarts += int(&c["restartCount"]);
            if let Some(t) = finished(c) {
                last_restart = last_restart.max(Some(t));
            }
            let waiting_reason = value_str(get(c, &["state", "waiting", "reason"]));
            let terminated = get(c, &["state", "terminated"]);
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if terminated.is_object() && !value_str(&terminated["reason"]).is_empty() {
                reason = value_str(&terminated["reason"]).to_string();
            } else if terminated.is_object() {
                reason = if int(&terminated["signal"]) != 0 {
                    format!("Signal:{}", int(&terminated["signal"]))
                } else {
                    format!("ExitCode:{}", int(&terminated["exitCode"]))
                };
            } else if c["ready"].as_bool() == Some(true)
                && get(c, &["state", "running"]).is_object()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            let pod_ready = conditions
                .iter()
                .any(|c| value_str(&c["type"]) == "Ready" && value_str(&c["status"]) == "True");
            reason = if pod_ready { "Running" } else { "NotReady" }.to_string();
        }
    }

    let deleting = get(pod, &["metadata", "deletionTimestamp"]).is_string();
    if deleting && status_reason == "NodeLost" {
        reason = "Unknown".to_string();
    } else if deleting && phase != "Failed" && phase != "Succeeded" {
        reason = "Terminating".to_string();
    }

    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => {
            format!("{restarts} ({} ago)", super::human_duration_between(t, now))
        }
        _ => restarts.to_string(),
    };
    let pod_ip = list(status, "podIPs")
        .first()
        .map(|p| value_str(&p["ip"]))
        .unwrap_or("");
    let gates = list(spec, "readinessGates");
    let readiness = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_count = gates
            .iter()
            .filter(|g| {
                conditions
                    .iter()
                    .find(|c| c["type"] == g["conditionType"])
                    .is_some_and(|c| value_str(&c["status"]) == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };
    let cells = vec![
        name(pod),
        Value::String(format!("{ready}/{total}")),
        Value::String(reason),
        Value::String(restarts_cell),
        age(pod, now),
        Value::String(or_none(pod_ip)),
        Value::String(or_none(value_str(&spec["nodeName"]))),
        Value::String(or_none(value_str(&status["nominatedNodeName"]))),
        Value::String(readiness),
    ];
    (cells, row_conditions)
}

pub(super) fn namespace(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    vec![
        name(obj),
        Value::String(value_str(get(obj, &["status", "phase"])).to_string()),
        age(obj, now),
    ]
}

pub(super) fn config_map(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let n = int(&count(&obj["data"])) + int(&count(&obj["binaryData"]));
    vec![name(obj), Value::from(n), age(obj, now)]
}

pub(super) fn secret(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    vec![
        name(obj),
        Value::String(value_str(&obj["type"]).to_string()),
        count(&obj["data"]),
        age(obj, now),
    ]
}

pub(super) fn service_account(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    vec![name(obj), count(&obj["secrets"]), age(obj, now)]
}

pub(super) fn lease(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    vec![
        name(obj),
        Value::String(value_str(get(obj, &["spec", "holderIdentity"])).to_string()),
        age(obj, now),
    ]
}

/// `printRoleBinding` / `printClusterRoleBinding`.
pub(super) fn role_binding(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let role = format!(
        "{}/{}",
        value_str(get(obj, &["roleRef", "kind"])),
        value_str(get(obj, &["roleRef", "name"]))
    );
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for s in list(obj, "subjects") {
        let n = value_str(&s["name"]);
        match value_str(&s["kind"]) {
            "User" => users.push(n.to_string()),
            "Group" => groups.push(n.to_string()),
            "ServiceAccount" => sas.push(format!("{}/{n}", value_str(&s["namespace"]))),
            _ => {}
        }
    }
    vec![
        name(obj),
        Value::String(role),
        age(obj, now),
        Value::String(users.join(", ")),
        Value::String(groups.join(", ")),
        Value::String(sas.join(", ")),
    ]
}

/// `printNode`.
pub(super) fn node(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let status = get(obj, &["status"]);
    let mut states = Vec::new();
    if let Some(c) = list(status, "conditions")
        .iter()
        .rev()
        .find(|c| value_str(&c["type"]) == "Ready")
    {
        states.push(if value_str(&c["status"]) == "True" {
            "Ready"
        } else {
            "NotReady"
        });
    }
    if states.is_empty() {
        states.push("Unknown");
    }
    if get(obj, &["spec", "unschedulable"]).as_bool() == Some(true) {
        states.push("SchedulingDisabled");
    }
    let mut roles = BTreeSet::new();
    if let Some(labels) = get(obj, &["metadata", "labels"]).as_object() {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role.to_string());
                }
            } else if k == "kubernetes.io/role" && !value_str(v).is_empty() {
                roles.insert(value_str(v).to_string());
            }
        }
    }
    let roles: Vec<String> = roles.into_iter().collect();
    let address = |kind: &str| {
        list(status, "addresses")
            .iter()
            .find(|a| value_str(&a["type"]) == kind)
            .map(|a| value_str(&a["address"]).to_string())
            .unwrap_or_else(|| "<none>".to_string())
    };
    let info = |k: &str| {
        let v = value_str(get(status, &["nodeInfo", k]));
        if v.is_empty() {
            "<unknown>".to_string()
        } else {
            v.to_string()
        }
    };
    vec![
        name(obj),
        Value::String(states.join(",")),
        Value::String(or_none(&roles.join(","))),
        age(obj, now),
        Value::String(value_str(get(status, &["nodeInfo", "kubeletVersion"])).to_string()),
        Value::String(address("InternalIP")),
        Value::String(address("ExternalIP")),
        Value::String(info("osImage")),
        Value::String(info("kernelVersion")),
        Value::String(info("containerRuntimeVersion")),
    ]
}

fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() { b } else { a }
}

/// `printEvent`, for core/v1 Events (falling back to events.k8s.io/v1 field names).
pub(super) fn event(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let pick = |core: &str, events: &str| {
        let v = &obj[core];
        if v.is_null() { &obj[events] } else { v }
    };
    let since = |v: &Value| translate_timestamp_since(v, now);
    let first_ts = pick("firstTimestamp", "deprecatedFirstTimestamp");
    let first = if first_ts.is_string() {
        since(first_ts)
    } else {
        since(&obj["eventTime"])
    };
    let last_ts = pick("lastTimestamp", "deprecatedLastTimestamp");
    let mut last = if last_ts.is_string() {
        since(last_ts)
    } else {
        first.clone()
    };
    let mut n = int(pick("count", "deprecatedCount"));
    if obj["series"].is_object() {
        last = since(&obj["series"]["lastObservedTime"]);
        n = int(&obj["series"]["count"]);
    } else if n == 0 {
        n = 1;
    }
    let involved = pick("involvedObject", "regarding");
    let kind = value_str(&involved["kind"]).to_lowercase();
    let target = match value_str(&involved["name"]) {
        "" => kind,
        n => format!("{kind}/{n}"),
    };
    let source = pick("source", "deprecatedSource");
    let component = first_non_empty(
        value_str(&source["component"]),
        value_str(&obj["reportingController"]),
    );
    let instance = first_non_empty(
        value_str(&source["host"]),
        value_str(&obj["reportingInstance"]),
    );
    let source_cell = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };
    vec![
        Value::String(last),
        Value::String(value_str(&obj["type"]).to_string()),
        Value::String(value_str(&obj["reason"]).to_string()),
        Value::String(target),
        Value::String(value_str(&involved["fieldPath"]).to_string()),
        Value::String(source_cell),
        Value::String(value_str(pick("message", "note")).trim().to_string()),
        Value::String(first),
        Value::from(n),
        name(obj),
    ]
}
