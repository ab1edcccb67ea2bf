//! Strategic merge patch: what `kubectl apply` sends, the directives, and the error wording.

use super::*;

/// The 3-way patch `kubectl apply` computes when the manifest drops label `tier`, adds
/// label `env`, and in container `app` drops env `B`, changes `A` and adds `D` first.
#[test]
fn kubectl_apply_patch_for_pod_env_and_labels() {
    let patch = json!({
        "metadata": {
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"new\":true}"},
            "labels": {"env": "prod", "tier": null}
        },
        "spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
            "containers": [{
                "$setElementOrder/env": [{"name": "D"}, {"name": "A"}, {"name": "C"}],
                "env": [
                    {"name": "D", "value": "4"},
                    {"name": "A", "value": "10"},
                    {"$patch": "delete", "name": "B"}
                ],
                "name": "app"
            }]
        }
    });
    let out = pod_smp(&live_pod(), patch);
    assert_eq!(
        out["metadata"]["labels"],
        json!({"app": "web", "env": "prod"})
    );
    assert_eq!(
        out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        json!("{\"new\":true}")
    );
    assert_eq!(
        out["spec"]["containers"],
        json!([
            {
                "name": "app",
                "image": "nginx:1",
                "env": [
                    {"name": "D", "value": "4"},
                    {"name": "A", "value": "10"},
                    {"name": "C", "value": "3"}
                ],
                "ports": [{"containerPort": 80, "protocol": "TCP"}]
            },
            {"name": "sidecar", "image": "busybox"}
        ])
    );
    // Untouched parts stay as they were.
    assert_eq!(out["status"], json!({"phase": "Running"}));
    assert_eq!(
        out["spec"]["tolerations"],
        live_pod()["spec"]["tolerations"]
    );
}

/// Without `$setElementOrder`, apimachinery's `mergeSortedSlice` puts a patch element that the
/// live list does not have before the server-only elements (kubectl patch adding a container
/// makes it the first one), and patch elements keep the patch's relative order.
#[test]
fn keyed_merge_without_order_directive_puts_patch_elements_first() {
    let patch = json!({"spec": {"containers": [
        {"name": "new", "image": "redis"},
        {"name": "app", "image": "nginx:2"}
    ]}});
    let out = pod_smp(&live_pod(), patch);
    let names: Vec<&str> = out["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["new", "app", "sidecar"]);
    assert_eq!(out["spec"]["containers"][1]["image"], json!("nginx:2"));
    assert_eq!(
        out["spec"]["containers"][1]["env"],
        live_pod()["spec"]["containers"][0]["env"]
    );
}

/// Server-only elements are interleaved by their live positions: `injected` sat before `b`
/// in the live list, so it stays before `b` even though `$setElementOrder` moves `b` first.
#[test]
fn set_element_order_places_server_only_elements_by_their_live_positions() {
    let original = json!({"spec": {"containers": [
        {"name": "a"}, {"name": "injected"}, {"name": "b"}
    ]}});
    let patch = json!({"spec": {
        "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
        "containers": [{"name": "b", "image": "x"}]
    }});
    let out = pod_smp(&original, patch);
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name": "injected"}, {"name": "b", "image": "x"}, {"name": "a"}])
    );
}

#[test]
fn null_deletes_a_map_key_and_absent_keys_are_ignored() {
    let patch =
        json!({"metadata": {"labels": {"tier": null, "missing": null}, "annotations": null}});
    let out = pod_smp(&live_pod(), patch);
    assert_eq!(out["metadata"]["labels"], json!({"app": "web"}));
    assert!(out["metadata"].get("annotations").is_none());
}

#[test]
fn finalizers_merge_as_a_set() {
    let patch = json!({"metadata": {"finalizers": ["example.com/b", "example.com/c"]}});
    let out = pod_smp(&live_pod(), patch);
    assert_eq!(
        out["metadata"]["finalizers"],
        json!(["example.com/a", "example.com/b", "example.com/c"])
    );
}

#[test]
fn finalizers_delete_from_primitive_list_with_element_order() {
    // What kubectl apply sends when the manifest's finalizers go from [a, b] to [c, b].
    let patch = json!({"metadata": {
        "$setElementOrder/finalizers": ["example.com/c", "example.com/b"],
        "$deleteFromPrimitiveList/finalizers": ["example.com/a"],
        "finalizers": ["example.com/c"]
    }});
    let out = pod_smp(&live_pod(), patch);
    assert_eq!(
        out["metadata"]["finalizers"],
        json!(["example.com/c", "example.com/b"])
    );

    let only_delete =
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/b"]}});
    let out = pod_smp(&live_pod(), only_delete);
    assert_eq!(out["metadata"]["finalizers"], json!(["example.com/a"]));
}

#[test]
fn owner_references_merge_by_uid() {
    let patch = json!({"metadata": {"ownerReferences": [
        {"uid": "u1", "controller": true},
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "u2"}
    ]}});
    let out = pod_smp(&live_pod(), patch);
    assert_eq!(
        out["metadata"]["ownerReferences"],
        json!([
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs1", "uid": "u1", "controller": true},
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "u2"}
        ])
    );
    let delete = json!({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": "u1"}]}});
    assert_eq!(
        pod_smp(&live_pod(), delete)["metadata"]["ownerReferences"],
        json!([])
    );
}

#[test]
fn untagged_lists_are_replaced_atomically() {
    let patch =
        json!({"spec": {"tolerations": [{"key": "k2", "operator": "Equal", "value": "v"}]}});
    let out = pod_smp(&live_pod(), patch);
    assert_eq!(
        out["spec"]["tolerations"],
        json!([{"key": "k2", "operator": "Equal", "value": "v"}])
    );
    // managedFields has no patch strategy either.
    let original = json!({"metadata": {"managedFields": [{"manager": "a"}, {"manager": "b"}]}});
    let out = pod_smp(
        &original,
        json!({"metadata": {"managedFields": [{"manager": "c"}]}}),
    );
    assert_eq!(out["metadata"]["managedFields"], json!([{"manager": "c"}]));
}

#[test]
fn container_ports_merge_by_container_port() {
    let patch = json!({"spec": {"containers": [
        {"name": "app", "ports": [{"containerPort": 443}, {"containerPort": 80, "name": "http"}]}
    ]}});
    let out = pod_smp(&live_pod(), patch);
    assert_eq!(
        out["spec"]["containers"][0]["ports"],
        json!([{"containerPort": 443}, {"containerPort": 80, "protocol": "TCP", "name": "http"}])
    );
}

#[test]
fn patch_replace_directive_on_a_map_and_on_a_list() {
    let out = pod_smp(
        &live_pod(),
        json!({"metadata": {"labels": {"$patch": "replace", "only": "me"}}}),
    );
    assert_eq!(out["metadata"]["labels"], json!({"only": "me"}));

    let out = pod_smp(
        &live_pod(),
        json!({"metadata": {"labels": {"$patch": "delete"}}}),
    );
    assert_eq!(out["metadata"]["labels"], json!({}));

    let list_replace = json!({"spec": {"containers": [
        {"$patch": "replace"},
        {"name": "solo", "image": "alpine"}
    ]}});
    let out = pod_smp(&live_pod(), list_replace);
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name": "solo", "image": "alpine"}])
    );
}

#[test]
fn retain_keys_clears_fields_not_listed() {
    // kubectl sends $retainKeys for volumes (patchStrategy "merge,retainKeys").
    let patch = json!({"spec": {
        "$setElementOrder/volumes": [{"name": "data"}],
        "volumes": [{"$retainKeys": ["emptyDir", "name"], "emptyDir": {}, "hostPath": null, "name": "data"}]
    }});
    let out = pod_smp(&live_pod(), patch);
    assert_eq!(
        out["spec"]["volumes"],
        json!([{"name": "data", "emptyDir": {}}])
    );

    let mismatch =
        json!({"spec": {"volumes": [{"$retainKeys": ["name"], "emptyDir": {}, "name": "data"}]}});
    let err = smp("Pod", &live_pod(), mismatch).unwrap_err();
    assert!(
        matches!(&err, PatchError::Invalid(m) if m == "patch content doesn't match retainKeys list")
    );
    assert_eq!(err.status_code(), 422);
}

#[test]
fn service_account_secrets_merge_by_name_but_image_pull_secrets_are_atomic() {
    let original = json!({
        "metadata": {"name": "sa"},
        "secrets": [{"name": "s1"}],
        "imagePullSecrets": [{"name": "p1"}]
    });
    let patch = json!({"secrets": [{"name": "s2"}], "imagePullSecrets": [{"name": "p2"}]});
    let out = smp("ServiceAccount", &original, patch).unwrap();
    assert_eq!(out["secrets"], json!([{"name": "s2"}, {"name": "s1"}]));
    assert_eq!(out["imagePullSecrets"], json!([{"name": "p2"}]));
}

#[test]
fn node_and_namespace_conditions_merge_by_type() {
    let node = json!({"status": {
        "conditions": [{"type": "Ready", "status": "False"}, {"type": "MemoryPressure", "status": "False"}],
        "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]
    }});
    let patch = json!({"status": {
        "conditions": [{"type": "Ready", "status": "True"}],
        "addresses": [{"type": "Hostname", "address": "n1"}]
    }});
    let out = smp("Node", &node, patch).unwrap();
    assert_eq!(
        out["status"]["conditions"],
        json!([{"type": "Ready", "status": "True"}, {"type": "MemoryPressure", "status": "False"}])
    );
    assert_eq!(out["status"]["addresses"].as_array().unwrap().len(), 2);

    let ns =
        json!({"spec": {"finalizers": ["kubernetes"]}, "status": {"conditions": [{"type": "A"}]}});
    let out = smp("Namespace", &ns, json!({"spec": {"finalizers": ["other"]}})).unwrap();
    // Namespace spec.finalizers is untagged: replaced, unlike metadata.finalizers.
    assert_eq!(out["spec"]["finalizers"], json!(["other"]));
}

#[test]
fn rbac_rules_are_atomic_and_other_kinds_are_known() {
    let role = json!({"rules": [{"verbs": ["get"], "resources": ["pods"], "apiGroups": [""]}]});
    let patch = json!({"rules": [{"verbs": ["list"], "resources": ["pods"], "apiGroups": [""]}]});
    let body = serde_json::to_vec(&patch).unwrap();
    let out = apply_patch(
        PatchType::StrategicMerge,
        "rbac.authorization.k8s.io",
        "Role",
        role.clone(),
        &body,
    )
    .unwrap();
    assert_eq!(out["rules"], patch["rules"]);
    for (group, kind) in [
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "Event"),
        ("events.k8s.io", "Event"),
        ("coordination.k8s.io", "Lease"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ] {
        assert!(
            super::super::schema::lookup(group, kind).is_some(),
            "{group}/{kind}"
        );
    }
}

#[test]
fn strategic_merge_on_a_custom_resource_is_415() {
    let wf = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "spec": {}});
    let err = apply_patch(
        PatchType::StrategicMerge,
        "argoproj.io",
        "Workflow",
        wf.clone(),
        b"{\"spec\":{}}",
    )
    .unwrap_err();
    assert!(
        matches!(&err, PatchError::UnsupportedForKind { group, kind } if group == "argoproj.io" && kind == "Workflow")
    );
    assert_eq!(err.status_code(), 415);
    assert_eq!(
        err.to_status(),
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            "reason": "UnsupportedMediaType",
            "code": 415
        })
    );
    // The same kind name in the core group is a built-in.
    assert!(smp("Pod", &wf, json!({})).is_ok());
    // The 415 comes before the body is looked at.
    let err = apply_patch(
        PatchType::StrategicMerge,
        "argoproj.io",
        "Workflow",
        wf.clone(),
        b"not json",
    )
    .unwrap_err();
    assert_eq!(err.status_code(), 415);
}

#[test]
fn strategic_merge_errors_use_apimachinery_wording_and_classes() {
    // A keyed list element without its merge key: a plain Go error, so a 500.
    let err = smp(
        "Pod",
        &live_pod(),
        json!({"spec": {"containers": [{"image": "x"}]}}),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "map: map[image:x] does not contain declared merge key: name"
    );
    assert_eq!(err.status_code(), 500);
    assert_eq!(err.to_status()["message"], json!(err.to_string()));
    assert!(err.to_status().get("reason").is_none());

    let err = smp(
        "Pod",
        &live_pod(),
        json!({"spec": {"$setElementOrder": []}}),
    )
    .unwrap_err();
    assert!(
        matches!(&err, PatchError::Malformed(m) if m == "invalid patch format of setElementOrder list")
    );

    let err = smp(
        "Pod",
        &live_pod(),
        json!({"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}}),
    )
    .unwrap_err();
    assert!(
        matches!(&err, PatchError::Malformed(m) if m == "invalid patch format of primitive list")
    );

    let err = smp(
        "Pod",
        &live_pod(),
        json!({"metadata": {"labels": {"$patch": "merge"}}}),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown patch type: merge in map: map[$patch:merge]"
    );

    let no_finalizers = json!({"metadata": {"finalizers": []}});
    let err = smp(
        "Pod",
        &no_finalizers,
        json!({"metadata": {"finalizers": [["nested"]]}}),
    )
    .unwrap_err();
    assert!(matches!(&err, PatchError::Invalid(m) if m == "lists of lists are not supported"));
    // After a string element, a nested list is a type mismatch instead (a plain 500).
    let err = smp(
        "Pod",
        &live_pod(),
        json!({"metadata": {"finalizers": [["nested"]]}}),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "list element types are not identical: [[example.com/a example.com/b] [[nested]]]"
    );

    let err = smp("Pod", &live_pod(), json!({"metadata": {"finalizers": [1]}})).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("list element types are not identical: "),
        "{err}"
    );

    let out_of_order = json!({"spec": {
        "$setElementOrder/containers": [{"name": "app"}],
        "containers": [{"name": "sidecar", "image": "y"}]
    }});
    let err = smp("Pod", &live_pod(), out_of_order).unwrap_err();
    assert_eq!(
        err.to_string(),
        "The order in patch list:\n[map[image:y name:sidecar]]\n doesn't match $setElementOrder list:\n[map[name:app]]\n"
    );
}

#[test]
fn strategic_merge_body_must_be_a_json_object() {
    let err = apply_patch(PatchType::StrategicMerge, "", "Pod", live_pod(), b"[1]").unwrap_err();
    assert!(matches!(&err, PatchError::Malformed(m)
        if m == "json: cannot unmarshal array into Go value of type map[string]interface {}"));
    let err = apply_patch(PatchType::StrategicMerge, "", "Pod", live_pod(), b"{").unwrap_err();
    assert_eq!(err.status_code(), 400);
    // `null` decodes to an empty patch.
    let out = apply_patch(PatchType::StrategicMerge, "", "Pod", live_pod(), b"null").unwrap();
    assert_eq!(out, live_pod());
}
