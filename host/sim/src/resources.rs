//! The catalogue of resource types a simulated cluster serves: the built-in ones a fresh cluster
//! has, plus one entry per served version of every established CustomResourceDefinition.
//!
//! Discovery, routing, storage and printing all read this one table, so a CRD's resources appear
//! everywhere at once when it is established and disappear when it is deleted.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::table::Columns;

/// Which built-in Kubernetes type a resource holds; decides typed round-tripping, defaults and
/// validation. Custom resources have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Builtin {
    Pod,
    Binding,
    ConfigMap,
    Secret,
    Namespace,
    ServiceAccount,
    CoreEvent,
    Event,
    Node,
    PersistentVolumeClaim,
    Service,
    Lease,
    CustomResourceDefinition,
    Role,
    ClusterRole,
    RoleBinding,
    ClusterRoleBinding,
}

/// One served resource at one group/version.
#[derive(Debug, Clone)]
pub(crate) struct ResourceType {
    pub(crate) group: String,
    pub(crate) version: String,
    /// The version objects are stored at; reads at another version only rewrite `apiVersion`
    /// (the `None` conversion strategy, which is all the simulator supports).
    pub(crate) storage_version: String,
    pub(crate) plural: String,
    pub(crate) singular: String,
    pub(crate) kind: String,
    pub(crate) list_kind: String,
    pub(crate) short_names: Vec<String>,
    pub(crate) categories: Vec<String>,
    pub(crate) namespaced: bool,
    pub(crate) status_subresource: bool,
    pub(crate) builtin: Option<Builtin>,
    /// Storage key shared by every version of the resource, e.g. `pods` or `workflows.argoproj.io`.
    /// Two API views of one storage (core and events.k8s.io Events) share a key too.
    pub(crate) storage: Arc<str>,
    /// For custom resources: the version's `schema.openAPIV3Schema`.
    pub(crate) schema: Option<Arc<crate::schema::StructuralSchema>>,
    pub(crate) columns: Arc<Columns>,
}

impl ResourceType {
    pub(crate) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub(crate) fn verbs(&self) -> &'static [&'static str] {
        match self.builtin {
            Some(Builtin::Binding) => &["create"],
            _ => &[
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ],
        }
    }

    /// Subresources served for this resource, with the verbs discovery lists for them.
    pub(crate) fn subresources(&self) -> Vec<(&'static str, &'static [&'static str])> {
        let mut subs = Vec::new();
        if self.status_subresource {
            subs.push(("status", &["get", "patch", "update"][..]));
        }
        match self.builtin {
            Some(Builtin::Pod) => {
                subs.push(("log", &["get"][..]));
                subs.push(("binding", &["create"][..]));
            }
            Some(Builtin::ServiceAccount) => subs.push(("token", &["create"][..])),
            _ => {}
        }
        subs
    }
}

struct Spec {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    short: &'static [&'static str],
    namespaced: bool,
    status: bool,
    builtin: Builtin,
    storage: &'static str,
}

const BUILTINS: &[Spec] = &[
    Spec {
        group: "",
        version: "v1",
        plural: "pods",
        kind: "Pod",
        short: &["po"],
        namespaced: true,
        status: true,
        builtin: Builtin::Pod,
        storage: "pods",
    },
    Spec {
        group: "",
        version: "v1",
        plural: "bindings",
        kind: "Binding",
        short: &[],
        namespaced: true,
        status: false,
        builtin: Builtin::Binding,
        storage: "bindings",
    },
    Spec {
        group: "",
        version: "v1",
        plural: "configmaps",
        kind: "ConfigMap",
        short: &["cm"],
        namespaced: true,
        status: false,
        builtin: Builtin::ConfigMap,
        storage: "configmaps",
    },
    Spec {
        group: "",
        version: "v1",
        plural: "secrets",
        kind: "Secret",
        short: &[],
        namespaced: true,
        status: false,
        builtin: Builtin::Secret,
        storage: "secrets",
    },
    Spec {
        group: "",
        version: "v1",
        plural: "namespaces",
        kind: "Namespace",
        short: &["ns"],
        namespaced: false,
        status: true,
        builtin: Builtin::Namespace,
        storage: "namespaces",
    },
    Spec {
        group: "",
        version: "v1",
        plural: "serviceaccounts",
        kind: "ServiceAccount",
        short: &["sa"],
        namespaced: true,
        status: false,
        builtin: Builtin::ServiceAccount,
        storage: "serviceaccounts",
    },
    Spec {
        group: "",
        version: "v1",
        plural: "events",
        kind: "Event",
        short: &["ev"],
        namespaced: true,
        status: false,
        builtin: Builtin::CoreEvent,
        storage: "events",
    },
    Spec {
        group: "",
        version: "v1",
        plural: "nodes",
        kind: "Node",
        short: &["no"],
        namespaced: false,
        status: true,
        builtin: Builtin::Node,
        storage: "nodes",
    },
    Spec {
        group: "",
        version: "v1",
        plural: "persistentvolumeclaims",
        kind: "PersistentVolumeClaim",
        short: &["pvc"],
        namespaced: true,
        status: true,
        builtin: Builtin::PersistentVolumeClaim,
        storage: "persistentvolumeclaims",
    },
    Spec {
        group: "",
        version: "v1",
        plural: "services",
        kind: "Service",
        short: &["svc"],
        namespaced: true,
        status: true,
        builtin: Builtin::Service,
        storage: "services",
    },
    Spec {
        group: "events.k8s.io",
        version: "v1",
        plural: "events",
        kind: "Event",
        short: &["ev"],
        namespaced: true,
        status: false,
        builtin: Builtin::Event,
        storage: "events",
    },
    Spec {
        group: "coordination.k8s.io",
        version: "v1",
        plural: "leases",
        kind: "Lease",
        short: &[],
        namespaced: true,
        status: false,
        builtin: Builtin::Lease,
        storage: "leases.coordination.k8s.io",
    },
    Spec {
        group: "apiextensions.k8s.io",
        version: "v1",
        plural: "customresourcedefinitions",
        kind: "CustomResourceDefinition",
        short: &["crd", "crds"],
        namespaced: false,
        status: true,
        builtin: Builtin::CustomResourceDefinition,
        storage: "customresourcedefinitions.apiextensions.k8s.io",
    },
    Spec {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "roles",
        kind: "Role",
        short: &[],
        namespaced: true,
        status: false,
        builtin: Builtin::Role,
        storage: "roles.rbac.authorization.k8s.io",
    },
    Spec {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "clusterroles",
        kind: "ClusterRole",
        short: &[],
        namespaced: false,
        status: false,
        builtin: Builtin::ClusterRole,
        storage: "clusterroles.rbac.authorization.k8s.io",
    },
    Spec {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "rolebindings",
        kind: "RoleBinding",
        short: &[],
        namespaced: true,
        status: false,
        builtin: Builtin::RoleBinding,
        storage: "rolebindings.rbac.authorization.k8s.io",
    },
    Spec {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "clusterrolebindings",
        kind: "ClusterRoleBinding",
        short: &[],
        namespaced: false,
        status: false,
        builtin: Builtin::ClusterRoleBinding,
        storage: "clusterrolebindings.rbac.authorization.k8s.io",
    },
];

/// Key of a served resource in the catalogue: (group, version, plural).
type Key = (String, String, String);

/// An immutable snapshot of what the cluster serves. Replaced wholesale when a CRD changes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    by_path: BTreeMap<Key, Arc<ResourceType>>,
    /// Group → versions in preference order (discovery's `preferredVersion` is the first).
    groups: BTreeMap<String, Vec<String>>,
    /// Groups in the order discovery lists them (built-in groups first, as a real server does).
    group_order: Vec<String>,
}

impl Catalog {
    pub(crate) fn builtin() -> Self {
        let mut catalog = Catalog::default();
        for spec in BUILTINS {
            let rt = ResourceType {
                group: spec.group.into(),
                version: spec.version.into(),
                storage_version: spec.version.into(),
                plural: spec.plural.into(),
                singular: spec.kind.to_lowercase(),
                kind: spec.kind.into(),
                list_kind: format!("{}List", spec.kind),
                short_names: spec.short.iter().map(|s| s.to_string()).collect(),
                categories: Vec::new(),
                namespaced: spec.namespaced,
                status_subresource: spec.status,
                builtin: Some(spec.builtin),
                storage: Arc::from(spec.storage),
                schema: None,
                columns: Arc::new(Columns::for_resource(spec.group, spec.plural)),
            };
            catalog.insert(rt);
        }
        catalog
    }

    fn insert(&mut self, rt: ResourceType) {
        if !self.group_order.contains(&rt.group) {
            self.group_order.push(rt.group.clone());
        }
        let versions = self.groups.entry(rt.group.clone()).or_default();
        if !versions.contains(&rt.version) {
            versions.push(rt.version.clone());
        }
        self.by_path.insert(
            (rt.group.clone(), rt.version.clone(), rt.plural.clone()),
            Arc::new(rt),
        );
    }

    /// A copy of this catalogue with the given CRD's served versions added (replacing any previous
    /// registration of the same CRD).
    pub(crate) fn with_crd(&self, crd: &Value) -> Catalog {
        let mut next = self.without_crd(crd);
        for rt in crate::crd::resource_types(crd) {
            next.insert(rt);
        }
        next
    }

    /// A copy of this catalogue without the given CRD's resources.
    pub(crate) fn without_crd(&self, crd: &Value) -> Catalog {
        let Some((group, plural)) = crate::crd::group_and_plural(crd) else {
            return self.clone();
        };
        let mut next = Catalog::default();
        for rt in self.by_path.values() {
            if rt.builtin.is_none() && rt.group == group && rt.plural == plural {
                continue;
            }
            next.insert((**rt).clone());
        }
        next
    }

    pub(crate) fn get(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<&Arc<ResourceType>> {
        self.by_path
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
    }

    /// Whether anything is served at this group/version (an unknown one is a 404 for every path).
    pub(crate) fn has_group_version(&self, group: &str, version: &str) -> bool {
        self.groups
            .get(group)
            .is_some_and(|v| v.iter().any(|x| x == version))
    }

    pub(crate) fn groups(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.group_order
            .iter()
            .filter_map(|g| self.groups.get(g).map(|v| (g.as_str(), v.as_slice())))
    }

    pub(crate) fn resources_in(
        &self,
        group: &str,
        version: &str,
    ) -> impl Iterator<Item = &Arc<ResourceType>> {
        self.by_path
            .values()
            .filter(move |rt| rt.group == group && rt.version == version)
    }

    /// Every served resource (all versions).
    pub(crate) fn all(&self) -> impl Iterator<Item = &Arc<ResourceType>> {
        self.by_path.values()
    }

    /// One representative (the storage version) per storage key: what the namespace cleaner and
    /// the garbage collector walk.
    pub(crate) fn storage_types(&self) -> Vec<Arc<ResourceType>> {
        let mut seen = BTreeMap::new();
        for rt in self.by_path.values() {
            if rt.version == rt.storage_version && rt.builtin != Some(Builtin::Event) {
                seen.entry(rt.storage.clone()).or_insert_with(|| rt.clone());
            }
        }
        seen.into_values().collect()
    }
}
