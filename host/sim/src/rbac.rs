//! RBAC authorization over the simulated cluster's Role, ClusterRole, RoleBinding and
//! ClusterRoleBinding objects, with kube-apiserver's decision rules and 403 wording.
//!
//! The pieces mirror Kubernetes one for one:
//! - rule matching: `plugin/pkg/auth/authorizer/rbac` (`RuleAllows`) and
//!   `pkg/apis/rbac/v1/evaluation_helpers.go`;
//! - which bindings apply to a user: `pkg/registry/rbac/validation/rule.go` (`appliesTo`,
//!   `GetRoleReferenceRules`), including its "role not found" resolution errors, which a real
//!   cluster appends to the 403 message as `RBAC: ...`;
//! - the 403 text: `apiserver/pkg/endpoints/handlers/responsewriters/errors.go`
//!   (`forbiddenMessage`) wrapped by apimachinery's `NewForbidden`;
//! - members of `system:masters` are allowed everything before RBAC is consulted, as
//!   kube-apiserver's privileged-group authorizer does.
//!
//! Everything here is pure. The server builds an [`RbacSnapshot`] from its stored RBAC objects
//! whenever one of them changes (seeding the store with [`bootstrap_objects`] at start-up, as a
//! real apiserver's bootstrap-roles post-start hook does) and asks it about every request.
//!
//! Not modelled: ClusterRole `aggregationRule` (an aggregated ClusterRole grants only the
//! `rules` stored on it; nothing fills them in from the selected roles), and the rest of the
//! default policy (`admin`/`edit`/`view`, controller and node roles).

mod bootstrap;
mod forbidden;
mod rule;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

pub(crate) use bootstrap::bootstrap_objects;
pub(crate) use forbidden::forbidden_status;
use rule::PolicyRule;

use crate::validation::go_quote;

/// Group whose members may do anything (`user.SystemPrivilegedGroup`).
pub(crate) const SYSTEM_MASTERS: &str = "system:masters";
/// Group every authenticated user carries (`user.AllAuthenticated`).
pub(crate) const ALL_AUTHENTICATED: &str = "system:authenticated";
/// Group of anonymous requests (`user.AllUnauthenticated`).
pub(crate) const ALL_UNAUTHENTICATED: &str = "system:unauthenticated";
/// User name of anonymous requests (`user.Anonymous`).
pub(crate) const ANONYMOUS: &str = "system:anonymous";
/// Prefix of service account user names: `system:serviceaccount:<namespace>:<name>`.
const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// An authenticated (or anonymous) user, as the authenticator hands it to the authorizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserInfo {
    pub(crate) name: String,
    pub(crate) groups: Vec<String>,
}

impl UserInfo {
    /// A user from a static token: `groups` as listed, plus `system:authenticated` appended
    /// unless the list already carries `system:authenticated` or `system:unauthenticated`
    /// (apiserver's `AuthenticatedGroupAdder`).
    pub(crate) fn authenticated(name: impl Into<String>, mut groups: Vec<String>) -> Self {
        if !groups
            .iter()
            .any(|g| g == ALL_AUTHENTICATED || g == ALL_UNAUTHENTICATED)
        {
            groups.push(ALL_AUTHENTICATED.to_owned());
        }
        Self {
            name: name.into(),
            groups,
        }
    }

    /// The identity of a service account token: `system:serviceaccount:<ns>:<name>` in
    /// `system:serviceaccounts`, `system:serviceaccounts:<ns>` and `system:authenticated`.
    pub(crate) fn service_account(namespace: &str, name: &str) -> Self {
        Self {
            name: format!("{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".to_owned(),
                format!("system:serviceaccounts:{namespace}"),
                ALL_AUTHENTICATED.to_owned(),
            ],
        }
    }

    /// The identity of a request without credentials.
    pub(crate) fn anonymous() -> Self {
        Self {
            name: ANONYMOUS.to_owned(),
            groups: vec![ALL_UNAUTHENTICATED.to_owned()],
        }
    }
}

/// What a request asks to do, like apiserver's `authorizer.Attributes`. Borrowed so that the
/// per-request path does not allocate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attributes<'a> {
    pub(crate) user: &'a UserInfo,
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, or any
    /// other RBAC verb (`impersonate`, `bind`, ...). Non-resource requests use the lower-cased
    /// HTTP method (`get` for discovery).
    pub(crate) verb: &'a str,
    pub(crate) request: Request<'a>,
}

/// The object of a request: an API resource, or a plain URL path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request<'a> {
    Resource(ResourceRequest<'a>),
    /// `/version`, `/api`, `/apis/...`, `/openapi/v2`, `/healthz`...
    NonResource {
        path: &'a str,
    },
}

/// A resource request. Empty strings mean "absent", as in Kubernetes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ResourceRequest<'a> {
    /// Empty for cluster-scoped resources and for requests across all namespaces.
    pub(crate) namespace: &'a str,
    /// Empty for the core group.
    pub(crate) api_group: &'a str,
    pub(crate) resource: &'a str,
    pub(crate) subresource: &'a str,
    /// Empty for create (except named subresources such as `pods/eviction`) and for
    /// collection requests; a list/watch with `fieldSelector=metadata.name=x` carries `x`.
    pub(crate) name: &'a str,
}

impl<'a> Attributes<'a> {
    pub(crate) fn resource(
        user: &'a UserInfo,
        verb: &'a str,
        request: ResourceRequest<'a>,
    ) -> Self {
        Self {
            user,
            verb,
            request: Request::Resource(request),
        }
    }

    pub(crate) fn non_resource(user: &'a UserInfo, verb: &'a str, path: &'a str) -> Self {
        Self {
            user,
            verb,
            request: Request::NonResource { path },
        }
    }

    /// The namespace RoleBindings are looked up in: empty for non-resource requests.
    fn namespace(&self) -> &'a str {
        match self.request {
            Request::Resource(r) => r.namespace,
            Request::NonResource { .. } => "",
        }
    }
}

/// The authorizer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    Allow,
    /// `reason` is empty, or `RBAC: <resolution errors>` when a binding that applies to the user
    /// names a role that does not exist; it is appended to the 403 message after `": "`.
    Deny {
        reason: String,
    },
}

/// A binding with its role reference resolved when the snapshot was built.
#[derive(Debug)]
struct Binding {
    /// The referenced role's rules, or the error Kubernetes reports when resolving it fails.
    rules: Result<Arc<[PolicyRule]>, String>,
}

/// The stored roles' rules by (namespace, name) and cluster roles' by name.
#[derive(Debug, Default)]
struct RoleTables {
    roles: HashMap<(String, String), Arc<[PolicyRule]>>,
    cluster_roles: HashMap<String, Arc<[PolicyRule]>>,
}

impl RoleTables {
    /// `GetRoleReferenceRules`: a Role is looked up in the binding's namespace, a ClusterRole by
    /// name; failures carry the text of the lister's NotFound error.
    fn resolve(
        &self,
        role_ref: Option<&Value>,
        namespace: &str,
    ) -> Result<Arc<[PolicyRule]>, String> {
        let field = |key: &str| {
            role_ref
                .and_then(|r| r.get(key))
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        let name = field("name");
        // The listers' NotFound errors name the singular resource.
        let (found, singular) = match field("kind") {
            "Role" => (
                self.roles.get(&(namespace.to_owned(), name.to_owned())),
                "role",
            ),
            "ClusterRole" => (self.cluster_roles.get(name), "clusterrole"),
            other => {
                return Err(format!(
                    "unsupported role reference kind: {}",
                    go_quote(other)
                ));
            }
        };
        found.cloned().ok_or_else(|| {
            format!(
                "{singular}.rbac.authorization.k8s.io {} not found",
                go_quote(name)
            )
        })
    }
}

/// Bindings of one scope (cluster, or one namespace) indexed by subject. Service account
/// subjects are indexed under their user name, which is exactly what RBAC compares.
#[derive(Debug, Default)]
struct SubjectIndex {
    users: HashMap<String, Vec<usize>>,
    groups: HashMap<String, Vec<usize>>,
}

impl SubjectIndex {
    fn insert(&mut self, by_user: bool, key: String, binding: usize) {
        let map = if by_user {
            &mut self.users
        } else {
            &mut self.groups
        };
        let slot = map.entry(key).or_default();
        if slot.last() != Some(&binding) {
            slot.push(binding);
        }
    }

    /// Indexes of the bindings naming this user or one of its groups (possibly repeated).
    fn matching<'s>(&'s self, user: &'s UserInfo) -> impl Iterator<Item = usize> + 's {
        let by_name = self.users.get(user.name.as_str()).into_iter().flatten();
        let by_group = user
            .groups
            .iter()
            .filter_map(|g| self.groups.get(g.as_str()))
            .flatten();
        by_name.chain(by_group).copied()
    }
}

/// All RBAC objects of the cluster, compiled for per-request authorization.
#[derive(Debug, Default)]
pub(crate) struct RbacSnapshot {
    bindings: Vec<Binding>,
    cluster: SubjectIndex,
    namespaces: HashMap<String, SubjectIndex>,
}

impl RbacSnapshot {
    /// Compiles the stored objects (JSON as the API serves them). Malformed entries are skipped
    /// rather than rejected: the API server validated them on the way in.
    pub(crate) fn from_objects<'v>(
        roles: impl IntoIterator<Item = &'v Value>,
        cluster_roles: impl IntoIterator<Item = &'v Value>,
        role_bindings: impl IntoIterator<Item = &'v Value>,
        cluster_role_bindings: impl IntoIterator<Item = &'v Value>,
    ) -> Self {
        let mut tables = RoleTables::default();
        for role in roles {
            if let (Some(ns), Some(name)) = (meta_str(role, "namespace"), meta_str(role, "name")) {
                tables
                    .roles
                    .insert((ns.to_owned(), name.to_owned()), parse_rules(role));
            }
        }
        for role in cluster_roles {
            if let Some(name) = meta_str(role, "name") {
                tables
                    .cluster_roles
                    .insert(name.to_owned(), parse_rules(role));
            }
        }

        let mut snapshot = Self::default();
        // Sorted by (namespace, name) so that resolution errors are reported in a stable order.
        let mut sorted_crbs: Vec<&Value> = cluster_role_bindings.into_iter().collect();
        sorted_crbs.sort_by(|a, b| meta_str(a, "name").cmp(&meta_str(b, "name")));
        for crb in sorted_crbs {
            let index = snapshot.bindings.len();
            snapshot.bindings.push(Binding {
                rules: tables.resolve(crb.get("roleRef"), ""),
            });
            index_subjects(&mut snapshot.cluster, crb, "", index);
        }
        let mut sorted_rbs: Vec<(&str, &Value)> = role_bindings
            .into_iter()
            .filter_map(|rb| {
                meta_str(rb, "namespace")
                    .filter(|ns| !ns.is_empty())
                    .map(|ns| (ns, rb))
            })
            .collect();
        sorted_rbs.sort_by(|(ns_a, a), (ns_b, b)| {
            (ns_a, meta_str(a, "name")).cmp(&(ns_b, meta_str(b, "name")))
        });
        for (ns, rb) in sorted_rbs {
            let index = snapshot.bindings.len();
            snapshot.bindings.push(Binding {
                rules: tables.resolve(rb.get("roleRef"), ns),
            });
            index_subjects(
                snapshot.namespaces.entry(ns.to_owned()).or_default(),
                rb,
                ns,
                index,
            );
        }
        snapshot
    }

    /// A snapshot of a fresh cluster: [`bootstrap_objects`] only.
    pub(crate) fn bootstrap() -> Self {
        let objects = bootstrap_objects();
        let of_kind = |kind: &'static str| {
            objects
                .iter()
                .filter(move |o| o.get("kind").and_then(Value::as_str) == Some(kind))
        };
        Self::from_objects(
            of_kind("Role"),
            of_kind("ClusterRole"),
            of_kind("RoleBinding"),
            of_kind("ClusterRoleBinding"),
        )
    }

    /// Indexes of the bindings that apply to `user` in `namespace`: ClusterRoleBindings, then
    /// RoleBindings of the namespace (none when it is empty: cluster-scoped and non-resource
    /// requests). A binding naming the user several ways is yielded several times.
    fn applicable<'s>(
        &'s self,
        user: &'s UserInfo,
        namespace: &str,
    ) -> impl Iterator<Item = usize> + 's {
        let scoped = if namespace.is_empty() {
            None
        } else {
            self.namespaces.get(namespace)
        };
        std::iter::once(&self.cluster)
            .chain(scoped)
            .flat_map(move |index| index.matching(user))
    }

    /// The bindings that apply to the request's user in the request's namespace.
    fn applicable_to<'s>(
        &'s self,
        attrs: &Attributes<'s>,
    ) -> impl Iterator<Item = &'s Binding> + 's {
        self.applicable(attrs.user, attrs.namespace())
            .filter_map(|i| self.bindings.get(i))
    }

    /// Decides one request. Allocation-free unless the answer is a denial with resolution errors.
    pub(crate) fn authorize(&self, attrs: &Attributes<'_>) -> Decision {
        if attrs.user.groups.iter().any(|g| g == SYSTEM_MASTERS) {
            return Decision::Allow;
        }
        let mut resolution_errors = false;
        for binding in self.applicable_to(attrs) {
            match &binding.rules {
                Ok(rules) => {
                    if rules.iter().any(|rule| rule.allows(attrs)) {
                        return Decision::Allow;
                    }
                }
                Err(_) => resolution_errors = true,
            }
        }
        if !resolution_errors {
            return Decision::Deny {
                reason: String::new(),
            };
        }
        let errors = self
            .applicable_to(attrs)
            .filter_map(|b| b.rules.as_ref().err().map(String::as_str));
        Decision::Deny {
            reason: format!("RBAC: {}", aggregate(errors)),
        }
    }
}

/// `utilerrors.NewAggregate(errs).Error()`: duplicates dropped, a single message bare, several
/// joined by `, ` in brackets.
fn aggregate<'e>(errors: impl IntoIterator<Item = &'e str>) -> String {
    let mut unique: Vec<&str> = Vec::new();
    for e in errors {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    let joined = unique.join(", ");
    if unique.len() == 1 {
        joined
    } else {
        format!("[{joined}]")
    }
}

fn meta_str<'v>(obj: &'v Value, key: &str) -> Option<&'v str> {
    obj.get("metadata")?.get(key)?.as_str()
}

fn parse_rules(role: &Value) -> Arc<[PolicyRule]> {
    role.get("rules")
        .and_then(Value::as_array)
        .map(|rules| rules.iter().map(PolicyRule::from_value).collect())
        .unwrap_or_else(|| Arc::from(Vec::new()))
}

/// `appliesToUser` folded into the index: User and Group by name; ServiceAccount by its user
/// name, its namespace defaulting to the binding's (a ClusterRoleBinding's service account
/// subject without a namespace matches nobody). Other kinds match nobody.
fn index_subjects(index: &mut SubjectIndex, binding: &Value, binding_namespace: &str, at: usize) {
    let Some(subjects) = binding.get("subjects").and_then(Value::as_array) else {
        return;
    };
    for subject in subjects {
        let field = |key: &str| subject.get(key).and_then(Value::as_str).unwrap_or("");
        let name = field("name");
        match field("kind") {
            "User" => index.insert(true, name.to_owned(), at),
            "Group" => index.insert(false, name.to_owned(), at),
            "ServiceAccount" => {
                let ns = match field("namespace") {
                    "" => binding_namespace,
                    ns => ns,
                };
                if !ns.is_empty() {
                    index.insert(true, format!("{SERVICE_ACCOUNT_PREFIX}{ns}:{name}"), at);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
