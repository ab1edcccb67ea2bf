use serde_json::{Value, json};

use super::*;
use crate::patch::schema;

fn lease() -> Struct {
    schema::lookup("coordination.k8s.io", "Lease").unwrap()
}

fn writer(manager: &str) -> Writer<'_> {
    Writer {
        manager,
        subresource: "",
    }
}

fn lease_with(spec: Value) -> Value {
    json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
           "metadata": {"name": "l", "namespace": "ns", "uid": "u"}, "spec": spec})
}

/// `manager` applies a Lease of this spec, without force.
fn applied(live: Option<&Value>, spec: Value, manager: &str) -> Result<Value, Conflicts> {
    apply(lease(), live, &lease_with(spec), writer(manager), false)
}

/// `(manager, operation, fieldsV1)` of each entry.
fn owners(object: &Value) -> Vec<(String, String, Value)> {
    object["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["manager"].as_str().unwrap().to_owned(),
                e["operation"].as_str().unwrap().to_owned(),
                e["fieldsV1"].clone(),
            )
        })
        .collect()
}

#[test]
fn a_create_is_an_update_of_every_field_but_the_servers() {
    let mut new = lease_with(json!({"holderIdentity": "a"}));
    new["metadata"]["labels"] = json!({"x": "1"});
    record_update(lease(), None, &mut new, writer("kubectl"));
    assert_eq!(
        owners(&new),
        [(
            "kubectl".to_owned(),
            "Update".to_owned(),
            json!({"f:metadata": {"f:labels": {".": {}, "f:x": {}}}, "f:spec": {".": {}, "f:holderIdentity": {}}})
        )]
    );
    assert_eq!(
        new["metadata"]["managedFields"][0]["apiVersion"],
        "coordination.k8s.io/v1"
    );
    assert_eq!(
        new["metadata"]["managedFields"][0]["fieldsType"],
        "FieldsV1"
    );
}

#[test]
fn an_update_takes_the_fields_it_changes_from_other_managers() {
    let mut old = lease_with(json!({"holderIdentity": "a", "leaseDurationSeconds": 15}));
    record_update(lease(), None, &mut old, writer("first"));
    let mut new = old.clone();
    new["spec"]["holderIdentity"] = json!("b");
    record_update(lease(), Some(&old), &mut new, writer("second"));
    assert_eq!(
        owners(&new),
        [
            (
                "first".to_owned(),
                "Update".to_owned(),
                json!({"f:spec": {".": {}, "f:leaseDurationSeconds": {}}})
            ),
            (
                "second".to_owned(),
                "Update".to_owned(),
                json!({"f:spec": {"f:holderIdentity": {}}})
            ),
        ]
    );
    // Removing a field takes it from everyone; an entry left with nothing goes.
    let mut cleared = new.clone();
    cleared["spec"] = json!({"leaseDurationSeconds": 15});
    record_update(lease(), Some(&new), &mut cleared, writer("third"));
    assert_eq!(owners(&cleared).len(), 1, "{:?}", owners(&cleared));
}

#[test]
fn managed_fields_a_client_sends_are_kept() {
    let old = lease_with(json!({}));
    let mut new = old.clone();
    new["metadata"]["managedFields"] = json!([{"manager": "mine", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": {}}]);
    record_update(lease(), Some(&old), &mut new, writer("kubectl"));
    assert_eq!(owners(&new)[0].0, "mine");
}

#[test]
fn applying_a_value_another_manager_set_differently_conflicts_unless_forced() {
    let mut live = lease_with(json!({"holderIdentity": "a"}));
    record_update(lease(), None, &mut live, writer("kubectl"));
    let config = lease_with(json!({"holderIdentity": "b"}));
    let err = apply(lease(), Some(&live), &config, writer("elector"), false).unwrap_err();
    let status = err.to_error();
    assert_eq!(status.code, 409);
    assert_eq!(status.reason, "Conflict");
    let time = live["metadata"]["managedFields"][0]["time"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        status.message,
        format!(
            "Apply failed with 1 conflict: conflict with \"kubectl\" using coordination.k8s.io/v1 at {time}: .spec.holderIdentity"
        )
    );
    assert_eq!(
        status.details.unwrap()["causes"],
        json!([{"reason": "FieldManagerConflict", "message": format!("conflict with \"kubectl\" using coordination.k8s.io/v1 at {time}"), "field": ".spec.holderIdentity"}])
    );
    let forced = apply(lease(), Some(&live), &config, writer("elector"), true).unwrap();
    assert_eq!(forced["spec"]["holderIdentity"], "b");
    assert_eq!(
        owners(&forced),
        [
            (
                "elector".to_owned(),
                "Apply".to_owned(),
                json!({"f:spec": {"f:holderIdentity": {}}})
            ),
            (
                "kubectl".to_owned(),
                "Update".to_owned(),
                json!({"f:spec": {}})
            ),
        ],
        "kubectl keeps the spec map it created, and loses the field"
    );
}

#[test]
fn applying_the_same_value_shares_the_field() {
    let mut live = lease_with(json!({"holderIdentity": "a"}));
    record_update(lease(), None, &mut live, writer("kubectl"));
    let config = lease_with(json!({"holderIdentity": "a"}));
    let shared = apply(lease(), Some(&live), &config, writer("elector"), false).unwrap();
    let names: Vec<String> = owners(&shared).into_iter().map(|o| o.0).collect();
    assert_eq!(names, ["elector", "kubectl"], "Apply entries come first");
}

#[test]
fn of_two_appliers_racing_for_a_free_lease_the_second_conflicts() {
    // What kube-lease-manager relies on: the lease is released (the holder's fields removed by
    // a strategic patch), then two candidates apply their identity without force.
    let mut free = lease_with(json!({"leaseDurationSeconds": 15}));
    record_update(lease(), None, &mut free, writer("old-holder"));
    let first = applied(
        Some(&free),
        json!({"holderIdentity": "one", "leaseDurationSeconds": 15}),
        "one",
    )
    .unwrap();
    let second = applied(
        Some(&first),
        json!({"holderIdentity": "two", "leaseDurationSeconds": 15}),
        "two",
    )
    .unwrap_err();
    assert_eq!(
        second.to_error().message,
        "Apply failed with 1 conflict: conflict with \"one\": .spec.holderIdentity"
    );
}

#[test]
fn a_field_an_applier_stops_naming_is_removed_unless_another_owns_it() {
    let config = lease_with(
        json!({"holderIdentity": "a", "leaseDurationSeconds": 15, "leaseTransitions": 1}),
    );
    let live = apply(lease(), None, &config, writer("elector"), false).unwrap();
    let mut shared = live.clone();
    shared["spec"]["leaseTransitions"] = json!(2);
    record_update(lease(), Some(&live), &mut shared, writer("kubectl"));
    let smaller = applied(Some(&shared), json!({"holderIdentity": "a"}), "elector").unwrap();
    assert_eq!(
        smaller["spec"],
        json!({"holderIdentity": "a", "leaseTransitions": 2})
    );
    assert_eq!(
        owners(&smaller),
        [
            (
                "elector".to_owned(),
                "Apply".to_owned(),
                json!({"f:spec": {"f:holderIdentity": {}}})
            ),
            (
                "kubectl".to_owned(),
                "Update".to_owned(),
                json!({"f:spec": {"f:leaseTransitions": {}}})
            ),
        ]
    );
}

#[test]
fn several_conflicts_are_listed_by_manager() {
    let live = applied(
        None,
        json!({"holderIdentity": "a", "leaseDurationSeconds": 1}),
        "one",
    )
    .unwrap();
    let err = applied(
        Some(&live),
        json!({"holderIdentity": "b", "leaseDurationSeconds": 2}),
        "two",
    )
    .unwrap_err();
    assert_eq!(
        err.to_error().message,
        "Apply failed with 2 conflicts: conflicts with \"one\":\n- .spec.holderIdentity\n- .spec.leaseDurationSeconds"
    );
}

#[test]
fn update_managers_beyond_ten_are_folded_into_ancient_changes() {
    let mut object = lease_with(json!({}));
    for i in 0..12 {
        let old = object.clone();
        object["spec"][format!("f{i}")] = json!(i);
        record_update(lease(), Some(&old), &mut object, writer(&format!("m{i}")));
    }
    let names: Vec<String> = owners(&object).into_iter().map(|o| o.0).collect();
    assert_eq!(names.len(), 10);
    assert!(names.contains(&"ancient-changes".to_owned()), "{names:?}");
    assert!(
        names.contains(&"m11".to_owned()) && !names.contains(&"m0".to_owned()),
        "{names:?}"
    );
}

#[test]
fn the_manager_of_a_request_without_one_is_its_user_agents_program() {
    assert_eq!(
        manager_from_user_agent(Some("kubectl/v1.32.0 (linux/amd64) kubernetes/abc")),
        "kubectl"
    );
    assert_eq!(manager_from_user_agent(None), "");
    assert_eq!(manager_from_user_agent(Some(&"é".repeat(100))).len(), 128);
}

#[test]
fn a_null_that_removes_another_managers_field_conflicts() {
    let live = applied(None, json!({"holderIdentity": "a"}), "one").unwrap();
    let err = applied(Some(&live), json!({"holderIdentity": null}), "two").unwrap_err();
    assert_eq!(
        err.to_error().message,
        "Apply failed with 1 conflict: conflict with \"one\": .spec.holderIdentity"
    );
}

#[test]
fn a_custom_resources_finalizers_are_a_set_as_for_every_kind() {
    let table = schema::apply_table("argoproj.io", "Workflow");
    let wf = |finalizers: Value| {
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
               "metadata": {"name": "w", "finalizers": finalizers}, "spec": {}})
    };
    let live = apply(table, None, &wf(json!(["user"])), writer("kubectl"), false).unwrap();
    let mut added = live.clone();
    added["metadata"]["finalizers"] = json!(["user", "flotilla.dev/remote-pods"]);
    record_update(table, Some(&live), &mut added, writer("flotilla"));
    // Applying the user's own finalizer again neither conflicts nor drops the controller's.
    let again = apply(
        table,
        Some(&added),
        &wf(json!(["user"])),
        writer("kubectl"),
        false,
    )
    .unwrap();
    assert_eq!(
        again["metadata"]["finalizers"],
        json!(["user", "flotilla.dev/remote-pods"])
    );
}

#[test]
fn a_write_that_sends_managed_fields_is_recorded_on_top_of_them() {
    let mut old = lease_with(json!({}));
    record_update(lease(), None, &mut old, writer("first"));
    let mut new = old.clone();
    new["spec"]["holderIdentity"] = json!("x");
    new["metadata"]["managedFields"] = json!([{"manager": "sent", "operation": "Apply",
        "apiVersion": "coordination.k8s.io/v1", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:leaseDurationSeconds": {}}}}]);
    record_update(lease(), Some(&old), &mut new, writer("kubectl"));
    let names: Vec<String> = owners(&new).into_iter().map(|o| o.0).collect();
    assert_eq!(names, ["sent", "kubectl"]);
    // Entries the server cannot read are not kept: the live ones stay the base.
    let mut bad = old.clone();
    bad["spec"]["holderIdentity"] = json!("y");
    bad["metadata"]["managedFields"] =
        json!([{"manager": "sent", "operation": "Apply", "fieldsV1": {"x:y": {}}}]);
    record_update(lease(), Some(&old), &mut bad, writer("kubectl"));
    let names: Vec<String> = owners(&bad).into_iter().map(|o| o.0).collect();
    assert_eq!(names, ["first", "kubectl"]);
}
