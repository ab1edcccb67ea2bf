//! Request bodies in, responses out: JSON (and YAML) decoding with Kubernetes' error wording, and
//! the response types the server sends.

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use serde_json::Value;

use crate::status::{ApiError, Result};

/// The body type of every response: whole documents and watch/log streams alike.
pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// The largest request body the API server accepts (kube-apiserver's `MaxRequestBodyBytes`).
pub(crate) const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

pub(crate) fn json_response(code: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut resp = Response::new(full(body));
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub(crate) fn value_response(code: StatusCode, value: &Value) -> Response<Body> {
    json_response(code, serde_json::to_vec(value).unwrap_or_default())
}

pub(crate) fn error_response(err: &ApiError) -> Response<Body> {
    let code = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = value_response(code, &err.to_status());
    if code == StatusCode::TOO_MANY_REQUESTS {
        // As the API server's max-in-flight filter does; clients wait this long before retrying.
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

pub(crate) fn text_response(code: StatusCode, text: impl Into<Bytes>) -> Response<Body> {
    let mut resp = Response::new(full(text));
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Decodes a request body as the API server does for JSON and YAML content types. The result must
/// be a JSON object.
pub(crate) fn decode_object(content_type: Option<&str>, body: &[u8]) -> Result<Value> {
    let media = content_type
        .map(|ct| ct.split(';').next().unwrap_or("").trim())
        .unwrap_or("application/json");
    let value: Value = match media {
        "application/json" | "" | "*/*" => serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("json: cannot unmarshal request body: {e}"))
        })?,
        "application/yaml" | "application/x-yaml" | "text/yaml" => serde_yaml::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))?,
        crate::protobuf::CONTENT_TYPE => {
            let decoded = crate::protobuf::decode_detailed(body).map_err(|e| match e {
                crate::protobuf::ProtobufError::Malformed(m) => ApiError::bad_request(m),
                unsupported => ApiError::unsupported_media_type(unsupported.to_string()),
            })?;
            // The API server drops unknown protobuf fields silently; the log helps find gaps in
            // the simulator's tables.
            for field in &decoded.unknown_fields {
                tracing::debug!(field = %field, "protobuf field dropped");
            }
            decoded.object
        }
        other => {
            return Err(ApiError::unsupported_media_type(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf; got {other:?}"
            )));
        }
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(format!(
            "the body of the request must be a JSON object, got {}",
            type_name(&value)
        )));
    }
    Ok(value)
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Whether a client accepts JSON at all (`*/*`, `application/*`, `application/json`, with or
/// without parameters). A client that asks only for protobuf gets 406.
pub(crate) fn accepts_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return true };
    accept.split(',').any(|part| {
        let media = part.split(';').next().unwrap_or("").trim();
        matches!(
            media,
            "*/*" | "application/*" | "application/json" | "application/yaml" | ""
        )
    })
}
