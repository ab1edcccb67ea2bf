//! Strategic-merge-patch metadata for the kinds the simulator serves: the Go struct tags
//! `patchStrategy:"merge"` / `patchMergeKey:"..."` of `k8s.io/api`, as data.
//!
//! Only fields whose patch behaviour differs from the default need an entry, plus the path
//! of structs leading to them. A field absent from its struct's table behaves as an untagged
//! Go field: an object merges key by key and a list is replaced atomically. Checked against
//! `k8s.io/api` (core/v1, rbac/v1, coordination/v1, events/v1) and
//! `k8s.io/apimachinery/pkg/apis/meta/v1` as of Kubernetes 1.33.

/// How a strategic merge patch treats one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// No patch strategy: objects merge recursively, lists are replaced as a whole.
    Default,
    /// `patchStrategy:"merge"` with `patchMergeKey`: a list of objects merged element-wise
    /// by the named key (also covers `merge,retainKeys`; `retainKeys` only changes what
    /// clients generate, the server honours a `$retainKeys` directive wherever it appears).
    MergeKey(&'static str),
    /// `patchStrategy:"merge"` without a key: a list of primitives merged as a set.
    MergeSet,
}

impl Strategy {
    /// The `patchMergeKey`, empty when there is none (as Go's lookup returns it).
    pub(crate) fn merge_key(self) -> &'static str {
        match self {
            Strategy::MergeKey(key) => key,
            Strategy::Default | Strategy::MergeSet => "",
        }
    }
}

/// One tagged field (or a field on the way to tagged fields) of a Go struct.
#[derive(Debug)]
pub(crate) struct Field {
    /// JSON field name.
    pub(crate) name: &'static str,
    pub(crate) strategy: Strategy,
    /// The table of the struct the field holds — for a list, of each element.
    pub(crate) fields: Struct,
}

/// The patch metadata of one Go struct: its fields that are tagged or lead to tagged fields.
pub(crate) type Struct = &'static [Field];

const fn nested(name: &'static str, fields: Struct) -> Field {
    Field {
        name,
        strategy: Strategy::Default,
        fields,
    }
}

const fn by_key(name: &'static str, key: &'static str, fields: Struct) -> Field {
    Field {
        name,
        strategy: Strategy::MergeKey(key),
        fields,
    }
}

const fn set(name: &'static str) -> Field {
    Field {
        name,
        strategy: Strategy::MergeSet,
        fields: &[],
    }
}

/// `metav1.ObjectMeta`: `managedFields` has no tag, so it is atomic.
const OBJECT_META: Struct = &[set("finalizers"), by_key("ownerReferences", "uid", &[])];

/// `corev1.Container` (and `EphemeralContainerCommon`, which has the same tags).
/// `envFrom`, `resizePolicy`, `args`, `command` are untagged, hence atomic.
const CONTAINER: Struct = &[
    by_key("ports", "containerPort", &[]),
    by_key("env", "name", &[]),
    by_key("volumeMounts", "mountPath", &[]),
    by_key("volumeDevices", "devicePath", &[]),
];

/// `corev1.PodSpec`: `tolerations`, `readinessGates` and the affinity terms are untagged.
const POD_SPEC: Struct = &[
    by_key("volumes", "name", &[]),
    by_key("initContainers", "name", CONTAINER),
    by_key("containers", "name", CONTAINER),
    by_key("ephemeralContainers", "name", CONTAINER),
    by_key("imagePullSecrets", "name", &[]),
    by_key("hostAliases", "ip", &[]),
    by_key("topologySpreadConstraints", "topologyKey", &[]),
    by_key("schedulingGates", "name", &[]),
    by_key("resourceClaims", "name", &[]),
];

/// `corev1.PodStatus`: the container status lists are untagged, hence atomic.
const POD_STATUS: Struct = &[
    by_key("conditions", "type", &[]),
    by_key("podIPs", "ip", &[]),
    by_key("hostIPs", "ip", &[]),
    by_key("resourceClaimStatuses", "name", &[]),
];

const POD: Struct = &[
    nested("metadata", OBJECT_META),
    nested("spec", POD_SPEC),
    nested("status", POD_STATUS),
];

/// `corev1.ServiceAccount`: `secrets` merges by name, `imagePullSecrets` is untagged.
const SERVICE_ACCOUNT: Struct = &[
    nested("metadata", OBJECT_META),
    by_key("secrets", "name", &[]),
];

/// `corev1.Namespace`: `spec.finalizers` is untagged (atomic), unlike `metadata.finalizers`.
const NAMESPACE: Struct = &[
    nested("metadata", OBJECT_META),
    nested("status", &[by_key("conditions", "type", &[])]),
];

/// `corev1.Node`: `spec.taints` is untagged; `spec.podCIDRs` is a merged set.
const NODE: Struct = &[
    nested("metadata", OBJECT_META),
    nested("spec", &[set("podCIDRs")]),
    nested(
        "status",
        &[
            by_key("conditions", "type", &[]),
            by_key("addresses", "type", &[]),
        ],
    ),
];

/// Kinds whose only tagged fields are in `metadata`: ConfigMap, Secret, Event, Lease and
/// the RBAC kinds (`rules`, `subjects`, `aggregationRule` are untagged, hence atomic).
const METADATA_ONLY: Struct = &[nested("metadata", OBJECT_META)];

/// The patch metadata of a built-in kind, `None` for kinds without Go structs (custom
/// resources), for which the API server refuses strategic merge patch with 415.
pub(crate) fn lookup(group: &str, kind: &str) -> Option<Struct> {
    let table = match (group, kind) {
        ("", "Pod") => POD,
        ("", "ServiceAccount") => SERVICE_ACCOUNT,
        ("", "Namespace") => NAMESPACE,
        ("", "Node") => NODE,
        ("", "ConfigMap" | "Secret" | "Event")
        | ("events.k8s.io", "Event")
        | ("coordination.k8s.io", "Lease")
        | (
            "rbac.authorization.k8s.io",
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding",
        ) => METADATA_ONLY,
        _ => return None,
    };
    Some(table)
}

/// The field table server-side apply types a kind with: its strategic-merge table, or for a
/// custom resource that of `ObjectMeta` alone (its finalizers a set, its owner references
/// keyed by uid, as for every kind) with every other list atomic.
pub(crate) fn apply_table(group: &str, kind: &str) -> Struct {
    lookup(group, kind).unwrap_or(METADATA_ONLY)
}

/// The strategy of field `name` in `table` and the table of the struct it holds; an
/// unknown field is untagged with nothing tagged below it.
pub(crate) fn field(table: Struct, name: &str) -> (Strategy, Struct) {
    table
        .iter()
        .find(|f| f.name == name)
        .map_or((Strategy::Default, &[]), |f| (f.strategy, f.fields))
}
