use super::*;

const KUBECTL_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

fn now() -> jiff::Timestamp {
    "2024-06-01T12:00:00Z".parse().unwrap()
}

fn pod_base(extra: Value) -> Value {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2024-06-01T11:57:00Z", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}], "nodeName": "node-1"},
    });
    if let (Some(p), Some(e)) = (pod.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            p.insert(k.clone(), v.clone());
        }
    }
    pod
}

fn cells(columns: &Columns, obj: &Value) -> Vec<Value> {
    columns.row(obj, now()).0
}

#[test]
fn accept_negotiation() {
    assert_eq!(table_request(KUBECTL_ACCEPT), Some(TableVersion::V1));
    assert_eq!(
        table_request("application/json;as=Table;v=v1beta1;g=meta.k8s.io, application/json"),
        Some(TableVersion::V1Beta1)
    );
    assert_eq!(table_request("application/json"), None);
    assert_eq!(
        table_request("application/json, application/json;as=Table;v=v1;g=meta.k8s.io"),
        None
    );
    assert_eq!(
        table_request(
            "application/json;as=Table;v=v2;g=meta.k8s.io,application/json;as=Table;v=v1;g=meta.k8s.io"
        ),
        Some(TableVersion::V1)
    );
    assert_eq!(
        table_request("application/json;q=0.5,application/json;as=Table;v=v1;g=meta.k8s.io"),
        Some(TableVersion::V1)
    );
    assert_eq!(
        table_request("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"),
        None
    );
    assert_eq!(parse_include_object(None), Ok(IncludeObject::Metadata));
    assert_eq!(
        parse_include_object(Some("Object")),
        Ok(IncludeObject::Object)
    );
    assert_eq!(parse_include_object(Some("None")), Ok(IncludeObject::None));
    assert_eq!(
        parse_include_object(Some("All")),
        Err("unrecognized includeObject value: \"All\"".to_string())
    );
}

#[test]
fn human_durations() {
    let s = 1_000_000_000i64;
    let cases = [
        (-2 * s, "<invalid>"),
        (-s, "0s"),
        (0, "0s"),
        (5 * s, "5s"),
        (119 * s, "119s"),
        (123 * s, "2m3s"),
        (300 * s, "5m"),
        (15 * 60 * s, "15m"),
        (179 * 60 * s, "179m"),
        (3 * 3600 * s, "3h"),
        (3 * 3600 * s + 25 * 60 * s, "3h25m"),
        (10 * 3600 * s, "10h"),
        (47 * 3600 * s, "47h"),
        (48 * 3600 * s, "2d"),
        (51 * 3600 * s, "2d3h"),
        (30 * 86400 * s, "30d"),
        (800 * 86400 * s, "2y70d"),
        (730 * 86400 * s, "2y"),
        (3000 * 86400 * s, "8y"),
    ];
    for (d, want) in cases {
        assert_eq!(human_duration(d), want, "duration {d}ns");
    }
}

#[test]
fn pod_phases() {
    let cols = Columns::for_resource("", "pods");
    assert_eq!(cols.defs.len(), 9);
    assert_eq!(cols.defs[5].priority, 1);

    let running = pod_base(
        json!({"status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}],
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "c", "ready": true, "restartCount": 2, "state": {"running": {}},
            "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-06-01T11:59:30Z"}}}]}}),
    );
    assert_eq!(
        cells(&cols, &running),
        vec![
            json!("web"),
            json!("1/1"),
            json!("Running"),
            json!("2 (30s ago)"),
            json!("3m"),
            json!("10.0.0.5"),
            json!("node-1"),
            json!("<none>"),
            json!("<none>")
        ]
    );

    let pending = pod_base(json!({"status": {"phase": "Pending",
        "containerStatuses": [{"name": "c", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}}));
    assert_eq!(
        cells(&cols, &pending)[1..4],
        [json!("0/1"), json!("ContainerCreating"), json!("0")]
    );
    let unscheduled = pod_base(json!({"status": {"phase": "Pending"}}));
    assert_eq!(cells(&cols, &unscheduled)[2], json!("Pending"));

    let completed = pod_base(json!({"status": {"phase": "Succeeded",
        "containerStatuses": [{"name": "c", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}}));
    let (c, conditions) = cols.row(&completed, now());
    assert_eq!(c[1..3], [json!("0/1"), json!("Completed")]);
    assert_eq!(conditions.unwrap()[0]["reason"], "Succeeded");

    let error = pod_base(json!({"status": {"phase": "Failed",
        "containerStatuses": [{"name": "c", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}}));
    assert_eq!(cells(&cols, &error)[2], json!("Error"));
    let exit = pod_base(json!({"status": {"phase": "Failed",
        "containerStatuses": [{"name": "c", "state": {"terminated": {"exitCode": 137}}}]}}));
    assert_eq!(cells(&cols, &exit)[2], json!("ExitCode:137"));

    let crash = pod_base(json!({"status": {"phase": "Running",
        "containerStatuses": [{"name": "c", "ready": false, "restartCount": 5, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}));
    assert_eq!(
        cells(&cols, &crash)[2..4],
        [json!("CrashLoopBackOff"), json!("5")]
    );

    let mut terminating = running.clone();
    terminating["metadata"]["deletionTimestamp"] = json!("2024-06-01T11:59:59Z");
    assert_eq!(cells(&cols, &terminating)[2], json!("Terminating"));

    let mut init = pod_base(json!({"status": {"phase": "Pending",
        "initContainerStatuses": [{"name": "i1", "state": {"terminated": {"exitCode": 0}}}, {"name": "i2", "state": {"running": {}}}],
        "containerStatuses": [{"name": "c", "state": {"waiting": {"reason": "PodInitializing"}}}]}}));
    init["spec"]["initContainers"] = json!([{"name": "i1"}, {"name": "i2"}]);
    assert_eq!(cells(&cols, &init)[2], json!("Init:1/2"));
    init["status"]["initContainerStatuses"][1]["state"] =
        json!({"terminated": {"exitCode": 2, "reason": "Error"}});
    assert_eq!(cells(&cols, &init)[2], json!("Init:Error"));
}

#[test]
fn other_builtins_and_default() {
    let ns = json!({"metadata": {"name": "argo", "creationTimestamp": "2024-05-30T12:00:00Z"}, "status": {"phase": "Active"}});
    assert_eq!(
        cells(&Columns::for_resource("", "namespaces"), &ns),
        vec![json!("argo"), json!("Active"), json!("2d")]
    );
    let cm = json!({"metadata": {"name": "cfg", "creationTimestamp": "2024-06-01T11:59:50Z"}, "data": {"a": "1", "b": "2"}});
    assert_eq!(
        cells(&Columns::for_resource("", "configmaps"), &cm),
        vec![json!("cfg"), json!(2), json!("10s")]
    );
    let secret = json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"k": "dg=="}});
    assert_eq!(
        cells(&Columns::for_resource("", "secrets"), &secret),
        vec![json!("s"), json!("Opaque"), json!(1), json!("<unknown>")]
    );
    let lease = json!({"metadata": {"name": "l", "creationTimestamp": "2024-06-01T11:00:00Z"}, "spec": {"holderIdentity": "ctrl-1"}});
    assert_eq!(
        cells(
            &Columns::for_resource("coordination.k8s.io", "leases"),
            &lease
        ),
        vec![json!("l"), json!("ctrl-1"), json!("60m")]
    );
    let node = json!({"metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.32.0"}}});
    assert_eq!(
        cells(&Columns::for_resource("", "nodes"), &node)[..5],
        [
            json!("n1"),
            json!("Ready"),
            json!("control-plane"),
            json!("<unknown>"),
            json!("v1.32.0")
        ]
    );
    let rb = json!({"metadata": {"name": "rb"}, "roleRef": {"kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "ServiceAccount", "name": "argo", "namespace": "argo"}]});
    assert_eq!(
        cells(
            &Columns::for_resource("rbac.authorization.k8s.io", "rolebindings"),
            &rb
        ),
        vec![
            json!("rb"),
            json!("ClusterRole/edit"),
            json!("<unknown>"),
            json!(""),
            json!(""),
            json!("argo/argo")
        ]
    );
    let ev = json!({"metadata": {"name": "web.17a"}, "type": "Normal", "reason": "Scheduled", "message": " Assigned ",
        "involvedObject": {"kind": "Pod", "name": "web"}, "source": {"component": "scheduler"},
        "firstTimestamp": "2024-06-01T11:59:00Z", "lastTimestamp": "2024-06-01T11:59:55Z", "count": 3});
    assert_eq!(
        cells(&Columns::for_resource("", "events"), &ev),
        vec![
            json!("5s"),
            json!("Normal"),
            json!("Scheduled"),
            json!("pod/web"),
            json!(""),
            json!("scheduler"),
            json!("Assigned"),
            json!("60s"),
            json!(3),
            json!("web.17a")
        ]
    );
    let role = json!({"metadata": {"name": "r", "creationTimestamp": "2024-06-01T10:00:00Z"}});
    let cols = Columns::for_resource("rbac.authorization.k8s.io", "clusterroles");
    assert_eq!(cols, Columns::default_columns());
    assert_eq!(cols.defs[1].name, "Created At");
    assert_eq!(
        cells(&cols, &role),
        vec![json!("r"), json!("2024-06-01T10:00:00Z")]
    );
}

#[test]
fn crd_printer_columns() {
    let version = json!({"name": "v1alpha1", "additionalPrinterColumns": [
        {"name": "Status", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Age", "type": "date", "format": "date-time", "jsonPath": ".status.startedAt", "description": "When started"},
        {"name": "Images", "type": "string", "jsonPath": ".spec.templates[*].container.image", "priority": 1},
        {"name": "Steps", "type": "integer", "jsonPath": ".status.steps"},
        {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"}
    ]});
    let cols = Columns::from_crd_version(&version);
    let defs = &cols.defs;
    assert_eq!(
        defs.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        vec!["Name", "Status", "Age", "Images", "Steps", "Ready"]
    );
    assert_eq!(
        defs[1].description,
        "Custom resource definition column (in JSONPath format): .status.phase"
    );
    assert_eq!(defs[3].priority, 1);
    let wf = json!({"metadata": {"name": "hello-abc"},
        "spec": {"templates": [{"container": {"image": "busybox"}}, {"container": {"image": "alpine"}}]},
        "status": {"phase": "Running", "startedAt": "2024-06-01T11:58:00Z", "steps": 4.0,
                   "conditions": [{"type": "Ready", "status": "True"}]}});
    assert_eq!(
        cells(&cols, &wf),
        vec![
            json!("hello-abc"),
            json!("Running"),
            json!("2m"),
            json!("busybox"),
            json!(4),
            json!("True")
        ]
    );
    let bare = json!({"metadata": {"name": "x"}, "status": {"startedAt": "yesterday"}});
    assert_eq!(
        cells(&cols, &bare),
        vec![
            json!("x"),
            Value::Null,
            json!("<invalid>"),
            Value::Null,
            Value::Null,
            Value::Null
        ]
    );

    let plain = Columns::from_crd_version(&json!({"name": "v1"}));
    assert_eq!(plain.defs[1].name, "Age");
    assert_eq!(plain.defs[1].type_, "date");
    let obj = json!({"metadata": {"name": "a", "creationTimestamp": "2024-06-01T09:00:00Z"}});
    assert_eq!(cells(&plain, &obj), vec![json!("a"), json!("3h")]);

    let broken = Columns::from_crd_version(
        &json!({"additionalPrinterColumns": [{"name": "X", "type": "string", "jsonPath": ".a["}]}),
    );
    assert_eq!(broken, Columns::default_columns());
}

#[test]
fn table_shape() {
    let cols = Columns::for_resource("", "configmaps");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "default", "labels": {"a": "b"}}, "data": {}});
    let table = build_table(
        &cols,
        &[&cm],
        json!({"resourceVersion": "42"}),
        IncludeObject::Metadata,
        TableVersion::V1,
        now(),
    );
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(table["metadata"], json!({"resourceVersion": "42"}));
    assert_eq!(table["columnDefinitions"][0]["format"], "name");
    assert_eq!(
        table["columnDefinitions"][1],
        json!({"name": "Data", "type": "string", "format": "", "description": "Data contains the configuration data.", "priority": 0})
    );
    assert_eq!(
        table["rows"][0]["object"],
        json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": cm["metadata"]})
    );
    let t = build_table(
        &cols,
        &[&cm],
        json!({}),
        IncludeObject::Object,
        TableVersion::V1Beta1,
        now(),
    );
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1beta1");
    assert_eq!(t["rows"][0]["object"], cm);
    let t = build_table(
        &cols,
        &[],
        json!({}),
        IncludeObject::None,
        TableVersion::V1,
        now(),
    );
    assert_eq!(t["rows"], json!([]));
    let t = build_table(
        &cols,
        &[&cm],
        json!({}),
        IncludeObject::None,
        TableVersion::V1,
        now(),
    );
    assert!(t["rows"][0].get("object").is_none());
}
