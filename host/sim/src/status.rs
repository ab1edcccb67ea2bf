//! Kubernetes `Status` errors: what the API server answers when a request fails.
//!
//! Every failure the simulator reports goes through [`ApiError`], so each one carries the HTTP code,
//! `reason` and message a real API server would send (`k8s.io/apimachinery/pkg/api/errors`).

use serde_json::{Value, json};

use crate::validation::FieldError;

/// A failed API request, rendered as a `v1 Status` body.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub(crate) struct ApiError {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
    pub(crate) details: Option<Value>,
}

pub(crate) type Result<T, E = ApiError> = std::result::Result<T, E>;

/// Names a resource in messages the way apimachinery's `schema.GroupResource.String()` does:
/// `pods` for core, `workflows.argoproj.io` for others.
pub(crate) fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub(crate) fn forbidden(
        message: impl Into<String>,
        group: &str,
        resource: &str,
        name: &str,
    ) -> Self {
        Self::new(403, "Forbidden", message)
            .with_details(json!({"name": name, "group": group, "kind": resource}))
    }

    pub(crate) fn not_found(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(group, resource)),
        )
        .with_details(json!({"name": name, "group": group, "kind": resource}))
    }

    /// The answer for a path no installed API serves: unknown group, version or resource.
    pub(crate) fn no_route() -> Self {
        Self::new(404, "NotFound", "the server could not find the requested resource").with_details(
            json!({"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]}),
        )
    }

    pub(crate) fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    pub(crate) fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", message)
    }

    pub(crate) fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(group, resource)),
        )
        .with_details(json!({"name": name, "group": group, "kind": resource}))
    }

    /// The optimistic-concurrency failure: the caller's resourceVersion (or uid precondition) is stale.
    pub(crate) fn conflict(group: &str, resource: &str, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                qualified(group, resource)
            ),
        )
        .with_details(json!({"name": name, "group": group, "kind": resource}))
    }

    pub(crate) fn stale_resource_version(group: &str, resource: &str, name: &str) -> Self {
        Self::conflict(
            group,
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    pub(crate) fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub(crate) fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    pub(crate) fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", message)
    }

    /// 422 Invalid with one cause per field error, as `errors.NewInvalid` builds it.
    pub(crate) fn invalid(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> Self {
        Self::from_status(&crate::validation::invalid_status(
            kind, group, name, errors,
        ))
    }

    /// An error from a complete `v1 Status` built elsewhere (patch, RBAC and validation modules
    /// build theirs in Kubernetes' exact shape).
    pub(crate) fn from_status(status: &Value) -> Self {
        let reason = match status["reason"].as_str().unwrap_or_default() {
            "BadRequest" => "BadRequest",
            "Unauthorized" => "Unauthorized",
            "Forbidden" => "Forbidden",
            "NotFound" => "NotFound",
            "AlreadyExists" => "AlreadyExists",
            "Conflict" => "Conflict",
            "Invalid" => "Invalid",
            "RequestEntityTooLarge" => "RequestEntityTooLarge",
            "UnsupportedMediaType" => "UnsupportedMediaType",
            "InternalError" => "InternalError",
            _ => "",
        };
        Self {
            code: status["code"]
                .as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(500),
            reason,
            message: status["message"].as_str().unwrap_or_default().to_string(),
            details: status.get("details").cloned(),
        }
    }

    /// 422 with a plain message (patch application failures and the like).
    pub(crate) fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }

    pub(crate) fn too_many_requests(message: impl Into<String>) -> Self {
        Self::new(429, "TooManyRequests", message).with_details(
            json!({"causes": [{"message": "Retry-After", "reason": "1"}], "retryAfterSeconds": 1}),
        )
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }

    /// A 404 a proxied server (the kubelet) answered with `body`, as apimachinery's
    /// `NewGenericServerResponse` words it for `get` on `resource` `name`.
    pub(crate) fn proxied_not_found(resource: &str, name: &str, body: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ( {resource} {name})"),
        )
        .with_details(json!({
            "name": name, "kind": resource,
            "causes": [{"reason": "UnexpectedServerResponse", "message": body}],
        }))
    }

    /// A 500 with no reason: what kube-apiserver answers for an error that is not an API status
    /// (`ErrorToAPIStatus`), such as a kubelet it could not reach.
    pub(crate) fn unknown(message: impl Into<String>) -> Self {
        Self::new(500, "", message)
    }

    pub(crate) fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", message)
    }

    /// An injected server error with an arbitrary 5xx code (fault injection).
    pub(crate) fn injected(code: u16) -> Self {
        match code {
            429 => {
                Self::too_many_requests("injected fault: too many requests, please try again later")
            }
            503 => Self::service_unavailable(
                "injected fault: the server is currently unable to handle the request",
            ),
            401 => Self::unauthorized(),
            _ => Self::internal(format!("injected fault ({code})")).with_code(code),
        }
    }

    pub(crate) fn with_code(mut self, code: u16) -> Self {
        self.code = code;
        self
    }

    /// The `v1 Status` object for this error.
    pub(crate) fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if self.reason.is_empty()
            && let Some(o) = status.as_object_mut()
        {
            o.remove("reason");
        }
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

/// The `v1 Status` a successful delete of a whole collection or some subresources returns.
pub(crate) fn success_status(details: Option<Value>) -> Value {
    let mut status =
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"});
    if let Some(details) = details {
        status["details"] = details;
    }
    status
}
