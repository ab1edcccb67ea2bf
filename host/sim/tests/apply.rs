//! Server-side apply and field ownership through kube-rs, as a real API server answers them:
//! an apply creates what is missing, owns what it names, prunes what it stops naming, and
//! changing a field another manager owns is a 409 unless forced.

mod support;

use anyhow::Result;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::{code_of, message_of};

fn config(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data})
}

/// `(manager, operation)` of each managedFields entry.
fn managers(cm: &ConfigMap) -> Vec<(String, String)> {
    cm.metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|e| {
            (
                e.manager.clone().unwrap_or_default(),
                e.operation.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn apply_creates_owns_prunes_and_conflicts() -> Result<()> {
    let cluster = support::cluster().await?;
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client()?, "default");
    let one = PatchParams::apply("one");
    let created = cms
        .patch(
            "c",
            &one,
            &Patch::Apply(config(json!({"a": "1", "b": "2"}))),
        )
        .await?;
    assert_eq!(managers(&created), [("one".into(), "Apply".into())]);
    let fields = created.metadata.managed_fields.as_ref().unwrap()[0]
        .fields_v1
        .clone()
        .unwrap()
        .0;
    assert_eq!(fields, json!({"f:data": {"f:a": {}, "f:b": {}}}));

    // The same configuration again changes nothing, not even the resourceVersion.
    let again = cms
        .patch(
            "c",
            &one,
            &Patch::Apply(config(json!({"a": "1", "b": "2"}))),
        )
        .await?;
    assert_eq!(
        again.metadata.resource_version,
        created.metadata.resource_version
    );

    // Another manager changing `a` conflicts; forcing takes `a` over.
    let two = PatchParams::apply("two");
    let conflict = cms
        .patch("c", &two, &Patch::Apply(config(json!({"a": "x"}))))
        .await;
    assert_eq!(
        message_of(conflict),
        "Apply failed with 1 conflict: conflict with \"one\": .data.a"
    );
    let forced = cms
        .patch(
            "c",
            &two.clone().force(),
            &Patch::Apply(config(json!({"a": "x"}))),
        )
        .await?;
    assert_eq!(forced.data.as_ref().unwrap()["a"], "x");

    // `one` stops naming `a` (now two's) and `b` (its own): `b` is pruned, `a` stays.
    let pruned = cms
        .patch("c", &one, &Patch::Apply(config(json!({"c": "3"}))))
        .await?;
    let data = pruned.data.unwrap();
    assert_eq!(
        data.keys().map(String::as_str).collect::<Vec<_>>(),
        ["a", "c"]
    );

    // An update by a third manager takes the field it changes from the appliers.
    let mut edited = cms.get("c").await?;
    edited.data.as_mut().unwrap().insert("c".into(), "4".into());
    let replaced = cms
        .replace(
            "c",
            &PostParams {
                field_manager: Some("editor".into()),
                ..PostParams::default()
            },
            &edited,
        )
        .await?;
    assert_eq!(
        managers(&replaced),
        [
            ("two".into(), "Apply".into()),
            ("editor".into(), "Update".into())
        ],
        "Apply entries first; `one`, left owning nothing, has none"
    );
    let back = cms
        .patch("c", &one, &Patch::Apply(config(json!({"c": "3"}))))
        .await;
    assert!(
        message_of(back)
            .starts_with("Apply failed with 1 conflict: conflict with \"editor\" using v1 at ")
    );
    Ok(())
}

#[tokio::test]
async fn apply_needs_a_field_manager_and_only_apply_may_force() -> Result<()> {
    let cluster = support::cluster().await?;
    let client = cluster.client()?;
    let path = "/api/v1/namespaces/default/configmaps/c";
    let body = config(json!({"a": "1"})).to_string();
    let missing = support::raw(
        &client,
        "PATCH",
        path,
        "application/apply-patch+yaml",
        body.clone(),
    )
    .await?;
    assert_eq!(missing.status, 422);
    assert_eq!(
        missing.json()["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    let forced_merge = support::raw(
        &client,
        "PATCH",
        &format!("{path}?force=true"),
        "application/merge-patch+json",
        "{}",
    )
    .await?;
    assert_eq!(forced_merge.status, 422);
    assert_eq!(
        forced_merge.json()["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch"
    );
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: \"1\"\n";
    let created = support::raw(
        &client,
        "PATCH",
        &format!("{path}?fieldManager=yaml"),
        "application/apply-patch+yaml",
        yaml,
    )
    .await?;
    assert_eq!(created.status, 201, "{}", created.body);
    let kindless = support::raw(
        &client,
        "PATCH",
        &format!("{path}?fieldManager=yaml"),
        "application/apply-patch+yaml",
        "metadata:\n  name: c\n",
    )
    .await?;
    assert_eq!(kindless.status, 400, "{}", kindless.body);
    let misnamed = support::raw(
        &client,
        "PATCH",
        &format!("{path}?fieldManager=yaml"),
        "application/apply-patch+yaml",
        config(json!({})).to_string().replace("\"c\"", "\"d\""),
    )
    .await?;
    assert_eq!(misnamed.status, 400, "{}", misnamed.body);
    Ok(())
}

/// The lease hand-over kube-lease-manager performs: a strategic patch releases the holder's
/// fields, two candidates apply their identity without force, and only the first wins.
#[tokio::test]
async fn two_candidates_applying_a_free_lease_cannot_both_hold_it() -> Result<()> {
    let cluster = support::cluster().await?;
    let leases: Api<Lease> = Api::namespaced(cluster.client()?, "default");
    let lease: Lease = serde_json::from_value(json!({"metadata": {"name": "l"}, "spec": {}}))?;
    leases.create(&PostParams::default(), &lease).await?;
    let claim = |who: &str| {
        Patch::Apply(json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "spec": {"holderIdentity": who, "leaseDurationSeconds": 15}
        }))
    };
    leases
        .patch("l", &PatchParams::apply("a"), &claim("a"))
        .await?;
    let lost = leases
        .patch("l", &PatchParams::apply("b"), &claim("b"))
        .await;
    assert_eq!(code_of(lost), 409);
    // The holder renews with a strategic patch; releasing clears its fields, after which
    // the other candidate's apply succeeds.
    leases
        .patch(
            "l",
            &PatchParams::apply("a"),
            &Patch::Strategic(
                json!({"spec": {"holderIdentity": null, "leaseDurationSeconds": null}}),
            ),
        )
        .await?;
    let taken = leases
        .patch("l", &PatchParams::apply("b"), &claim("b"))
        .await?;
    assert_eq!(taken.spec.unwrap().holder_identity.as_deref(), Some("b"));
    Ok(())
}
