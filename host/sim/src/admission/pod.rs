//! Pods: the defaults the API server fills in, the validation it applies on create, the spec
//! immutability it enforces on update, and the ServiceAccount admission check.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use crate::api::Api;
use crate::status::{ApiError, Result};
use crate::validation::FieldError;

fn set_default(map: &mut Map<String, Value>, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_string(), value);
    }
}

fn default_container(c: &mut Value) {
    let image_pull = match c["image"].as_str() {
        Some(image)
            if image
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains(':') && !last.ends_with(":latest")) =>
        {
            "IfNotPresent"
        }
        Some(image) if image.contains('@') => "IfNotPresent",
        _ => "Always",
    };
    if let Some(m) = c.as_object_mut() {
        set_default(m, "terminationMessagePath", json!("/dev/termination-log"));
        set_default(m, "terminationMessagePolicy", json!("File"));
        set_default(m, "imagePullPolicy", json!(image_pull));
        set_default(m, "resources", json!({}));
    }
}

fn qos_class(spec: &Value) -> &'static str {
    let containers = spec["containers"].as_array().into_iter().flatten();
    let mut any = false;
    let mut guaranteed = true;
    for c in containers {
        let requests = c["resources"]["requests"].as_object();
        let limits = c["resources"]["limits"].as_object();
        if requests.is_some_and(|r| !r.is_empty()) || limits.is_some_and(|l| !l.is_empty()) {
            any = true;
        }
        let full = |m: Option<&Map<String, Value>>| {
            m.is_some_and(|m| m.contains_key("cpu") && m.contains_key("memory"))
        };
        if !full(limits)
            || requests.is_some_and(|r| {
                r.iter()
                    .any(|(k, v)| limits.and_then(|l| l.get(k)) != Some(v))
            })
        {
            guaranteed = false;
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// Defaults from `pkg/apis/core/v1/defaults.go` and the pod strategy's PrepareForCreate.
pub(super) fn default(pod: &mut Value) {
    if !pod["spec"].is_object() {
        return; // validation reports the missing spec
    }
    for list in ["containers", "initContainers"] {
        if let Some(cs) = pod["spec"][list].as_array_mut() {
            cs.iter_mut().for_each(default_container);
        }
    }
    let qos = qos_class(&pod["spec"]);
    if let Some(spec) = pod["spec"].as_object_mut() {
        set_default(spec, "restartPolicy", json!("Always"));
        set_default(spec, "terminationGracePeriodSeconds", json!(30));
        set_default(spec, "dnsPolicy", json!("ClusterFirst"));
        set_default(spec, "securityContext", json!({}));
        set_default(spec, "schedulerName", json!("default-scheduler"));
        set_default(spec, "enableServiceLinks", json!(true));
        set_default(spec, "priority", json!(0));
        let sa = spec
            .get("serviceAccountName")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .or_else(|| {
                spec.get("serviceAccount")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or("default")
            .to_string();
        spec.insert("serviceAccountName".into(), json!(sa));
        spec.insert("serviceAccount".into(), json!(sa));
    }
    pod["status"] = json!({"phase": "Pending", "qosClass": qos});
}

fn validate_containers(
    list: &str,
    containers: Option<&Vec<Value>>,
    required: bool,
    names: &mut HashSet<String>,
    errors: &mut Vec<FieldError>,
) {
    let path = format!("spec.{list}");
    match containers {
        None if required => errors.push(FieldError::required(path, "")),
        Some(cs) if required && cs.is_empty() => errors.push(FieldError::required(path, "")),
        _ => {}
    }
    for (i, c) in containers.into_iter().flatten().enumerate() {
        let at = format!("spec.{list}[{i}]");
        match c["name"].as_str() {
            None | Some("") => errors.push(FieldError::required(format!("{at}.name"), "")),
            Some(name) => {
                for detail in crate::validation::is_dns1123_label(name) {
                    errors.push(FieldError::invalid(
                        format!("{at}.name"),
                        json!(name),
                        detail,
                    ));
                }
                if !names.insert(name.to_string()) {
                    errors.push(FieldError::duplicate(format!("{at}.name"), json!(name)));
                }
            }
        }
        if c["image"].as_str().is_none_or(|s| s.trim().is_empty()) {
            errors.push(FieldError::required(format!("{at}.image"), ""));
        }
    }
}

pub(super) fn validate(pod: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let spec = &pod["spec"];
    if !spec.is_object() {
        errors.push(FieldError::required("spec.containers", ""));
        return errors;
    }
    let mut names = HashSet::new();
    validate_containers(
        "containers",
        spec["containers"].as_array(),
        true,
        &mut names,
        &mut errors,
    );
    validate_containers(
        "initContainers",
        spec["initContainers"].as_array(),
        false,
        &mut names,
        &mut errors,
    );
    if let Some(policy) = spec["restartPolicy"].as_str()
        && !matches!(policy, "Always" | "OnFailure" | "Never")
    {
        errors.push(FieldError::not_supported(
            "spec.restartPolicy",
            json!(policy),
            &["Always", "OnFailure", "Never"],
        ));
    }
    if let Some(d) = spec["activeDeadlineSeconds"].as_i64()
        && d <= 0
    {
        errors.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            json!(d),
            "must be between 1 and 2147483647, inclusive",
        ));
    }
    errors
}

/// The fields of a pod spec an update may change (`ValidatePodUpdate`).
pub(super) fn validate_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let strip = |pod: &Value| {
        let mut spec = pod["spec"].clone();
        for list in ["containers", "initContainers"] {
            if let Some(cs) = spec[list].as_array_mut() {
                for c in cs {
                    if let Some(m) = c.as_object_mut() {
                        m.remove("image");
                    }
                }
            }
        }
        if let Some(m) = spec.as_object_mut() {
            m.remove("activeDeadlineSeconds");
            m.remove("tolerations");
            m.remove("terminationGracePeriodSeconds");
        }
        spec
    };
    let mut errors = Vec::new();
    if strip(old) != strip(new) {
        errors.push(FieldError::forbidden(
            "spec",
            "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
        ));
    }
    let old_tol = old["spec"]["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let new_tol = new["spec"]["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if old_tol.iter().any(|t| !new_tol.contains(t)) {
        errors.push(FieldError::forbidden(
            "spec.tolerations",
            "existing toleration can not be modified except its tolerationSeconds",
        ));
    }
    let old_deadline = old["spec"]["activeDeadlineSeconds"].as_i64();
    let new_deadline = new["spec"]["activeDeadlineSeconds"].as_i64();
    match (old_deadline, new_deadline) {
        (Some(_), None) => errors.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            Value::Null,
            "must not update activeDeadlineSeconds to nil",
        )),
        (Some(o), Some(n)) if n > o => errors.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            json!(n),
            "must be less than or equal to previous value",
        )),
        _ => {}
    }
    errors
}

/// The ServiceAccount admission plugin: a pod's service account must exist.
pub(super) fn check_service_account(api: &Api, pod: &Value) -> Result<()> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let sa = pod["spec"]["serviceAccountName"]
        .as_str()
        .unwrap_or("default");
    if api.store.get("serviceaccounts", ns, sa).is_some() {
        return Ok(());
    }
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    Err(ApiError::forbidden(
        format!(
            "pods \"{name}\" is forbidden: error looking up service account {ns}/{sa}: serviceaccount \"{sa}\" not found"
        ),
        "",
        "pods",
        name,
    ))
}
