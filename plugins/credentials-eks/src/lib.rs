//! Amazon EKS credentials with no network and no AWS CLI: the bearer token aws-iam-authenticator
//! and `aws eks get-token` compute — a SigV4-presigned STS `GetCallerIdentity` URL bound to the
//! cluster's name — from an access key in the entry (see [`eks`]). Signed at the host's `now`;
//! the credentials expire 14 minutes later (STS honours the URL for 15), and the host asks again.
//!
//! The entry (any `kind`; JSON): `{"server": "https://…", "caData": "<base64 PEM>", "region":
//! "us-east-1", "clusterName": "…", "accessKeyId": "…", "secretAccessKey": "…", "sessionToken":
//! "…"}`. `caData` and `sessionToken` are optional, `clusterName` defaults to the registry's name
//! for the cluster. The AWS environment variables' names are accepted too: `AWS_REGION` (or
//! `AWS_DEFAULT_REGION`), `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
//! Unknown fields are ignored. The config is ignored.
//!
//! SigV4 comes from `aws-sigv4`, AWS's own crate from the Rust SDK (see [`sigv4`]), rather than
//! hand-written crypto and canonicalization: it builds for wasm32-wasip2 and the component stays
//! small (about 0.3 MB). Not with `default-features = false` alone: `sign::v4` needs its
//! `sign-http` feature, which needs `http1` — its defaults — so those two are on.
//! Errors name fields, never the keys or the token.

pub mod eks;
pub mod sigv4;

use flotilla_plugin_sdk::v0_1_0::credentials::log::{self, Level};
use flotilla_plugin_sdk::v0_1_0::credentials::{self, *};

use base64::Engine as _;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    server: Option<String>,
    ca_data: Option<String>,
    #[serde(alias = "AWS_REGION", alias = "AWS_DEFAULT_REGION")]
    region: Option<String>,
    cluster_name: Option<String>,
    #[serde(alias = "AWS_ACCESS_KEY_ID")]
    access_key_id: Option<String>,
    #[serde(alias = "AWS_SECRET_ACCESS_KEY")]
    secret_access_key: Option<String>,
    #[serde(alias = "AWS_SESSION_TOKEN")]
    session_token: Option<String>,
}

struct Eks;

impl Guest for Eks {
    fn provide(
        cluster: String,
        _kind: String,
        entry: Vec<u8>,
        _config: String,
        now: u64,
    ) -> Result<Credentials, PluginError> {
        let credentials =
            credentials(&cluster, &entry, now).map_err(|message| PluginError { message })?;
        if log::enabled(Level::Debug) {
            log::write(
                Level::Debug,
                &format!(
                    "cluster {cluster:?}: EKS token signed at {now}, used until {}",
                    credentials.expires_at
                ),
            );
        }
        Ok(credentials)
    }
}

credentials::export!(Eks);

fn credentials(cluster: &str, entry: &[u8], now: u64) -> Result<Credentials, String> {
    let entry: Entry = serde_json::from_slice(entry).map_err(|e| {
        // Where and what kind of problem only: serde's own message may quote a value.
        let kind = match e.classify() {
            serde_json::error::Category::Syntax => "malformed JSON",
            serde_json::error::Category::Eof => "JSON that ends too soon",
            serde_json::error::Category::Data => "a field of the wrong type (or given twice)",
            serde_json::error::Category::Io => "unreadable",
        };
        format!(
            "the entry is not valid: {kind} at line {}, column {}",
            e.line(),
            e.column()
        )
    })?;
    let required = |value: Option<String>, field: &str| {
        value
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("the entry has no {field}"))
    };
    let server = required(entry.server, "server")?;
    if !server.starts_with("https://") {
        return Err(format!("the entry's server {server:?} is not an https URL"));
    }
    let region = required(entry.region, "region")?;
    if !region
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(format!(
            "the entry's region {region:?} is not an AWS region (such as us-east-1)"
        ));
    }
    let cluster_name = match entry.cluster_name {
        Some(name) if !name.trim().is_empty() => name.trim().to_string(),
        _ => cluster.to_string(),
    };
    if cluster_name.is_empty() {
        return Err("the entry has no clusterName (the EKS cluster's name)".into());
    }
    let access_key_id = required(entry.access_key_id, "accessKeyId")?;
    let secret_access_key = required(entry.secret_access_key, "secretAccessKey")?;
    let session_token = entry
        .session_token
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let ca_pem = match entry.ca_data.as_deref().map(str::trim) {
        None | Some("") => String::new(),
        Some(data) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|_| "the entry's caData is not base64".to_string())?;
            match String::from_utf8(bytes) {
                Ok(text) if text.contains("-----BEGIN ") => text,
                _ => return Err("the entry's caData is not PEM (no -----BEGIN line)".into()),
            }
        }
    };
    let key = sigv4::AwsCredentials {
        access_key_id: &access_key_id,
        secret_access_key: &secret_access_key,
        session_token: session_token.as_deref(),
    };
    let token = eks::token(&cluster_name, &region, &key, now)?;
    Ok(Credentials {
        server: server.trim_end_matches('/').to_string(),
        ca_pem,
        insecure: false,
        server_name: String::new(),
        auth: Auth::BearerToken(token),
        expires_at: now.saturating_add(eks::TOKEN_LIFETIME),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n";
    const NOW: u64 = 1_704_164_645;

    fn entry(extra: &str) -> String {
        let ca = base64::engine::general_purpose::STANDARD.encode(CA);
        format!(
            r#"{{"server": "https://ABC.gr7.eu-west-1.eks.amazonaws.com/", "caData": "{ca}", "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKey": "s3cr3t/KEY"{extra}}}"#
        )
    }

    fn token_of(c: &Credentials) -> &str {
        match &c.auth {
            Auth::BearerToken(t) => t,
            other => panic!("not a token: {other:?}"),
        }
    }

    #[test]
    fn an_entry_gives_a_token_good_for_fourteen_minutes() {
        let c = credentials(
            "prod",
            entry(r#", "region": "eu-west-1", "clusterName": "prod-eks""#).as_bytes(),
            NOW,
        )
        .unwrap();
        assert_eq!(c.server, "https://ABC.gr7.eu-west-1.eks.amazonaws.com");
        assert_eq!(c.ca_pem, CA);
        assert_eq!(c.expires_at, NOW + 14 * 60);
        let key = sigv4::AwsCredentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE",
            secret_access_key: "s3cr3t/KEY",
            session_token: None,
        };
        assert_eq!(
            token_of(&c),
            eks::token("prod-eks", "eu-west-1", &key, NOW).unwrap()
        );
        // Without clusterName, the registry's name; the environment's spellings work too.
        let env = credentials(
            "prod",
            entry(r#", "AWS_REGION": "eu-west-1", "AWS_SESSION_TOKEN": "tok""#).as_bytes(),
            NOW,
        )
        .unwrap();
        let with_session = sigv4::AwsCredentials {
            session_token: Some("tok"),
            ..key
        };
        assert_eq!(
            token_of(&env),
            eks::token("prod", "eu-west-1", &with_session, NOW).unwrap()
        );
    }

    #[test]
    fn errors_name_the_field_never_the_key() {
        let e = |json: &str| {
            let e = credentials("c", json.as_bytes(), NOW).unwrap_err();
            assert!(!e.contains("s3cr3t") && !e.contains("AKIA"), "{e}");
            e
        };
        assert_eq!(e(&entry("")), "the entry has no region");
        assert_eq!(
            e(&entry(r#", "region": "eu-west-1/../x""#)),
            r#"the entry's region "eu-west-1/../x" is not an AWS region (such as us-east-1)"#
        );
        assert_eq!(
            e(r#"{"server": "https://h", "region": "us-east-1", "accessKeyId": "AKIA"}"#),
            "the entry has no secretAccessKey"
        );
        assert_eq!(
            e(r#"{"server": "http://h", "region": "us-east-1"}"#),
            r#"the entry's server "http://h" is not an https URL"#
        );
        assert_eq!(
            e(r#"{"server": "https://h", "secretAccessKey": 5}"#),
            "the entry is not valid: a field of the wrong type (or given twice) at line 1, column 44"
        );
        assert_eq!(
            e(
                r#"{"server": "https://h", "caData": "s3cr3t!", "region": "us-east-1", "accessKeyId": "AKIA", "secretAccessKey": "s3cr3t"}"#
            ),
            "the entry's caData is not base64"
        );
    }
}
