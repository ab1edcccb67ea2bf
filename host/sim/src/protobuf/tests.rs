//! Decoder tests. `fixtures/*.pb` are bodies captured from kubectl 1.32
//! (`kubectl create ...` against a loopback server that saved each POST
//! body); `fixtures/*.json` are `kubectl create ... --dry-run=client -o json`
//! for the same commands, i.e. the JSON kubectl would have sent instead.

use serde_json::{Value, json};

use super::{ProtobufError, decode_detailed};

const FIXTURES: &[&str] = &[
    "namespace",
    "configmap",
    "secret",
    "secret_dockerconfigjson",
    "serviceaccount",
    "serviceaccount_namespaced",
    "role",
    "rolebinding",
    "clusterrole",
    "clusterrole_aggregated",
    "clusterrolebinding",
    "deployment",
    "job",
    "cronjob",
    "service",
    "quota",
    "ingress",
    "pdb",
    "priorityclass",
];

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/src/protobuf/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The decoded object alone.
fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    decode_detailed(body).map(|decoded| decoded.object)
}

#[test]
fn kubectl_bodies_decode_to_the_json_kubectl_would_send() {
    for name in FIXTURES {
        let decoded = decode_detailed(&fixture(&format!("{name}.pb"))).unwrap();
        let expected: Value = serde_json::from_slice(&fixture(&format!("{name}.json"))).unwrap();
        assert_eq!(decoded.object, expected, "{name}");
        assert_eq!(decoded.unknown_fields, Vec::<String>::new(), "{name}");
    }
}

#[test]
fn kubectl_create_token_body() {
    // kubectl create token sa1 --audience=a1 --audience=a2 --duration=1h
    //   --bound-object-kind=Pod --bound-object-name=p1 --bound-object-uid=1234
    let object = decode(&fixture("token.pb")).unwrap();
    let expected = json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "metadata": {"creationTimestamp": null},
        "spec": {
            "audiences": ["a1", "a2"],
            "expirationSeconds": 3600,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p1", "uid": "1234"},
        },
        "status": {"token": "", "expirationTimestamp": null},
    });
    assert_eq!(object, expected);
}

// A minimal encoder for hand-built bodies.
fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}
fn bytes(num: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint(u64::from(num) << 3 | 2, &mut out);
    varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}
fn s(num: u32, text: &str) -> Vec<u8> {
    bytes(num, text.as_bytes())
}
fn i(num: u32, value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    varint(u64::from(num) << 3, &mut out);
    varint(value, &mut out);
    out
}
fn m(num: u32, parts: &[Vec<u8>]) -> Vec<u8> {
    bytes(num, &parts.concat())
}
fn entry(num: u32, key: &str, value: Vec<u8>) -> Vec<u8> {
    m(num, &[s(1, key), value])
}
fn body(api_version: &str, kind: &str, raw: &[Vec<u8>]) -> Vec<u8> {
    let type_meta = m(1, &[s(1, api_version), s(2, kind)]);
    [b"k8s\0".to_vec(), type_meta, bytes(2, &raw.concat())].concat()
}

#[test]
fn pod_like_kubectl_run_builds_it() {
    let container = m(
        2,
        &[
            s(1, "p1"),
            s(2, "busybox"),
            s(3, "sh"),
            s(3, "-c"),
            s(4, "echo hi"),
            m(6, &[i(3, 80), s(4, "TCP")]),
            m(7, &[s(1, "X"), s(2, "1")]),
            m(7, &[s(1, "EMPTY"), s(2, "")]),
            m(
                7,
                &[
                    s(1, "CM"),
                    m(3, &[m(3, &[m(1, &[s(1, "cm1")]), s(2, "k")])]),
                ],
            ),
            m(
                8,
                &[
                    entry(1, "cpu", m(2, &[s(1, "500m")])),
                    entry(2, "memory", m(2, &[s(1, "64Mi")])),
                ],
            ),
            m(9, &[s(1, "data"), s(3, "/data")]),
            s(14, "IfNotPresent"),
            m(15, &[i(2, 0), m(1, &[s(2, "ALL")])]),
            i(16, 1),
            i(18, 1),
        ],
    );
    let spec = m(
        2,
        &[
            m(1, &[s(1, "data"), m(2, &[m(2, &[s(1, "")])])]),
            m(
                1,
                &[
                    s(1, "cfg"),
                    m(2, &[m(19, &[m(1, &[s(1, "cm1")]), i(3, 420)])]),
                ],
            ),
            container,
            s(3, "Never"),
            s(6, "ClusterFirst"),
            i(4, 30),
            i(11, 0),
            m(14, &[i(2, 1000), bytes(4, &[0x05, 0x06])]),
        ],
    );
    let metadata = m(
        1,
        &[
            s(1, "p1"),
            s(3, "default"),
            s(4, ""),
            m(8, &[]),
            m(9, &[i(1, 1_700_000_000), i(2, 5)]),
            entry(11, "run", s(2, "p1")),
            m(
                13,
                &[
                    s(1, "ReplicaSet"),
                    s(3, "rs"),
                    s(4, "u1"),
                    s(5, "apps/v1"),
                    i(6, 1),
                ],
            ),
        ],
    );
    let decoded = decode_detailed(&body("v1", "Pod", &[metadata, spec, m(3, &[])])).unwrap();
    let expected = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p1",
            "namespace": "default",
            "creationTimestamp": null,
            "deletionTimestamp": "2023-11-14T22:13:20Z",
            "labels": {"run": "p1"},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1", "controller": true}
            ],
        },
        "spec": {
            "volumes": [
                {"name": "data", "emptyDir": {}},
                {"name": "cfg", "configMap": {"name": "cm1", "defaultMode": 420}},
            ],
            "containers": [{
                "name": "p1",
                "image": "busybox",
                "command": ["sh", "-c"],
                "args": ["echo hi"],
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "env": [
                    {"name": "X", "value": "1"},
                    {"name": "EMPTY"},
                    {"name": "CM", "valueFrom": {"configMapKeyRef": {"name": "cm1", "key": "k"}}},
                ],
                "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                "imagePullPolicy": "IfNotPresent",
                "securityContext": {"privileged": false, "capabilities": {"drop": ["ALL"]}},
                "stdin": true,
                "tty": true,
            }],
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "securityContext": {"runAsUser": 1000, "supplementalGroups": [5, 6]},
        },
        "status": {},
    });
    assert_eq!(decoded.object, expected);
    assert!(
        decoded.unknown_fields.is_empty(),
        "{:?}",
        decoded.unknown_fields
    );
}

#[test]
fn secret_bytes_are_base64_and_pointer_fields_keep_zero_values() {
    let raw = [
        m(1, &[s(1, "s1")]),
        m(2, &[s(1, "bin"), bytes(2, &[0, 0xff, 0xfe])]),
        m(2, &[s(1, "empty")]),
        s(3, "Opaque"),
        i(5, 0),
    ];
    let object = decode(&body("v1", "Secret", &raw)).unwrap();
    let expected = json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"},
        "data": {"bin": "AP/+", "empty": ""}, "type": "Opaque", "immutable": false,
    });
    assert_eq!(object, expected);
}

#[test]
fn service_target_port_int_or_string_and_delete_options() {
    let port = m(1, &[s(1, "http"), i(3, 80), m(4, &[i(1, 1), s(3, "web")])]);
    let object = decode(&body("v1", "Service", &[m(2, &[port, s(4, "ClusterIP")])])).unwrap();
    assert_eq!(
        object["spec"],
        json!({"ports": [{"name": "http", "port": 80, "targetPort": "web"}], "type": "ClusterIP"})
    );

    let raw = [
        i(1, 0),
        m(2, &[s(1, "u1"), s(2, "7")]),
        s(4, "Foreground"),
        s(5, "All"),
    ];
    let object = decode(&body("rbac.authorization.k8s.io/v1", "DeleteOptions", &raw)).unwrap();
    let expected = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "DeleteOptions",
        "gracePeriodSeconds": 0, "preconditions": {"uid": "u1", "resourceVersion": "7"},
        "propagationPolicy": "Foreground", "dryRun": ["All"],
    });
    assert_eq!(object, expected);
}

#[test]
fn required_fields_absent_from_the_body_take_go_zero_values() {
    // A RoleBinding without roleRef and a Role without rules, as another
    // encoder than gogo might send them.
    let object = decode(&body("rbac.authorization.k8s.io/v1", "RoleBinding", &[])).unwrap();
    assert_eq!(
        object["roleRef"],
        json!({"apiGroup": "", "kind": "", "name": ""})
    );
    let object = decode(&body("rbac.authorization.k8s.io/v1", "Role", &[])).unwrap();
    assert_eq!(
        object,
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "rules": null})
    );
}

#[test]
fn unknown_fields_are_skipped_and_reported() {
    let raw = [
        m(1, &[s(1, "cm"), i(99, 3)]),
        entry(2, "a", s(2, "b")),
        s(42, "x"),
    ];
    let decoded = decode_detailed(&body("v1", "ConfigMap", &raw)).unwrap();
    assert_eq!(
        decoded.object,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "b"}})
    );
    assert_eq!(decoded.unknown_fields.len(), 2);
    assert!(decoded.unknown_fields[0].contains("metadata: field number 99 of ObjectMeta"));
    assert!(decoded.unknown_fields[1].contains("<root>: field number 42 of ConfigMap"));
}

#[test]
fn unsupported_kinds_are_415_errors_naming_the_type() {
    let err = decode(&body("apps/v1", "StatefulSet", &[])).unwrap_err();
    let ProtobufError::UnsupportedType { api_version, kind } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(
        (api_version.as_str(), kind.as_str()),
        ("apps/v1", "StatefulSet")
    );
    let message = err.to_string();
    assert!(
        message.contains("\"StatefulSet\" in version \"apps/v1\""),
        "{message}"
    );
    assert!(message.contains("Namespace (v1)"), "{message}");
    // Same kind, other version: still unsupported.
    assert!(matches!(
        decode(&body("v2", "Namespace", &[])),
        Err(ProtobufError::UnsupportedType { .. })
    ));
}

#[test]
fn malformed_bodies_are_400_errors_saying_what_is_wrong() {
    let cases: &[(Vec<u8>, &str)] = &[
        (
            b"{\"kind\":\"Namespace\"}".to_vec(),
            "does not appear to be a protobuf message",
        ),
        (b"k8s\0\x0a\x05\x0a\x02v1".to_vec(), "unexpected EOF"),
        (b"k8s\0\x0f".to_vec(), "illegal wireType 7"),
        (b"k8s\0\x00\x00".to_vec(), "illegal tag 0"),
        (
            body("v1", "Namespace", &[i(1, 5)]),
            "wrong wireType = 0 for field metadata",
        ),
        (
            body("v1", "Namespace", &[m(1, &[i(1, 1)])]),
            "wrong wireType = 0 for field name",
        ),
        (
            body(
                "v1",
                "Namespace",
                &[vec![
                    0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                ]],
            ),
            "integer overflow",
        ),
        (
            [body("v1", "Namespace", &[]), s(3, "gzip")].concat(),
            "contentEncoding \"gzip\"",
        ),
    ];
    for (input, needle) in cases {
        let err = decode(input).unwrap_err();
        assert!(matches!(err, ProtobufError::Malformed(_)), "{err:?}");
        assert!(
            err.to_string().contains(needle),
            "{err} should mention {needle}"
        );
    }
}

#[test]
fn no_input_makes_the_decoder_panic() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for name in FIXTURES.iter().chain(&["token"]) {
        let good = fixture(&format!("{name}.pb"));
        // Every truncation must not panic, and one inside the magic, the
        // typeMeta or `raw` must fail. kubectl bodies are `k8s\0`, typeMeta
        // (short), raw, then empty contentEncoding and contentType.
        assert!(good.ends_with(&[0x1a, 0, 0x22, 0]), "{name}");
        let (type_meta_end, raw_end) = (6 + usize::from(good[5]), good.len() - 4);
        for len in 0..good.len() {
            let result = decode(&good[..len]);
            if len < type_meta_end || (type_meta_end < len && len < raw_end) {
                assert!(result.is_err(), "{name} cut at {len}");
            }
        }
        // Random byte corruptions.
        for _ in 0..300 {
            let mut bad = good.clone();
            let at = 4 + (next() as usize) % (bad.len() - 4);
            bad[at] = next() as u8;
            let _ = decode(&bad);
        }
    }
    for _ in 0..2000 {
        let len = (next() % 64) as usize;
        let garbage: Vec<u8> = b"k8s\0"
            .iter()
            .copied()
            .chain((0..len).map(|_| next() as u8))
            .collect();
        let _ = decode(&garbage);
    }
}
