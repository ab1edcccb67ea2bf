//! The per-kind column catalogue: the columns `printers.go` prints for each built-in resource.

use super::{Column, Columns, NAME_DESCRIPTION, Printer, age_col, name_col};

impl Columns {
    /// The built-in column set for a resource of a built-in API group (`""` for core), or the
    /// default columns for one without a printer.
    pub(crate) fn for_resource(group: &str, resource: &str) -> Columns {
        let c = |name: &str, ty: &str, prio: i32, desc: &str| Column::new(name, ty, prio, desc);
        let (defs, printer) = match (group, resource) {
            ("", "pods") => (
                vec![
                    name_col(),
                    c(
                        "Ready",
                        "string",
                        0,
                        "The aggregate readiness state of this pod for accepting traffic.",
                    ),
                    c(
                        "Status",
                        "string",
                        0,
                        "The aggregate status of the containers in this pod.",
                    ),
                    c(
                        "Restarts",
                        "string",
                        0,
                        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
                    ),
                    age_col(),
                    c("IP", "string", 1, "podIP address allocated to the pod."),
                    c(
                        "Node",
                        "string",
                        1,
                        "NodeName indicates in which node this pod is scheduled.",
                    ),
                    c(
                        "Nominated Node",
                        "string",
                        1,
                        "nominatedNodeName is set when this pod preempts other pods on the node.",
                    ),
                    c(
                        "Readiness Gates",
                        "string",
                        1,
                        "If specified, all readiness gates will be evaluated for pod readiness.",
                    ),
                ],
                Printer::Pod,
            ),
            ("", "namespaces") => (
                vec![
                    name_col(),
                    c("Status", "string", 0, "The status of the namespace"),
                    age_col(),
                ],
                Printer::Namespace,
            ),
            ("", "configmaps") => (
                vec![
                    name_col(),
                    c("Data", "string", 0, "Data contains the configuration data."),
                    age_col(),
                ],
                Printer::ConfigMap,
            ),
            ("", "secrets") => (
                vec![
                    name_col(),
                    c(
                        "Type",
                        "string",
                        0,
                        "Used to facilitate programmatic handling of secret data.",
                    ),
                    c("Data", "string", 0, "Data contains the secret data."),
                    age_col(),
                ],
                Printer::Secret,
            ),
            ("", "serviceaccounts") => (
                vec![
                    name_col(),
                    c(
                        "Secrets",
                        "string",
                        0,
                        "Secrets is a list of the secrets in the same namespace.",
                    ),
                    age_col(),
                ],
                Printer::ServiceAccount,
            ),
            ("", "events") | ("events.k8s.io", "events") => (
                vec![
                    c(
                        "Last Seen",
                        "string",
                        0,
                        "The time at which the most recent occurrence of this event was recorded.",
                    ),
                    c(
                        "Type",
                        "string",
                        0,
                        "Type of this event (Normal, Warning), new types could be added in the future",
                    ),
                    c(
                        "Reason",
                        "string",
                        0,
                        "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
                    ),
                    c(
                        "Object",
                        "string",
                        0,
                        "The object that this event is about.",
                    ),
                    c(
                        "Subobject",
                        "string",
                        1,
                        "The field of the object the event is about.",
                    ),
                    c("Source", "string", 1, "The component reporting this event."),
                    c(
                        "Message",
                        "string",
                        0,
                        "A human-readable description of the status of this operation.",
                    ),
                    c(
                        "First Seen",
                        "string",
                        1,
                        "The time at which the event was first recorded.",
                    ),
                    c(
                        "Count",
                        "string",
                        1,
                        "The number of times this event has occurred.",
                    ),
                    c("Name", "string", 1, NAME_DESCRIPTION),
                ],
                Printer::Event,
            ),
            ("coordination.k8s.io", "leases") => (
                vec![
                    name_col(),
                    c(
                        "Holder",
                        "string",
                        0,
                        "holderIdentity contains the identity of the holder of a current lease.",
                    ),
                    age_col(),
                ],
                Printer::Lease,
            ),
            ("", "nodes") => (
                vec![
                    name_col(),
                    c("Status", "string", 0, "The status of the node"),
                    c("Roles", "string", 0, "The roles of the node"),
                    age_col(),
                    c(
                        "Version",
                        "string",
                        0,
                        "Kubelet Version reported by the node.",
                    ),
                    c(
                        "Internal-IP",
                        "string",
                        1,
                        "List of addresses reachable to the node.",
                    ),
                    c(
                        "External-IP",
                        "string",
                        1,
                        "List of addresses reachable to the node.",
                    ),
                    c(
                        "OS-Image",
                        "string",
                        1,
                        "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
                    ),
                    c(
                        "Kernel-Version",
                        "string",
                        1,
                        "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
                    ),
                    c(
                        "Container-Runtime",
                        "string",
                        1,
                        "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
                    ),
                ],
                Printer::Node,
            ),
            ("rbac.authorization.k8s.io", "rolebindings")
            | ("rbac.authorization.k8s.io", "clusterrolebindings") => {
                let what = if resource == "rolebindings" {
                    "roleBinding"
                } else {
                    "clusterRoleBinding"
                };
                (
                    vec![
                        name_col(),
                        c(
                            "Role",
                            "string",
                            0,
                            "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.",
                        ),
                        age_col(),
                        c("Users", "string", 1, &format!("Users in the {what}")),
                        c("Groups", "string", 1, &format!("Groups in the {what}")),
                        c(
                            "ServiceAccounts",
                            "string",
                            1,
                            &format!("ServiceAccounts in the {what}"),
                        ),
                    ],
                    Printer::RoleBinding,
                )
            }
            _ => return Columns::default_columns(),
        };
        Columns { defs, printer }
    }
}
