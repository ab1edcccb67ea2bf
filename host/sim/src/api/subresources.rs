//! Pod and service-account subresources: `pods/log`, `pods/binding`, `serviceaccounts/token`.

use http::{Response, StatusCode, header};
use serde_json::{Value, json};

use super::write::{Incoming, write_object};
use super::{Api, Call, kubelet_client, meta, respond};
use crate::admission::FieldValidation;
use crate::authn::{Token, TokenEntry};
use crate::codec::{self, Body};
use crate::logs::LogOptions;
use crate::logs::query::{self, QueryError};
use crate::rbac::UserInfo;
use crate::resources::Builtin;
use crate::status::{ApiError, Result};

pub(super) async fn pod_log(api: &Api, call: &Call) -> Result<Response<Body>> {
    // kube-apiserver's order: the options, the pod, its container, its node, then the kubelet.
    let (opts, follow) = log_options(call)?;
    let ns = &call.info.namespace;
    let name = &call.info.name;
    let pod = api
        .store
        .get("pods", ns, name)
        .ok_or_else(|| ApiError::not_found("", "pods", name))?;
    let containers: Vec<String> = ["initContainers", "containers"]
        .iter()
        .flat_map(|l| pod.value["spec"][l].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    let main: Vec<String> = pod.value["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    let container = match call.param("container").filter(|c| !c.is_empty()) {
        Some(c) if containers.iter().any(|x| x == c) => c.to_string(),
        Some(c) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )));
        }
        None if main.len() == 1 => main[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                main.join(" ")
            )));
        }
    };
    // A pod no node has taken has no log anywhere yet: kube-apiserver answers with nothing.
    let Some(node) = pod.value["spec"]["nodeName"]
        .as_str()
        .filter(|n| !n.is_empty())
    else {
        return Ok(codec::text_response(StatusCode::OK, ""));
    };
    // The kubelet's own refusal (`validateContainerLogStatus`), answered here, where the pod's
    // status is at hand, in the words the API server passes on from the kubelet.
    let started = pod.value["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .chain(pod.value["status"]["initContainerStatuses"].as_array())
        .flatten()
        .any(|s| {
            s["name"] == container.as_str()
                && (s["state"].get("running").is_some() || s["state"].get("terminated").is_some())
        });
    if !started {
        let reason = pod.value["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["name"] == container.as_str())
            .and_then(|s| s["state"]["waiting"]["reason"].as_str())
            .unwrap_or("ContainerCreating")
            .to_string();
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: {reason}"
        )));
    }
    let at = kubelet_client::locate(api, node)?;
    let mut path = format!("/containerLogs/{ns}/{name}/{container}");
    let query = kubelet_query(&opts, follow);
    if !query.is_empty() {
        path = path + "?" + &query;
    }
    kubelet_client::proxy(&at, &path, name, api.kubelet_identity.as_ref()).await
}

/// The query kube-apiserver sends the kubelet (`LogLocation`): set options only, `sinceTime` in
/// whole seconds.
fn kubelet_query(opts: &LogOptions, follow: bool) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, on) in [
        ("follow", follow),
        ("previous", opts.previous),
        ("timestamps", opts.timestamps),
    ] {
        if on {
            query.append_pair(key, "true");
        }
    }
    if let Some(s) = opts.since_seconds {
        query.append_pair("sinceSeconds", &s.to_string());
    }
    if let Some(t) = opts.since_time {
        query.append_pair("sinceTime", &t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    }
    if let Some(n) = opts.tail_lines {
        query.append_pair("tailLines", &n.to_string());
    }
    if let Some(n) = opts.limit_bytes {
        query.append_pair("limitBytes", &n.to_string());
    }
    query.finish()
}

/// `PodLogOptions` from the query string, refused as the API server refuses them.
fn log_options(call: &Call) -> Result<(LogOptions, bool)> {
    query::parse(|k| call.param(k)).map_err(|e| match e {
        QueryError::Decode(message) => ApiError::bad_request(message),
        QueryError::Invalid(errors) => ApiError::invalid("PodLogOptions", "", "", &errors),
    })
}

/// `pods/binding`: what the scheduler calls to assign a pod to a node.
pub(super) fn pod_binding(api: &Api, call: &Call) -> Result<Response<Body>> {
    let binding = codec::decode_object(call.header(header::CONTENT_TYPE), &call.body)?;
    let node = binding["target"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if node.is_empty() {
        return Err(ApiError::unprocessable(
            "Binding.target.name: Required value",
        ));
    }
    let rt = api.builtin_type(Builtin::Pod);
    let name = call.info.name.clone();
    let manager = super::apply::field_manager(call, "CreateOptions")?;
    write_object(
        api,
        &rt,
        &call.info.namespace,
        &name,
        "binding",
        FieldValidation::Ignore,
        false,
        &manager,
        |current| {
            if current.value["spec"]["nodeName"]
                .as_str()
                .is_some_and(|n| !n.is_empty())
            {
                return Err(ApiError::conflict(
                    "",
                    "pods",
                    &name,
                    &format!(
                        "pod {name} is already assigned to node \"{}\"",
                        current.value["spec"]["nodeName"]
                            .as_str()
                            .unwrap_or_default()
                    ),
                ));
            }
            if meta::has_deletion_timestamp(&current.value) {
                return Err(ApiError::conflict(
                    "",
                    "pods",
                    &name,
                    "pod is being deleted, cannot be assigned to a host",
                ));
            }
            let mut next = current.value.clone();
            next["spec"]["nodeName"] = Value::String(node.clone());
            let now = meta::now_rfc3339();
            let conditions = next["status"]["conditions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut conditions: Vec<Value> = conditions
                .into_iter()
                .filter(|c| c["type"] != "PodScheduled")
                .collect();
            conditions.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now}));
            next["status"]["conditions"] = Value::Array(conditions);
            Ok(Incoming::Patched(next))
        },
    )?;
    respond(StatusCode::CREATED, &crate::status::success_status(None))
}

/// `serviceaccounts/token` (TokenRequest): a token bound to the account, valid while it exists.
pub(super) fn token_request(api: &Api, call: &Call) -> Result<Response<Body>> {
    let ns = &call.info.namespace;
    let name = &call.info.name;
    let sa = api
        .store
        .get("serviceaccounts", ns, name)
        .ok_or_else(|| ApiError::not_found("", "serviceaccounts", name))?;
    let request = codec::decode_object(call.header(header::CONTENT_TYPE), &call.body)?;
    let seconds = request["spec"]["expirationSeconds"]
        .as_i64()
        .unwrap_or(3600);
    if seconds < 600 {
        return Err(ApiError::unprocessable(format!(
            "spec.expirationSeconds: Invalid value: {seconds}: may not specify a duration less than 10 minutes"
        )));
    }
    let token = Token::generate();
    let expires = jiff::Timestamp::now().as_second() + seconds;
    api.authn.add(
        token.clone(),
        TokenEntry {
            user: UserInfo::service_account(ns, name),
            service_account: Some((
                ns.clone(),
                name.clone(),
                sa.meta_str("uid").unwrap_or_default().to_string(),
            )),
            expires: Some(expires),
        },
    );
    let mut response = request.clone();
    response["apiVersion"] = json!("authentication.k8s.io/v1");
    response["kind"] = json!("TokenRequest");
    response["metadata"] =
        json!({"name": name, "namespace": ns, "creationTimestamp": meta::now_rfc3339()});
    response["spec"]["expirationSeconds"] = json!(seconds);
    response["status"] =
        json!({"token": token.expose(), "expirationTimestamp": meta::rfc3339_after(seconds)});
    respond(StatusCode::CREATED, &response)
}
