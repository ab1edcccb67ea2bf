//! The API server of one simulated cluster: authentication, authorization and routing of every
//! request to discovery or to the resource handlers in `api/`.

mod apply;
pub(crate) mod delete;
mod kubelet_client;
pub(crate) mod meta;
mod read;
mod subresources;
mod watch;
pub(crate) mod write;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use parking_lot::{Mutex, RwLock};
use serde_json::Value;

use crate::authn::Authn;
use crate::codec::{self, Body, MAX_BODY_BYTES};
use crate::faults::Faults;
use crate::rbac::{Attributes, Decision, RbacSnapshot, ResourceRequest, UserInfo};
use crate::request_info::{RequestInfo, parse_query};
use crate::resources::{Builtin, Catalog, ResourceType};
use crate::status::{ApiError, Result};
use crate::store::{Store, StoreConfig};

pub(crate) use delete::DeleteOptions;

/// Shared state of one simulated cluster's API server.
#[derive(Debug)]
pub(crate) struct Api {
    pub(crate) cluster: String,
    pub(crate) store: Store,
    catalog: RwLock<Arc<Catalog>>,
    pub(crate) authn: Authn,
    rbac: Mutex<Option<Arc<RbacSnapshot>>>,
    rbac_dirty: AtomicBool,
    pub(crate) faults: Faults,
    lists: Mutex<read::ListSnapshots>,
    /// How often watches send BOOKMARK events to clients that asked for them.
    pub(crate) bookmark_interval: std::time::Duration,
    /// The client certificate shown to kubelets for `pods/log` (none on a plain-HTTP cluster).
    pub(crate) kubelet_identity: Option<kubelet_client::Identity>,
    /// PEM of the cluster's CA, written into service-account token secrets as `ca.crt`.
    pub(crate) ca_pem: String,
}

/// A parsed, authenticated request on its way to a handler.
pub(crate) struct Call {
    pub(crate) info: RequestInfo,
    pub(crate) query: HashMap<String, String>,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: Bytes,
}

impl Call {
    pub(crate) fn param(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str)
    }

    pub(crate) fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `dryRun=All`: do everything but persist.
    pub(crate) fn dry_run(&self) -> Result<bool> {
        match self.param("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "Invalid dryRun value: {other:?}: valid values are \"All\""
            ))),
        }
    }
}

impl Api {
    pub(crate) fn new(cluster: &str, store: StoreConfig, ca_pem: String) -> Self {
        Api {
            cluster: cluster.to_string(),
            store: Store::new(store),
            catalog: RwLock::new(Arc::new(Catalog::builtin())),
            authn: Authn::default(),
            rbac: Mutex::new(None),
            rbac_dirty: AtomicBool::new(true),
            faults: Faults::default(),
            lists: Mutex::new(read::ListSnapshots::default()),
            bookmark_interval: std::time::Duration::from_secs(1),
            kubelet_identity: None,
            ca_pem,
        }
    }

    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().clone()
    }

    pub(crate) fn set_catalog(&self, catalog: Catalog) {
        *self.catalog.write() = Arc::new(catalog);
    }

    /// The resource type stored under a storage key at its storage version (built-in or CRD).
    pub(crate) fn storage_type(&self, storage: &str) -> Option<Arc<ResourceType>> {
        self.catalog()
            .all()
            .find(|rt| {
                &*rt.storage == storage
                    && rt.version == rt.storage_version
                    && rt.builtin != Some(Builtin::Event)
            })
            .cloned()
    }

    pub(crate) fn builtin_type(&self, builtin: Builtin) -> Arc<ResourceType> {
        self.catalog()
            .all()
            .find(|rt| rt.builtin == Some(builtin))
            .cloned()
            .unwrap_or_else(|| unreachable_builtin(builtin))
    }

    /// Called after any write to RBAC objects: the next authorization rebuilds its snapshot.
    pub(crate) fn rbac_changed(&self) {
        self.rbac_dirty.store(true, Ordering::Release);
    }

    fn rbac_snapshot(&self) -> Arc<RbacSnapshot> {
        let mut cached = self.rbac.lock();
        if self.rbac_dirty.swap(false, Ordering::AcqRel) || cached.is_none() {
            let list = |storage: &str| self.store.list(storage, None, |_| true).0;
            let roles = list("roles.rbac.authorization.k8s.io");
            let cluster_roles = list("clusterroles.rbac.authorization.k8s.io");
            let bindings = list("rolebindings.rbac.authorization.k8s.io");
            let cluster_bindings = list("clusterrolebindings.rbac.authorization.k8s.io");
            *cached = Some(Arc::new(RbacSnapshot::from_objects(
                roles.iter().map(|o| &o.value),
                cluster_roles.iter().map(|o| &o.value),
                bindings.iter().map(|o| &o.value),
                cluster_bindings.iter().map(|o| &o.value),
            )));
        }
        cached
            .clone()
            .unwrap_or_else(|| Arc::new(RbacSnapshot::bootstrap()))
    }

    fn authorize(&self, user: &UserInfo, info: &RequestInfo) -> Result<()> {
        let attrs = if info.is_resource {
            Attributes::resource(
                user,
                info.verb,
                ResourceRequest {
                    namespace: &info.namespace,
                    api_group: &info.group,
                    resource: &info.resource,
                    subresource: &info.subresource,
                    name: &info.name,
                },
            )
        } else {
            Attributes::non_resource(user, info.verb, &info.path)
        };
        match self.rbac_snapshot().authorize(&attrs) {
            Decision::Allow => Ok(()),
            Decision::Deny { reason } => Err(ApiError::from_status(
                &crate::rbac::forbidden_status(&attrs, &reason),
            )),
        }
    }

    fn authenticate(&self, headers: &http::HeaderMap) -> Result<UserInfo> {
        let header = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let now = jiff::Timestamp::now().as_second();
        let sa_uid = |ns: &str, name: &str| {
            self.store
                .get("serviceaccounts", ns, name)
                .and_then(|o| o.meta_str("uid").map(str::to_string))
        };
        match self.authn.authenticate(header, now, sa_uid) {
            Ok(Some(user)) => Ok(user),
            Ok(None) => Ok(UserInfo::anonymous()),
            Err(()) => Err(ApiError::unauthorized()),
        }
    }

    /// Serves one HTTP request. Never panics on input: every failure is a `Status`.
    pub(crate) async fn handle(
        self: Arc<Self>,
        req: Request<hyper::body::Incoming>,
    ) -> Response<Body> {
        if let Some(err) = self.faults.before_request(req.method().as_str()).await {
            return codec::error_response(&err);
        }
        let (method, uri) = (req.method().clone(), req.uri().clone());
        let resp = match self.route(req).await {
            Ok(resp) => resp,
            Err(err) => codec::error_response(&err),
        };
        tracing::debug!(cluster = %self.cluster, %method, %uri, status = resp.status().as_u16(), "request");
        resp
    }

    async fn route(
        self: &Arc<Self>,
        req: Request<hyper::body::Incoming>,
    ) -> Result<Response<Body>> {
        let (parts, body) = req.into_parts();
        let user = self.authenticate(&parts.headers)?;
        let query = parse_query(parts.uri.query());
        let info = RequestInfo::parse(&parts.method, parts.uri.path(), &query);
        self.authorize(&user, &info)?;
        let accept = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        if info.is_resource && info.subresource != "log" && !codec::accepts_json(accept) {
            return Err(ApiError::not_acceptable(
                "only the following media types are accepted: application/json, application/yaml (the simulator does not speak protobuf)",
            ));
        }
        let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(ApiError::too_large(MAX_BODY_BYTES));
            }
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "reading the request body failed: {e}"
                )));
            }
        };
        if !info.is_resource {
            return crate::discovery::serve(self, &parts.method, parts.uri.path(), &parts.headers);
        }
        let call = Call {
            info,
            query,
            headers: parts.headers,
            body,
        };
        self.resource_request(&parts.method, call).await
    }

    async fn resource_request(
        self: &Arc<Self>,
        method: &Method,
        call: Call,
    ) -> Result<Response<Body>> {
        let info = &call.info;
        if info.too_deep {
            return Err(ApiError::no_route());
        }
        let catalog = self.catalog();
        let Some(rt) = catalog
            .get(&info.group, &info.version, &info.resource)
            .cloned()
        else {
            return Err(ApiError::no_route());
        };
        if !info.namespace.is_empty() && !rt.namespaced && rt.builtin != Some(Builtin::Namespace) {
            return Err(ApiError::no_route());
        }
        match (info.subresource.as_str(), info.verb) {
            ("", "get") => read::get(self, &rt, &call),
            ("", "list") => read::list(self, &rt, &call),
            ("", "watch") | ("status", "watch") => watch::watch(self, &rt, &call),
            ("", "create") => write::create(self, &rt, &call),
            ("", "update") | ("status", "update") => write::update(self, &rt, &call),
            ("", "patch") | ("status", "patch") => write::patch(self, &rt, &call),
            ("", "delete") => delete::delete(self, &rt, &call),
            ("", "deletecollection") => delete::delete_collection(self, &rt, &call),
            ("status", "get") if rt.status_subresource => read::get(self, &rt, &call),
            ("status", _) if !rt.status_subresource => Err(ApiError::no_route()),
            ("log", "get") if rt.builtin == Some(Builtin::Pod) => {
                subresources::pod_log(self, &call).await
            }
            ("binding", "create") if rt.builtin == Some(Builtin::Pod) => {
                subresources::pod_binding(self, &call)
            }
            ("token", "create") if rt.builtin == Some(Builtin::ServiceAccount) => {
                subresources::token_request(self, &call)
            }
            ("finalize", "update") if rt.builtin == Some(Builtin::Namespace) => {
                write::update(self, &rt, &call)
            }
            (_, verb) if !info.subresource.is_empty() || verb.is_empty() => {
                let _ = method;
                Err(ApiError::method_not_allowed(format!(
                    "the server does not allow this method on the requested resource ({} {})",
                    verb, info.path
                )))
            }
            _ => Err(ApiError::no_route()),
        }
    }
}

fn unreachable_builtin(builtin: Builtin) -> Arc<ResourceType> {
    // The built-in catalogue always contains every `Builtin`; reaching this is a bug in `resources`.
    panic!("built-in resource {builtin:?} missing from the catalogue")
}

/// `Response` with a JSON object and status code.
pub(crate) fn respond(code: StatusCode, value: &Value) -> Result<Response<Body>> {
    Ok(codec::value_response(code, value))
}
