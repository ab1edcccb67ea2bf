//! A tenant's edits of a workflow's status between two reconciles.

use super::*;

/// A tenant's edit of the status between two reconciles (Argo's CRD lets them write it).
#[derive(Debug, Clone)]
pub(super) enum Edit {
    /// A node's children (or outbound nodes) name the node itself, another node, or nothing.
    Edge {
        node: prop::sample::Index,
        to: Option<prop::sample::Index>,
        dangling: String,
        outbound: bool,
    },
    /// A node moves to another cluster, namespace or pod name.
    Place {
        node: prop::sample::Index,
        cluster: Option<String>,
        namespace: Option<String>,
        pod_name: Option<String>,
    },
    Phase {
        node: prop::sample::Index,
        phase: &'static str,
    },
    Remove {
        node: prop::sample::Index,
    },
    Shutdown(&'static str),
    Garbage {
        node: prop::sample::Index,
        field: &'static str,
    },
}

pub(super) fn edit() -> BoxedStrategy<Edit> {
    let index = any::<prop::sample::Index>;
    prop_oneof![
        3 => (index(), prop::option::of(index()), any_node_id(), any::<bool>())
            .prop_map(|(node, to, dangling, outbound)| Edit::Edge { node, to, dangling, outbound }),
        3 => (index(), prop::option::of(name()), prop::option::of(name()), prop::option::of(name()))
            .prop_map(|(node, cluster, namespace, pod_name)| Edit::Place { node, cluster, namespace, pod_name }),
        2 => (index(), node_phase()).prop_map(|(node, phase)| Edit::Phase { node, phase }),
        1 => index().prop_map(|node| Edit::Remove { node }),
        1 => select(&["Stop", "Terminate", "x"][..]).prop_map(Edit::Shutdown),
        1 => (index(), select(&["phase", "children", "type", "startedAt", "outputs"][..]))
            .prop_map(|(node, field)| Edit::Garbage { node, field }),
    ]
    .boxed()
}

pub(super) fn apply_edit(value: &mut Value, edit: &Edit) {
    if let Edit::Shutdown(how) = edit {
        value["spec"]["shutdown"] = json!(how);
        return;
    }
    let Some(nodes) = value
        .get_mut("status")
        .and_then(|s| s.get_mut("nodes"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let ids: Vec<String> = nodes.keys().cloned().collect();
    if ids.is_empty() {
        return;
    }
    let pick = |i: &prop::sample::Index| ids[i.index(ids.len())].clone();
    match edit {
        Edit::Edge {
            node,
            to,
            dangling,
            outbound,
        } => {
            let id = pick(node);
            let target = to.as_ref().map_or_else(|| dangling.clone(), &pick);
            let field = if *outbound {
                "outboundNodes"
            } else {
                "children"
            };
            let edges = &mut nodes[&id][field];
            match edges.as_array_mut() {
                Some(edges) => edges.push(target.into()),
                None => *edges = json!([target]),
            }
        }
        Edit::Place {
            node,
            cluster,
            namespace,
            pod_name,
        } => {
            let n = &mut nodes[&pick(node)];
            n["cluster"] = json!(cluster);
            n["namespace"] = json!(namespace);
            n["podName"] = json!(pod_name);
        }
        Edit::Phase { node, phase } => nodes[&pick(node)]["phase"] = json!(phase),
        Edit::Remove { node } => {
            nodes.remove(&pick(node));
        }
        Edit::Garbage { node, field } => nodes[&pick(node)][*field] = json!(7),
        Edit::Shutdown(_) => {}
    }
}
