use super::*;

fn crontab_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "crontabs.stable.example.com"},
        "spec": {
            "group": "stable.example.com",
            "scope": "Namespaced",
            "names": {"plural": "crontabs", "kind": "CronTab", "shortNames": ["ct"]},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [{"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"}],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "properties": {"cronSpec": {"type": "string"}, "replicas": {"type": "integer", "default": 1}}},
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }
                }}
            }]
        }
    })
}

fn errors_of(crd: &Value) -> Vec<(ErrorType, String, String)> {
    validate_crd(crd)
        .into_iter()
        .map(|e| (e.kind, e.field, e.detail))
        .collect()
}

#[test]
fn defaults_then_valid() {
    let mut crd = crontab_crd();
    fill_crd_defaults(&mut crd);
    assert_eq!(crd["spec"]["names"]["singular"], "crontab");
    assert_eq!(crd["spec"]["names"]["listKind"], "CronTabList");
    assert_eq!(crd["spec"]["conversion"], json!({"strategy": "None"}));
    assert_eq!(errors_of(&crd), vec![]);
    assert_eq!(storage_version(&crd), Some("v1"));
}

#[test]
fn without_defaults_names_are_required() {
    let errs = errors_of(&crontab_crd());
    assert!(errs.contains(&(
        ErrorType::Required,
        "spec.names.singular".into(),
        String::new()
    )));
    assert!(errs.contains(&(
        ErrorType::Required,
        "spec.names.listKind".into(),
        String::new()
    )));
}

#[test]
fn name_group_scope_rules() {
    let mut crd = crontab_crd();
    crd["metadata"]["name"] = json!("crontabs.other.example.com");
    crd["spec"]["scope"] = json!("Global");
    fill_crd_defaults(&mut crd);
    let errs = errors_of(&crd);
    assert_eq!(
        errs[0],
        (
            ErrorType::Invalid,
            "metadata.name".into(),
            r#"must be spec.names.plural+"."+spec.group"#.into()
        )
    );
    assert!(errs.contains(&(
        ErrorType::NotSupported,
        "spec.scope".into(),
        r#"supported values: "Cluster", "Namespaced""#.into()
    )));

    let mut crd = crontab_crd();
    crd["metadata"]["name"] = json!("crontabs.example");
    crd["spec"]["group"] = json!("example");
    fill_crd_defaults(&mut crd);
    assert_eq!(
        errors_of(&crd),
        vec![(
            ErrorType::Invalid,
            "spec.group".into(),
            "should be a domain with at least one dot".into()
        )]
    );

    let mut crd = crontab_crd();
    crd["spec"]["names"]["plural"] = json!("CronTabs");
    crd["metadata"]["name"] = json!("CronTabs.stable.example.com");
    fill_crd_defaults(&mut crd);
    let errs = errors_of(&crd);
    assert!(errs.contains(&(
        ErrorType::Invalid,
        "metadata.name".into(),
        DNS1123_SUBDOMAIN_MSG.into()
    )));
    assert!(errs.contains(&(
        ErrorType::Invalid,
        "spec.names.plural".into(),
        DNS1035_LABEL_MSG.into()
    )));
}

#[test]
fn version_rules() {
    let mut crd = crontab_crd();
    let v = crd["spec"]["versions"][0].clone();
    let mut v2 = v.clone();
    v2["storage"] = json!(true);
    crd["spec"]["versions"] = json!([v, v2]);
    fill_crd_defaults(&mut crd);
    let errs = errors_of(&crd);
    assert!(errs.contains(&(
        ErrorType::Invalid,
        "spec.versions".into(),
        "must contain unique version names".into()
    )));
    assert!(errs.contains(&(
        ErrorType::Invalid,
        "spec.versions".into(),
        "must have exactly one version marked as storage version".into()
    )));

    let mut crd = crontab_crd();
    crd["spec"]["versions"][0]
        .as_object_mut()
        .unwrap()
        .remove("schema");
    fill_crd_defaults(&mut crd);
    assert_eq!(
        errors_of(&crd),
        vec![(
            ErrorType::Required,
            "spec.versions[0].schema.openAPIV3Schema".into(),
            String::new()
        )]
    );

    let mut crd = crontab_crd();
    crd["spec"]["versions"] = json!([]);
    fill_crd_defaults(&mut crd);
    assert!(
        errors_of(&crd)
            .iter()
            .any(|e| e.2 == "must have exactly one version marked as storage version")
    );
}

#[test]
fn identical_schemas_are_reported_at_top_level_and_distinct_per_version() {
    let mut crd = crontab_crd();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        .as_object_mut()
        .unwrap()
        .remove("type");
    fill_crd_defaults(&mut crd);
    assert_eq!(
        errors_of(&crd),
        vec![(
            ErrorType::Required,
            "spec.validation.openAPIV3Schema.properties[spec].type".into(),
            "must not be empty for specified object fields".into()
        )]
    );
    let mut v2 = crontab_crd()["spec"]["versions"][0].clone();
    v2["name"] = json!("v2");
    v2["storage"] = json!(false);
    crd["spec"]["versions"].as_array_mut().unwrap().push(v2);
    assert_eq!(
        errors_of(&crd)[0].1,
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].type"
    );
}

#[test]
fn printer_columns_and_subresources() {
    let mut crd = crontab_crd();
    crd["spec"]["versions"][0]["additionalPrinterColumns"] = json!([{"name": "", "type": "time", "format": "iso", "jsonPath": "spec.x"}, {"name": "A", "type": "date"}]);
    crd["spec"]["versions"][0]["subresources"]["scale"] = json!({"specReplicasPath": ".status.r"});
    fill_crd_defaults(&mut crd);
    let p = "spec.additionalPrinterColumns";
    assert_eq!(
        errors_of(&crd),
        vec![
            (
                ErrorType::Invalid,
                "spec.subresources.scale.specReplicasPath".into(),
                "should be a json path under .spec".into()
            ),
            (
                ErrorType::Required,
                "spec.subresources.scale.statusReplicasPath".into(),
                String::new()
            ),
            (ErrorType::Required, format!("{p}[0].name"), String::new()),
            (
                ErrorType::Invalid,
                format!("{p}[0].type"),
                "must be one of boolean,date,integer,number,string".into()
            ),
            (
                ErrorType::Invalid,
                format!("{p}[0].format"),
                "must be one of byte,date,date-time,double,float,int32,int64,password".into()
            ),
            (
                ErrorType::Invalid,
                format!("{p}[0].JSONPath"),
                "must be a simple json path starting with .".into()
            ),
            (
                ErrorType::Required,
                format!("{p}[1].JSONPath"),
                String::new()
            ),
        ]
    );
}

#[test]
fn conversion_and_protected_groups() {
    let mut crd = crontab_crd();
    crd["spec"]["conversion"] =
        json!({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v2"]}});
    crd["spec"]["group"] = json!("stable.k8s.io");
    crd["metadata"]["name"] = json!("crontabs.stable.k8s.io");
    fill_crd_defaults(&mut crd);
    let errs = errors_of(&crd);
    assert!(errs.contains(&(
        ErrorType::Required,
        "spec.conversion.webhookClientConfig".into(),
        "required when strategy is set to Webhook".into()
    )));
    assert!(errs.contains(&(
        ErrorType::Invalid,
        "spec.conversion.conversionReviewVersions".into(),
        "must include at least one of v1, v1beta1".into()
    )));
    assert!(errs.iter().any(
        |e| e.1 == "metadata.annotations[api-approved.kubernetes.io]" && e.0 == ErrorType::Required
    ));
}

#[test]
fn status_written_on_acceptance() {
    let mut crd = crontab_crd();
    fill_crd_defaults(&mut crd);
    let status = crd_status(&crd, "2024-05-01T10:00:00Z");
    assert_eq!(status["acceptedNames"]["listKind"], "CronTabList");
    assert_eq!(status["acceptedNames"]["shortNames"], json!(["ct"]));
    assert_eq!(status["storedVersions"], json!(["v1"]));
    assert_eq!(
        status["conditions"][1],
        json!({"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
               "message": "the initial names have been accepted", "lastTransitionTime": "2024-05-01T10:00:00Z"})
    );
    assert_eq!(status["conditions"][0]["reason"], "NoConflicts");
}

/// The shape of Argo's minimal `workflows.argoproj.io` CRD.
fn argo_workflows_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "workflows.argoproj.io"},
        "spec": {
            "group": "argoproj.io",
            "names": {"kind": "Workflow", "listKind": "WorkflowList", "plural": "workflows",
                      "shortNames": ["wf"], "singular": "workflow"},
            "scope": "Namespaced",
            "versions": [{
                "additionalPrinterColumns": [
                    {"description": "Status of the workflow", "jsonPath": ".status.phase", "name": "Status", "type": "string"},
                    {"description": "When the workflow was started", "format": "date-time", "jsonPath": ".status.startedAt", "name": "Age", "type": "date"},
                    {"description": "Human readable message indicating details about why the workflow is in this condition.", "jsonPath": ".status.message", "name": "Message", "type": "string"}
                ],
                "name": "v1alpha1",
                "schema": {"openAPIV3Schema": {
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": {"type": "object", "x-kubernetes-map-type": "atomic", "x-kubernetes-preserve-unknown-fields": true},
                        "status": {"type": "object", "x-kubernetes-map-type": "atomic", "x-kubernetes-preserve-unknown-fields": true}
                    },
                    "required": ["metadata", "spec"],
                    "type": "object"
                }},
                "served": true,
                "storage": true,
                "subresources": {}
            }]
        }
    })
}

#[test]
fn argo_shaped_crd_validates_and_keeps_every_field() {
    let mut crd = argo_workflows_crd();
    fill_crd_defaults(&mut crd);
    assert_eq!(errors_of(&crd), vec![]);
    let schema =
        StructuralSchema::compile(&crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
            .unwrap();
    let wf = json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"generateName": "hello-", "namespace": "argo"},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "busybox", "args": ["echo", "hi"]}}],
                 "arguments": {"parameters": [{"name": "p", "value": "1"}]}},
        "status": {"phase": "Running", "nodes": {"n1": {"id": "n1", "children": ["a"]}}, "startedAt": "2024-01-01T00:00:00Z"}
    });
    let mut pruned = wf.clone();
    assert_eq!(schema.prune(&mut pruned), Vec::<String>::new());
    schema.apply_defaults(&mut pruned);
    assert_eq!(pruned, wf);
    assert_eq!(schema.validate(&wf), vec![]);
    let errs = schema.validate(
        &json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {}}),
    );
    assert_eq!(errs, vec![FieldError::required("spec", "")]);
}

#[test]
fn dns_helpers() {
    assert!(dns1123_subdomain_errors("stable.example.com").is_empty());
    assert!(!dns1123_subdomain_errors("Example.com").is_empty());
    assert!(!dns1123_subdomain_errors("a..b").is_empty());
    assert!(dns1035_label_errors("v1beta1").is_empty());
    assert!(!dns1035_label_errors("1v").is_empty());
    assert_eq!(
        dns1035_label_errors(&"a".repeat(64)),
        vec!["must be no more than 63 characters".to_string()]
    );
}
