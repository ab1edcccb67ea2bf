//! Credential providers: rest-config, eks, token-file; secrets never shown.

use super::*;

// credentials-rest-config

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

// ---------------------------------------------------------------------------------------------
// credentials-eks

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

// ---------------------------------------------------------------------------------------------
// credentials-token-file

/// A directory of its own under the system's temporary directory, removed when dropped.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "flotilla-plugin-worlds-{}-{tag}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        TempDir(dir)
    }

    /// Writes `text` to `name` in the directory; its path.
    pub(crate) fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) const FILE_TOKEN: &str = "s3cr3t-file-token-abcdef";

pub(crate) fn token_file_entry(path: &str) -> String {
    format!(
        r#"{{"server": "https://10.0.0.1:6443/", "tokenFile": "{path}", "serverName": "kubernetes.default"}}"#
    )
}

pub(crate) fn token_file(grants: Grants) -> CredentialPlugin {
    credential_plugin("token-file", "credentials_token_file", grants)
}

/// A grant of `dir` alone, to read.
pub(crate) fn reading(dir: &TempDir) -> Grants {
    Grants {
        read_only_dirs: vec![dir.0.clone()],
        deterministic: false,
    }
}

/// What the token-file plugin gives for the token file at `path`, with `config`.
pub(crate) fn provide_token_file(
    plugin: &CredentialPlugin,
    path: &str,
    config: &str,
) -> Result<ClusterCredentials, PluginError> {
    let entry = token_file_entry(path);
    plugin.provide("in-cluster", "token-file", entry.as_bytes(), config, NOW)
}

/// The token read through a plugin granted `dir`, checked; called from the test's own thread,
/// inside whatever runtime the test runs in.
pub(crate) fn read_granted_token(tag: &str) {
    let dir = TempDir::new(tag);
    let path = dir.write("token", &format!("  {FILE_TOKEN}\n"));
    let plugin = token_file(reading(&dir));
    let c = provide_token_file(&plugin, &path, r#"{"refreshSeconds": 30}"#)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.server, "https://10.0.0.1:6443");
    assert_eq!(c.server_name, "kubernetes.default");
    assert_eq!(bearer(&c), FILE_TOKEN);
    assert_eq!(c.expires_at, Some(NOW + 30));
    assert_hidden(&format!("{c:?}"), FILE_TOKEN);
    // Read on every call: a rotated token is the next answer, and the default refresh is 60 s.
    dir.write("token", "rotated-token");
    let c = provide_token_file(&plugin, &path, "").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bearer(&c), "rotated-token");
    assert_eq!(c.expires_at, Some(NOW + 60));
}

#[test]
fn token_file_reads_the_token_from_a_granted_directory() {
    read_granted_token("plain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_file_reads_inside_a_multi_threaded_runtime() {
    read_granted_token("multi-thread");
}

#[tokio::test]
async fn token_file_reads_inside_a_current_thread_runtime() {
    read_granted_token("current-thread");
}

#[test]
fn token_file_without_the_grant_cannot_read_and_says_so() {
    let dir = TempDir::new("ungranted");
    let path = dir.write("token", FILE_TOKEN);
    let err = provide_token_file(&token_file(Grants::default()), &path, "").unwrap_err();
    assert_eq!(
        err,
        refused(
            "token-file",
            &format!(
                "tokenFile {path}: not readable (has the directory been granted to this plugin?)"
            )
        )
    );
    assert_hidden(&err.to_string(), FILE_TOKEN);
    // A grant of another directory is no grant of this one.
    let other = TempDir::new("other");
    let err = provide_token_file(&token_file(reading(&other)), &path, "").unwrap_err();
    assert!(
        matches!(&err, PluginError::Refused { message, .. } if message.ends_with("not readable (has the directory been granted to this plugin?)")),
        "{err}"
    );
    assert_hidden(&err.to_string(), FILE_TOKEN);
}
