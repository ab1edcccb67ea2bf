//! `credentials-rest-config`: server, CA and token or client certificate from a `rest-config`
//! entry, a JWT's expiry, errors that never hold the secret, and no credentials for plain HTTP.

use crate::*;

pub(crate) const CA: &str =
    "-----BEGIN CERTIFICATE-----\nMIIBflotillaCA\n-----END CERTIFICATE-----\n";
pub(crate) const CERT: &str =
    "-----BEGIN CERTIFICATE-----\nMIIBflotillaClient\n-----END CERTIFICATE-----\n";
pub(crate) const KEY: &str =
    "-----BEGIN EC PRIVATE KEY-----\ns3cr3t-private-key\n-----END EC PRIVATE KEY-----\n";
pub(crate) const TOKEN: &str = "s3cr3t-bearer-token-0123456789";

/// The credential plugin `plugin`, from `plugins/`'s component `file`, granted `grants`.
pub(crate) fn credential_plugin(plugin: &str, file: &str, grants: Grants) -> CredentialPlugin {
    PluginHost::shared()
        .and_then(|host| host.credentials(plugin, &component(file), limits(), grants))
        .unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) fn rest_config() -> CredentialPlugin {
    credential_plugin("rest-config", "credentials_rest_config", Grants::default())
}

pub(crate) fn bearer(c: &ClusterCredentials) -> &str {
    match &c.auth {
        Auth::BearerToken(token) => token.expose_secret(),
        other => panic!("not a bearer token: {other:?}"),
    }
}

/// Neither the credentials' `Debug` nor anything else shown holds `secret`.
pub(crate) fn assert_hidden(shown: &str, secret: &str) {
    assert!(!secret.is_empty());
    assert!(!shown.contains(secret), "{secret:?} shown in {shown}");
}

/// A JWT with these claims (the signature is never checked).
pub(crate) fn jwt(claims: &str) -> String {
    format!(
        "{}.{}.c2lnbmF0dXJl",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims)
    )
}

#[test]
fn rest_config_gives_the_server_ca_and_token_without_showing_it() {
    let plugin = rest_config();
    let entry = format!(
        r#"{{"Host": "https://10.1.2.3:6443/", "APIPath": "", "BearerToken": "{TOKEN}",
            "TLSClientConfig": {{"Insecure": false, "ServerName": "api.internal", "CAData": "{}"}},
            "QPS": 0, "Burst": 0, "Timeout": 0}}"#,
        STANDARD.encode(CA)
    );
    let c = plugin
        .provide("east", "rest-config", entry.as_bytes(), "", 1_700_000_000)
        .unwrap();
    assert_eq!(c.server, "https://10.1.2.3:6443");
    assert_eq!(c.ca_pem, CA);
    assert!(!c.insecure);
    assert_eq!(c.server_name, "api.internal");
    assert_eq!(bearer(&c), TOKEN);
    assert_eq!(c.expires_at, None, "an opaque token does not expire");
    let shown = format!("{c:?}");
    assert!(shown.contains("BearerToken(<redacted>)"), "{shown}");
    assert_hidden(&shown, TOKEN);
}

#[test]
fn rest_config_dates_a_jwt_by_its_exp_claim() {
    let plugin = rest_config();
    let token = jwt(r#"{"sub":"system:serviceaccount:argo:flotilla","exp":1900000000}"#);
    let entry = format!(r#"{{"Host": "https://h.example", "BearerToken": "{token}"}}"#);
    let c = plugin
        .provide("east", "rest-config", entry.as_bytes(), "", 1_700_000_000)
        .unwrap();
    assert_eq!(bearer(&c), token);
    assert_eq!(c.expires_at, Some(1_900_000_000));
    assert_hidden(&format!("{c:?}"), &token);
    // Without an exp claim, no expiry.
    let token = jwt(r#"{"sub":"x"}"#);
    let entry = format!(r#"{{"Host": "https://h.example", "BearerToken": "{token}"}}"#);
    let c = plugin
        .provide("east", "rest-config", entry.as_bytes(), "", 1_700_000_000)
        .unwrap();
    assert_eq!(c.expires_at, None);
}

#[test]
fn rest_config_reads_a_kubeconfig_with_a_client_certificate() {
    let plugin = rest_config();
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: east\n\
         contexts:\n- name: east\n  context: {{cluster: east, user: east-admin, namespace: argo}}\n\
         - name: west\n  context: {{cluster: west, user: west-admin}}\n\
         clusters:\n- name: east\n  cluster:\n    server: https://east.example:6443\n    certificate-authority-data: {}\n    tls-server-name: api.east\n\
         - name: west\n  cluster: {{server: 'https://west.example'}}\n\
         users:\n- name: east-admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n\
         - name: west-admin\n  user: {{token: {TOKEN}}}\n",
        STANDARD.encode(CA),
        STANDARD.encode(CERT),
        STANDARD.encode(KEY),
    );
    let c = plugin
        .provide(
            "east",
            "kubeconfig",
            kubeconfig.as_bytes(),
            "",
            1_700_000_000,
        )
        .unwrap();
    assert_eq!(c.server, "https://east.example:6443");
    assert_eq!(c.ca_pem, CA);
    assert_eq!(c.server_name, "api.east");
    assert_eq!(c.expires_at, None);
    match &c.auth {
        Auth::ClientCertificate { cert_pem, key_pem } => {
            assert_eq!(cert_pem, CERT);
            assert_eq!(key_pem.expose_secret(), KEY);
        }
        other => panic!("not a client certificate: {other:?}"),
    }
    let shown = format!("{c:?}");
    assert!(shown.contains("ClientCertificate(<redacted>)"), "{shown}");
    assert_hidden(&shown, "s3cr3t-private-key");
    assert_hidden(&shown, TOKEN);
}

#[test]
fn rest_config_errors_never_hold_the_secret() {
    let plugin = rest_config();
    let err = |kind: &str, entry: &str| {
        let e = plugin
            .provide("east", kind, entry.as_bytes(), "", 0)
            .unwrap_err();
        assert_hidden(&e.to_string(), TOKEN);
        assert_hidden(&format!("{e:?}"), TOKEN);
        e
    };
    // Cut off after the token: serde's own message would not quote it, but where it stops.
    assert_eq!(
        err(
            "rest-config",
            &format!(r#"{{"Host": "https://h", "BearerToken": "{TOKEN}""#)
        ),
        refused(
            "rest-config",
            "the rest-config entry is not rest config JSON: JSON that ends too soon at line 1, column 69"
        )
    );
    // The token where an object belongs: serde's own message would quote it.
    assert_eq!(
        err(
            "rest-config",
            &format!(r#"{{"Host": "https://h", "TLSClientConfig": "{TOKEN}"}}"#)
        ),
        refused(
            "rest-config",
            "the rest-config entry is not rest config JSON: a field of the wrong type at line 1, column 73"
        )
    );
    assert_eq!(
        err("rest-config", &format!(r#"{{"BearerToken": "{TOKEN}"}}"#)),
        refused("rest-config", "the rest-config entry has no Host")
    );
    assert_eq!(
        err(
            "rest-config",
            &format!(
                r#"{{"Host": "https://h", "BearerToken": "{TOKEN}", "Username": "u", "Password": "{TOKEN}"}}"#
            )
        ),
        refused(
            "rest-config",
            "the rest-config entry has more than one way to authenticate (BearerToken, Username); a plugin's credentials carry one"
        )
    );
    // A mapping where the users list belongs: the kubeconfig's error says where, not what.
    assert_eq!(
        err(
            "kubeconfig",
            &format!("current-context: a\nusers:\n  token: {TOKEN}\n")
        ),
        refused(
            "rest-config",
            "the kubeconfig entry is not a kubeconfig (line 3, column 3)"
        )
    );
    assert_eq!(
        err("exec", "{}"),
        refused(
            "rest-config",
            r#"entries of kind "exec" are not supported: this plugin reads rest-config and kubeconfig"#
        )
    );
}

#[test]
fn the_host_refuses_credentials_for_a_server_that_is_not_https() {
    let plugin = rest_config();
    let entry = format!(r#"{{"Host": "http://plain.example:8080", "BearerToken": "{TOKEN}"}}"#);
    let err = plugin
        .provide("east", "rest-config", entry.as_bytes(), "", 0)
        .unwrap_err();
    assert_eq!(
        err,
        PluginError::Invalid {
            plugin: "rest-config".into(),
            what: "server",
            value: "http://plain.example:8080".into(),
            problem: "not an https:// URL with a host".into(),
        }
    );
    assert_hidden(&err.to_string(), TOKEN);
}
