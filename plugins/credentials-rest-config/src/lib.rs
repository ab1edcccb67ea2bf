//! Credentials from the registry's own entry formats, parsed as the host parses them:
//!
//! - `kind` `rest-config`: Go's `rest.Config` as JSON (`Host`, `APIPath`, `BearerToken`,
//!   `Username`/`Password`, `TLSClientConfig` with `Insecure`, `ServerName` and base64
//!   `CAData`/`CertData`/`KeyData`; unknown fields ignored) — see [`rest_config`].
//! - `kind` `kubeconfig`: a kubeconfig in YAML; its `current-context`, else its only context;
//!   that context's cluster (`server`, `certificate-authority-data`, `insecure-skip-tls-verify`,
//!   `tls-server-name`) and user (`token`, `client-certificate-data` + `client-key-data`, or
//!   `username`/`password`) — see [`kubeconfig`].
//!
//! Any other kind is an error. The CA comes back as PEM text. One way to authenticate per entry
//! (a token and a client certificate together is an error: the interface carries one). What
//! names a file (`BearerTokenFile`, `CAFile`, `token-file`…) is an error unless the inline data is
//! there too: this plugin reads no files (credentials-token-file does). `exec` and `auth-provider`
//! users are errors: a plugin runs no commands.
//!
//! Expiry: 0 (none), unless the token is a JWT with an `exp` claim (read from its payload, not
//! verified): then that. Errors name the entry's fields, never their values; parse errors say
//! where (line and column), never what the parser saw. The config is ignored.

pub mod kubeconfig;
pub mod rest_config;

use flotilla_plugin_sdk::v0_1_0::credentials::log::{self, Level};
use flotilla_plugin_sdk::v0_1_0::credentials::{self, *};

use base64::Engine as _;

struct RestConfigProvider;

impl Guest for RestConfigProvider {
    fn provide(
        cluster: String,
        kind: String,
        entry: Vec<u8>,
        _config: String,
        now: u64,
    ) -> Result<Credentials, PluginError> {
        let credentials = credentials(&kind, &entry).map_err(|message| PluginError { message })?;
        if credentials.expires_at != 0 && credentials.expires_at <= now && log::enabled(Level::Warn)
        {
            log::write(
                Level::Warn,
                &format!(
                    "cluster {cluster:?}: the token in its {kind} entry has expired (its exp claim)"
                ),
            );
        }
        Ok(credentials)
    }
}

credentials::export!(RestConfigProvider);

/// The credentials in an entry of `kind`, or what is wrong with it (never a secret value).
pub fn credentials(kind: &str, entry: &[u8]) -> Result<Credentials, String> {
    match kind {
        "rest-config" => rest_config::credentials(entry),
        "kubeconfig" => kubeconfig::credentials(entry),
        other => Err(format!(
            "entries of kind {other:?} are not supported: this plugin reads rest-config and kubeconfig"
        )),
    }
}

/// PEM text from a base64 field (`field` names it in errors).
fn pem(field: &str, base64: &str) -> Result<String, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64)
        .map_err(|_| format!("{field} is not base64"))?;
    match String::from_utf8(bytes) {
        Ok(text) if text.contains("-----BEGIN ") => Ok(text),
        _ => Err(format!("{field} is not PEM (no -----BEGIN line)")),
    }
}

/// The ways an entry may authenticate, each with the field names that spell it.
struct AuthFields<'a> {
    token: (&'a str, Option<String>),
    cert: (&'a str, Option<String>),
    key: (&'a str, Option<String>),
    username: (&'a str, Option<String>),
    password: (&'a str, Option<String>),
}

/// The one way to authenticate `fields` give, and when it expires (0: never).
fn auth(fields: AuthFields) -> Result<(Auth, u64), String> {
    let set =
        |(name, value): (&str, Option<String>)| (name.to_string(), value.filter(|v| !v.is_empty()));
    let (token_name, token) = set(fields.token);
    let (cert_name, cert) = set(fields.cert);
    let (key_name, key) = set(fields.key);
    let (user_name, user) = set(fields.username);
    let (password_name, password) = set(fields.password);
    let certificate = match (cert, key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        (Some(_), None) => return Err(format!("{cert_name} is set without {key_name}")),
        (None, Some(_)) => return Err(format!("{key_name} is set without {cert_name}")),
    };
    if user.is_none() && password.is_some() {
        return Err(format!("{password_name} is set without {user_name}"));
    }
    let methods: Vec<&str> = [
        (token.is_some(), token_name.as_str()),
        (certificate.is_some(), cert_name.as_str()),
        (user.is_some(), user_name.as_str()),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect();
    if methods.len() > 1 {
        return Err(format!(
            "has more than one way to authenticate ({}); a plugin's credentials carry one",
            methods.join(", ")
        ));
    }
    Ok(match (token, certificate, user) {
        (Some(token), _, _) => {
            let expires = jwt_expiry(&token).unwrap_or(0);
            (Auth::BearerToken(token), expires)
        }
        (_, Some(pair), _) => (Auth::ClientCertificate(pair), 0),
        (_, _, Some(user)) => (Auth::Basic((user, password.unwrap_or_default())), 0),
        _ => (Auth::None, 0),
    })
}

/// The `exp` claim of a JWT (seconds since the epoch), read from its payload without verifying
/// anything; `None` for a token that is not a JWT or has no such claim.
pub fn jwt_expiry(token: &str) -> Option<u64> {
    let mut parts = token.trim().split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&json).ok()?;
    let exp = claims.get("exp")?;
    // Seconds, as a whole number or (some issuers) with a fraction.
    exp.as_u64().or_else(|| {
        exp.as_f64()
            .filter(|s| *s >= 0.0 && s.is_finite())
            .map(|s| s as u64)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A JWT with these claims (the signature is not checked, so any will do).
    pub fn jwt(claims: &str) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.c2lnbmF0dXJl", b64(r#"{"alg":"RS256"}"#), b64(claims))
    }

    #[test]
    fn jwt_expiry_reads_the_exp_claim() {
        assert_eq!(
            jwt_expiry(&jwt(r#"{"sub":"x","exp":1700000000}"#)),
            Some(1_700_000_000)
        );
        assert_eq!(
            jwt_expiry(&jwt(r#"{"exp":1700000000.5}"#)),
            Some(1_700_000_000)
        );
        assert_eq!(jwt_expiry(&jwt(r#"{"sub":"x"}"#)), None);
        assert_eq!(jwt_expiry(&jwt(r#"{"exp":"soon"}"#)), None);
        assert_eq!(jwt_expiry(&jwt(r#"{"exp":-5}"#)), None);
        assert_eq!(jwt_expiry("s3cr3t-opaque-token"), None);
        assert_eq!(jwt_expiry("a.b.c.d"), None);
        assert_eq!(jwt_expiry("a.!!!.c"), None);
    }

    #[test]
    fn unknown_kinds_are_refused() {
        assert_eq!(
            credentials("exec", b"{}").unwrap_err(),
            r#"entries of kind "exec" are not supported: this plugin reads rest-config and kubeconfig"#
        );
    }

    #[test]
    fn pem_fields_must_be_base64_pem() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert_eq!(pem("CAData", &b64(ca)).unwrap(), ca);
        assert_eq!(pem("CAData", "%%%").unwrap_err(), "CAData is not base64");
        assert_eq!(
            pem("CAData", &b64("just text")).unwrap_err(),
            "CAData is not PEM (no -----BEGIN line)"
        );
    }
}
