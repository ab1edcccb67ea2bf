//! `credentials-eks`: a presigned `GetCallerIdentity` URL as EKS's token, checked against a SigV4
//! signature computed here; errors name the field, never the key.

use crate::*;

pub(crate) const ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
pub(crate) const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// 2023-11-14T22:13:20Z.
pub(crate) const NOW: u64 = 1_700_000_000;

pub(crate) fn eks_entry() -> String {
    format!(
        r#"{{"server": "https://ABC.gr7.us-east-1.eks.amazonaws.com/", "caData": "{}",
            "region": "us-east-1", "clusterName": "prod-eks",
            "accessKeyId": "{ACCESS_KEY_ID}", "secretAccessKey": "{SECRET_ACCESS_KEY}"}}"#,
        STANDARD.encode(CA)
    )
}

pub(crate) fn eks() -> CredentialPlugin {
    credential_plugin("eks", "credentials_eks", Grants::default())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `text` is all lowercase hexadecimal digits.
pub(crate) fn lowercase_hex(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// HMAC-SHA256 (RFC 2104), by hand: the test checks the signature independently of the
/// plugin's aws-sigv4.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(data)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// The SigV4 signature of aws-iam-authenticator's presigned GetCallerIdentity for `cluster`,
/// over `query` (the URL's query before `&X-Amz-Signature=`, already canonical: sorted and
/// encoded), at 20231114T221320Z in us-east-1.
pub(crate) fn expected_signature(query: &str, cluster: &str) -> String {
    let canonical = format!(
        "GET\n/\n{query}\nhost:sts.us-east-1.amazonaws.com\nx-k8s-aws-id:{cluster}\n\nhost;x-k8s-aws-id\n{}",
        hex(&Sha256::digest(b""))
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n20231114T221320Z\n20231114/us-east-1/sts/aws4_request\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = format!("AWS4{SECRET_ACCESS_KEY}").into_bytes();
    for part in ["20231114", "us-east-1", "sts", "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    hex(&hmac_sha256(&key, to_sign.as_bytes()))
}

#[test]
fn eks_signs_a_get_caller_identity_url_at_the_hosts_time() {
    let plugin = eks();
    let c = plugin
        .provide("prod", "eks", eks_entry().as_bytes(), "", NOW)
        .unwrap();
    assert_eq!(c.server, "https://ABC.gr7.us-east-1.eks.amazonaws.com");
    assert_eq!(c.ca_pem, CA);
    assert_eq!(c.expires_at, Some(NOW + 840));
    let token = bearer(&c).to_string();
    let encoded = token
        .strip_prefix("k8s-aws-v1.")
        .unwrap_or_else(|| panic!("no k8s-aws-v1. prefix: {token}"));
    let url = String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap();
    let query = format!(
        "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential={ACCESS_KEY_ID}%2F20231114%2Fus-east-1%2Fsts%2Faws4_request\
         &X-Amz-Date=20231114T221320Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"
    );
    let prefix = format!("https://sts.us-east-1.amazonaws.com/?{query}&X-Amz-Signature=");
    let signature = url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{url}\ndoes not start with\n{prefix}"));
    assert_eq!(signature.len(), 64, "{signature}");
    assert!(lowercase_hex(signature), "{signature}");
    assert_eq!(signature, expected_signature(&query, "prod-eks"));
    // The secret signs; it is never sent.
    assert_hidden(&token, SECRET_ACCESS_KEY);
    assert_hidden(&url, SECRET_ACCESS_KEY);
    assert_hidden(&url, "wJalrXUtnFEMI");
    let shown = format!("{c:?}");
    assert_hidden(&shown, &token);
    assert_hidden(&shown, SECRET_ACCESS_KEY);
}

#[test]
fn eks_tokens_depend_only_on_the_inputs() {
    let plugin = eks();
    let token = |cluster: &str, entry: &str, now: u64| {
        bearer(
            &plugin
                .provide(cluster, "eks", entry.as_bytes(), "", now)
                .unwrap(),
        )
        .to_string()
    };
    let first = token("prod", &eks_entry(), NOW);
    assert_eq!(token("prod", &eks_entry(), NOW), first);
    // A fresh plugin (so a fresh instance) too.
    assert_eq!(
        bearer(
            &eks()
                .provide("prod", "eks", eks_entry().as_bytes(), "", NOW)
                .unwrap()
        ),
        first
    );
    assert_ne!(token("prod", &eks_entry(), NOW + 1), first);
    // Without clusterName the registry's name is signed, so another token.
    let unnamed = eks_entry().replace(r#""clusterName": "prod-eks","#, "");
    assert_ne!(token("prod", &unnamed, NOW), first);
    assert_eq!(
        token("prod-eks", &unnamed, NOW),
        first,
        "the registry's name standing in for clusterName"
    );
}

#[test]
fn eks_errors_name_the_field_never_the_key() {
    let plugin = eks();
    let err = |entry: &str| {
        let e = plugin
            .provide("prod", "eks", entry.as_bytes(), "", NOW)
            .unwrap_err();
        assert_hidden(&e.to_string(), SECRET_ACCESS_KEY);
        assert_hidden(&e.to_string(), ACCESS_KEY_ID);
        e
    };
    let without = |field: &str| {
        let needle = match field {
            "secretAccessKey" => format!(r#", "secretAccessKey": "{SECRET_ACCESS_KEY}""#),
            "region" => r#""region": "us-east-1", "#.to_string(),
            other => panic!("{other}"),
        };
        let entry = eks_entry();
        assert!(entry.contains(&needle), "{entry}");
        entry.replace(&needle, "")
    };
    assert_eq!(
        err(&without("secretAccessKey")),
        refused("eks", "the entry has no secretAccessKey")
    );
    assert_eq!(
        err(&without("region")),
        refused("eks", "the entry has no region")
    );
    // A secret where a string belongs (serde_json points just before the `[`), and a secret in
    // JSON that does not parse.
    assert_eq!(
        err(&format!(
            r#"{{"server": "https://h", "secretAccessKey": ["{SECRET_ACCESS_KEY}"]}}"#
        )),
        refused(
            "eks",
            "the entry is not valid: a field of the wrong type (or given twice) at line 1, column 43"
        )
    );
    let broken = format!(r#"{{"secretAccessKey": "{SECRET_ACCESS_KEY}" "server": 1}}"#);
    let e = err(&broken);
    assert!(
        matches!(&e, PluginError::Refused { message, .. }
            if message.starts_with("the entry is not valid: malformed JSON at line 1, column ")),
        "{e}"
    );
}
