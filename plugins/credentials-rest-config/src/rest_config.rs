//! Go's `rest.Config` as JSON, read exactly as the host reads it (host/src/clusters/rest_config.rs:
//! the same fields and defaults, unknown fields ignored, base64 in `TLSClientConfig`), into the
//! plugin interface's credentials.

use serde::Deserialize;

use crate::{AuthFields, Credentials, auth, pem};

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RestConfig {
    host: String,
    #[serde(rename = "APIPath")]
    api_path: String,
    username: String,
    password: String,
    bearer_token: String,
    bearer_token_file: String,
    #[serde(rename = "TLSClientConfig")]
    tls: TlsClientConfig,
    /// Not used (the interface has no timeout), but read: the host refuses an entry whose
    /// `Timeout` is not a number, and so does this.
    #[allow(dead_code)]
    timeout: i64,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct TlsClientConfig {
    insecure: bool,
    server_name: String,
    cert_file: String,
    key_file: String,
    #[serde(rename = "CAFile")]
    ca_file: String,
    cert_data: Option<String>,
    key_data: Option<String>,
    #[serde(rename = "CAData")]
    ca_data: Option<String>,
}

/// `field` names a file and `inline`, its data, is not there: this plugin reads no files.
fn file_only(field: &str, path: &str, inline: &str, has_inline: bool) -> Result<(), String> {
    if path.is_empty() || has_inline {
        return Ok(());
    }
    Err(format!(
        "{field} names a file, and this plugin reads none: put the data in {inline}"
    ))
}

/// The credentials in one `rest-config` entry.
pub fn credentials(entry: &[u8]) -> Result<Credentials, String> {
    let problem = |p: String| format!("the rest-config entry {p}");
    let config: RestConfig = serde_json::from_slice(entry).map_err(|e| {
        // Where and what kind of problem only: serde's own message may quote a value.
        let kind = match e.classify() {
            serde_json::error::Category::Syntax => "malformed JSON",
            serde_json::error::Category::Eof => "JSON that ends too soon",
            serde_json::error::Category::Data => "a field of the wrong type",
            serde_json::error::Category::Io => "unreadable",
        };
        problem(format!(
            "is not rest config JSON: {kind} at line {}, column {}",
            e.line(),
            e.column()
        ))
    })?;
    let host = config.host.trim();
    if host.is_empty() {
        return Err(problem("has no Host".into()));
    }
    if !(host.starts_with("https://") || host.starts_with("http://")) {
        return Err(problem(format!("Host {host:?} is not an http(s) URL")));
    }
    let tls = &config.tls;
    let checks = [
        file_only(
            "BearerTokenFile",
            &config.bearer_token_file,
            "BearerToken",
            !config.bearer_token.is_empty(),
        ),
        file_only(
            "TLSClientConfig.CAFile",
            &tls.ca_file,
            "TLSClientConfig.CAData",
            tls.ca_data.is_some(),
        ),
        file_only(
            "TLSClientConfig.CertFile",
            &tls.cert_file,
            "TLSClientConfig.CertData",
            tls.cert_data.is_some(),
        ),
        file_only(
            "TLSClientConfig.KeyFile",
            &tls.key_file,
            "TLSClientConfig.KeyData",
            tls.key_data.is_some(),
        ),
    ];
    checks
        .into_iter()
        .collect::<Result<(), String>>()
        .map_err(problem)?;
    let decode = |field: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|v| pem(&format!("TLSClientConfig.{field}"), v))
            .transpose()
            .map_err(problem)
    };
    let ca_pem = decode("CAData", &tls.ca_data)?.unwrap_or_default();
    let cert = decode("CertData", &tls.cert_data)?;
    let key = decode("KeyData", &tls.key_data)?;
    let (auth, expires_at) = auth(AuthFields {
        token: ("BearerToken", Some(config.bearer_token.clone())),
        cert: ("TLSClientConfig.CertData", cert),
        key: ("TLSClientConfig.KeyData", key),
        username: ("Username", Some(config.username.clone())),
        password: ("Password", Some(config.password.clone())),
    })
    .map_err(problem)?;
    // As the host's kubeconfig for it: no trailing slash, the APIPath after the host.
    let mut server = host.trim_end_matches('/').to_string();
    if !config.api_path.is_empty() && config.api_path != "/" {
        server.push_str(&config.api_path);
    }
    Ok(Credentials {
        server,
        ca_pem,
        insecure: tls.insecure,
        server_name: tls.server_name.clone(),
        auth,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;
    use crate::Auth;
    use crate::tests::jwt;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n";

    #[test]
    fn the_designs_example_gives_a_token_and_the_ca() {
        let json = format!(
            r#"{{
          "Host": "https://0.0.0.0:57667/", "APIPath": "", "Username": "", "Password": "",
          "BearerToken": "s3cr3t-token",
          "TLSClientConfig": {{"Insecure": false, "ServerName": "api.internal", "CertFile": "", "KeyFile": "",
            "CAFile": "", "CertData": null, "KeyData": null, "CAData": "{}", "NextProtos": null}},
          "UserAgent": "", "DisableCompression": false, "QPS": 0, "Burst": 0, "Timeout": 0
        }}"#,
            b64(CA)
        );
        let c = credentials(json.as_bytes()).unwrap();
        assert_eq!(c.server, "https://0.0.0.0:57667");
        assert_eq!(c.ca_pem, CA);
        assert!(!c.insecure);
        assert_eq!(c.server_name, "api.internal");
        assert_eq!(c.auth, Auth::BearerToken("s3cr3t-token".into()));
        assert_eq!(c.expires_at, 0);
    }

    #[test]
    fn each_way_to_authenticate() {
        let c = |json: String| credentials(json.as_bytes()).unwrap();
        let token = jwt(r#"{"exp":1800000000}"#);
        let t = c(format!(
            r#"{{"Host": "https://h", "BearerToken": "{token}"}}"#
        ));
        assert_eq!(
            (t.auth, t.expires_at),
            (Auth::BearerToken(token), 1_800_000_000)
        );
        let key = "-----BEGIN EC PRIVATE KEY-----\nk\n-----END EC PRIVATE KEY-----\n";
        let cert = c(format!(
            r#"{{"Host": "https://h", "APIPath": "/k8s", "TLSClientConfig": {{"Insecure": true, "CertData": "{}", "KeyData": "{}"}}}}"#,
            b64(CA),
            b64(key)
        ));
        assert_eq!(cert.server, "https://h/k8s");
        assert!(cert.insecure);
        assert_eq!(cert.auth, Auth::ClientCertificate((CA.into(), key.into())));
        let basic = c(r#"{"Host": "http://h:8080", "Username": "u", "Password": "p"}"#.into());
        assert_eq!(basic.auth, Auth::Basic(("u".into(), "p".into())));
        let none = c(r#"{"Host": "https://h"}"#.into());
        assert_eq!((none.auth, none.ca_pem.as_str()), (Auth::None, ""));
    }

    #[test]
    fn bad_entries_name_the_field_never_the_value() {
        let err = |j: &str| credentials(j.as_bytes()).unwrap_err();
        assert_eq!(
            err(r#"{"BearerToken": "s3cr3t"}"#),
            "the rest-config entry has no Host"
        );
        assert_eq!(
            err(r#"{"Host": "0.0.0.0:1", "BearerToken": "s3cr3t"}"#),
            r#"the rest-config entry Host "0.0.0.0:1" is not an http(s) URL"#
        );
        assert_eq!(
            err(
                r#"{"Host": "https://h", "TLSClientConfig": {"KeyData": "s3cr3t!", "CertData": "s3cr3t!"}}"#
            ),
            "the rest-config entry TLSClientConfig.CertData is not base64"
        );
        assert_eq!(
            err(r#"{"Host": "https://h", "BearerToken": 7}"#),
            "the rest-config entry is not rest config JSON: a field of the wrong type at line 1, column 38"
        );
        assert_eq!(
            err(r#"{"Host": "https://h", "Timeout": "5s"}"#),
            "the rest-config entry is not rest config JSON: a field of the wrong type at line 1, column 37"
        );
        let misplaced = err(r#"{"Host": "https://h", "TLSClientConfig": "s3cr3t"}"#);
        assert!(!misplaced.contains("s3cr3t"), "{misplaced}");
        assert_eq!(
            err(
                r#"{"Host": "https://h", "BearerToken": "s3cr3t", "Username": "u", "Password": "s3cr3t"}"#
            ),
            "the rest-config entry has more than one way to authenticate (BearerToken, Username); a plugin's credentials carry one"
        );
        assert_eq!(
            err(&format!(
                r#"{{"Host": "https://h", "TLSClientConfig": {{"CertData": "{}"}}}}"#,
                b64(CA)
            )),
            "the rest-config entry TLSClientConfig.CertData is set without TLSClientConfig.KeyData"
        );
        assert_eq!(
            err(r#"{"Host": "https://h", "Password": "s3cr3t"}"#),
            "the rest-config entry Password is set without Username"
        );
        assert_eq!(
            err(r#"{"Host": "https://h", "BearerTokenFile": "/var/run/token"}"#),
            "the rest-config entry BearerTokenFile names a file, and this plugin reads none: put the data in BearerToken"
        );
        assert_eq!(
            err(&format!(
                r#"{{"Host": "https://h", "TLSClientConfig": {{"CAData": "{}"}}}}"#,
                b64("s3cr3t")
            )),
            "the rest-config entry TLSClientConfig.CAData is not PEM (no -----BEGIN line)"
        );
    }
}
