//! A kubeconfig (YAML, as a profile Secret holds it), reduced to one connection: its
//! `current-context` (else its only context), that context's cluster and user.

use serde::Deserialize;

use crate::Auth;
use crate::{AuthFields, Credentials, auth, pem};

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct Kubeconfig {
    current_context: Option<String>,
    contexts: Option<Vec<Named<Context>>>,
    clusters: Option<Vec<Named<Cluster>>>,
    users: Option<Vec<Named<User>>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Named<T> {
    name: String,
    #[serde(alias = "context", alias = "cluster", alias = "user")]
    item: Option<T>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Context {
    cluster: String,
    user: String,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct Cluster {
    server: String,
    certificate_authority_data: Option<String>,
    certificate_authority: Option<String>,
    insecure_skip_tls_verify: bool,
    tls_server_name: String,
    proxy_url: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct User {
    token: Option<String>,
    #[serde(rename = "tokenFile")]
    token_file: Option<String>,
    client_certificate_data: Option<String>,
    client_key_data: Option<String>,
    client_certificate: Option<String>,
    client_key: Option<String>,
    username: Option<String>,
    password: Option<String>,
    exec: Option<serde_yaml::Value>,
    auth_provider: Option<serde_yaml::Value>,
    #[serde(rename = "as")]
    impersonate: Option<String>,
}

fn find<'a, T>(items: &'a Option<Vec<Named<T>>>, name: &str) -> Option<&'a Named<T>> {
    items.iter().flatten().find(|n| n.name == name)
}

/// A file-only field: this plugin reads no files.
fn no_file(
    what: &str,
    field: &str,
    path: &Option<String>,
    inline: &str,
    has_inline: bool,
) -> Result<(), String> {
    match path {
        Some(p) if !p.is_empty() && !has_inline => Err(format!(
            "{what}: {field} names a file, and this plugin reads none: put the data in {inline}"
        )),
        _ => Ok(()),
    }
}

/// The credentials of one kubeconfig entry.
pub fn credentials(entry: &[u8]) -> Result<Credentials, String> {
    let problem = |p: String| format!("the kubeconfig entry {p}");
    let kc: Kubeconfig = serde_yaml::from_slice(entry).map_err(|e| {
        // Where, not what: the parser's message may quote a credential.
        problem(format!(
            "is not a kubeconfig{}",
            e.location()
                .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
                .unwrap_or_default()
        ))
    })?;
    let contexts = kc.contexts.as_deref().unwrap_or_default();
    let context = match kc.current_context.as_deref().filter(|c| !c.is_empty()) {
        Some(current) => find(&kc.contexts, current).ok_or_else(|| {
            problem(format!(
                "has current-context {current:?}, which is not among its contexts"
            ))
        })?,
        None => match contexts {
            [only] => only,
            [] => return Err(problem("has no contexts".into())),
            many => {
                return Err(problem(format!(
                    "has no current-context and {} contexts: set current-context",
                    many.len()
                )));
            }
        },
    };
    let what = format!("context {:?}", context.name);
    let ctx = context
        .item
        .as_ref()
        .ok_or_else(|| problem(format!("{what} is empty")))?;
    let named_cluster = find(&kc.clusters, &ctx.cluster).ok_or_else(|| {
        problem(format!(
            "{what} names cluster {:?}, which it does not define",
            ctx.cluster
        ))
    })?;
    let what = format!("cluster {:?}", ctx.cluster);
    let cluster = named_cluster
        .item
        .as_ref()
        .ok_or_else(|| problem(format!("{what} is empty")))?;
    let server = cluster.server.trim();
    if server.is_empty() {
        return Err(problem(format!("{what} has no server")));
    }
    if !(server.starts_with("https://") || server.starts_with("http://")) {
        return Err(problem(format!(
            "{what}: server {server:?} is not an http(s) URL"
        )));
    }
    if cluster.proxy_url.as_deref().is_some_and(|p| !p.is_empty()) {
        return Err(problem(format!(
            "{what} has a proxy-url, which a plugin's credentials cannot carry"
        )));
    }
    no_file(
        &what,
        "certificate-authority",
        &cluster.certificate_authority,
        "certificate-authority-data",
        cluster.certificate_authority_data.is_some(),
    )
    .map_err(problem)?;
    let ca_pem = match &cluster.certificate_authority_data {
        Some(data) => pem(&format!("{what}: certificate-authority-data"), data).map_err(problem)?,
        None => String::new(),
    };
    let (auth, expires_at) = if ctx.user.is_empty() {
        (Auth::None, 0)
    } else {
        let named_user = find(&kc.users, &ctx.user).ok_or_else(|| {
            problem(format!(
                "context {:?} names user {:?}, which it does not define",
                context.name, ctx.user
            ))
        })?;
        let what = format!("user {:?}", ctx.user);
        user_auth(&what, named_user.item.as_ref()).map_err(problem)?
    };
    Ok(Credentials {
        server: server.to_string(),
        ca_pem,
        insecure: cluster.insecure_skip_tls_verify,
        server_name: cluster.tls_server_name.clone(),
        auth,
        expires_at,
    })
}

fn user_auth(what: &str, user: Option<&User>) -> Result<(Auth, u64), String> {
    let Some(user) = user else {
        return Ok((Auth::None, 0));
    };
    if user.exec.is_some() {
        return Err(format!(
            "{what} authenticates with exec (a command), which a plugin cannot run: use a token, a client certificate, or the credentials-eks plugin"
        ));
    }
    if user.auth_provider.is_some() {
        return Err(format!(
            "{what} authenticates with an auth-provider, which a plugin cannot run: use a token or a client certificate"
        ));
    }
    if user.impersonate.as_deref().is_some_and(|a| !a.is_empty()) {
        return Err(format!(
            "{what} impersonates another user (as), which a plugin's credentials cannot carry"
        ));
    }
    let has = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
    no_file(
        what,
        "tokenFile",
        &user.token_file,
        "token",
        has(&user.token),
    )?;
    no_file(
        what,
        "client-certificate",
        &user.client_certificate,
        "client-certificate-data",
        user.client_certificate_data.is_some(),
    )?;
    no_file(
        what,
        "client-key",
        &user.client_key,
        "client-key-data",
        user.client_key_data.is_some(),
    )?;
    let decode = |field: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|v| pem(&format!("{what}: {field}"), v))
            .transpose()
    };
    auth(AuthFields {
        token: ("token", user.token.clone()),
        cert: (
            "client-certificate-data",
            decode("client-certificate-data", &user.client_certificate_data)?,
        ),
        key: (
            "client-key-data",
            decode("client-key-data", &user.client_key_data)?,
        ),
        username: ("username", user.username.clone()),
        password: ("password", user.password.clone()),
    })
    .map_err(|p| format!("{what}: {p}"))
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;
    use crate::tests::jwt;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n";

    fn kubeconfig(current: &str, user: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: {current}\ncontexts:\n\
             - name: a\n  context: {{cluster: ca, user: ua, namespace: argo}}\n\
             - name: b\n  context: {{cluster: cb, user: ub}}\n\
             clusters:\n\
             - name: ca\n  cluster:\n    server: https://a.example:6443\n    certificate-authority-data: {}\n    tls-server-name: api.a\n\
             - name: cb\n  cluster: {{server: 'http://b.example', insecure-skip-tls-verify: true}}\n\
             users:\n- name: ua\n  user:\n{user}\n- name: ub\n  user: {{username: admin, password: s3cr3t}}\n",
            b64(CA)
        )
    }

    fn ok(yaml: &str) -> Credentials {
        credentials(yaml.as_bytes()).unwrap()
    }

    fn err(yaml: &str) -> String {
        let e = credentials(yaml.as_bytes()).unwrap_err();
        assert!(!e.contains("s3cr3t"), "{e}");
        e
    }

    #[test]
    fn the_current_context_chooses_cluster_and_user() {
        let token = jwt(r#"{"exp":1900000000}"#);
        let a = ok(&kubeconfig("a", &format!("    token: {token}")));
        assert_eq!(a.server, "https://a.example:6443");
        assert_eq!(a.ca_pem, CA);
        assert_eq!(a.server_name, "api.a");
        assert!(!a.insecure);
        assert_eq!(
            (a.auth, a.expires_at),
            (Auth::BearerToken(token), 1_900_000_000)
        );
        let b = ok(&kubeconfig("b", "    token: x"));
        assert_eq!(b.server, "http://b.example");
        assert!(b.insecure);
        assert_eq!(b.ca_pem, "");
        assert_eq!(b.auth, Auth::Basic(("admin".into(), "s3cr3t".into())));
        let key = "-----BEGIN PRIVATE KEY-----\nk\n-----END PRIVATE KEY-----\n";
        let user = format!(
            "    client-certificate-data: {}\n    client-key-data: {}",
            b64(CA),
            b64(key)
        );
        let cert = ok(&kubeconfig("a", &user));
        assert_eq!(cert.auth, Auth::ClientCertificate((CA.into(), key.into())));
    }

    #[test]
    fn without_current_context_the_only_context() {
        let only = "contexts: [{name: x, context: {cluster: c}}]\nclusters: [{name: c, cluster: {server: 'https://c'}}]\n";
        let c = ok(only);
        assert_eq!((c.server.as_str(), c.auth), ("https://c", Auth::None));
        assert_eq!(
            err(&kubeconfig("''", "    token: s3cr3t")),
            "the kubeconfig entry has no current-context and 2 contexts: set current-context"
        );
        assert_eq!(
            err("kind: Config\n"),
            "the kubeconfig entry has no contexts"
        );
    }

    #[test]
    fn what_cannot_be_used_is_named() {
        assert_eq!(
            err(&kubeconfig("z", "    token: s3cr3t")),
            r#"the kubeconfig entry has current-context "z", which is not among its contexts"#
        );
        assert_eq!(
            err(&kubeconfig(
                "a",
                "    exec: {command: aws, args: [eks, get-token]}"
            )),
            r#"the kubeconfig entry user "ua" authenticates with exec (a command), which a plugin cannot run: use a token, a client certificate, or the credentials-eks plugin"#
        );
        assert_eq!(
            err(&kubeconfig(
                "a",
                "    token: s3cr3t\n    username: me\n    password: s3cr3t"
            )),
            r#"the kubeconfig entry user "ua": has more than one way to authenticate (token, username); a plugin's credentials carry one"#
        );
        assert_eq!(
            err(&kubeconfig("a", "    tokenFile: /var/run/secrets/token")),
            r#"the kubeconfig entry user "ua": tokenFile names a file, and this plugin reads none: put the data in token"#
        );
        assert_eq!(
            err(&kubeconfig(
                "a",
                &format!("    client-key-data: {}", b64("s3cr3t"))
            )),
            r#"the kubeconfig entry user "ua": client-key-data is not PEM (no -----BEGIN line)"#
        );
        let dangling =
            "current-context: x\ncontexts: [{name: x, context: {cluster: gone, user: u}}]\n";
        assert_eq!(
            err(dangling),
            r#"the kubeconfig entry context "x" names cluster "gone", which it does not define"#
        );
        let bad_ca = "contexts: [{name: x, context: {cluster: c}}]\nclusters: [{name: c, cluster: {server: 'https://c', certificate-authority-data: 's3cr3t!'}}]\n";
        assert_eq!(
            err(bad_ca),
            r#"the kubeconfig entry cluster "c": certificate-authority-data is not base64"#
        );
    }

    #[test]
    fn yaml_errors_say_where_not_what() {
        // A mapping where a list belongs: serde_yaml's own message would quote the value.
        let e = err("current-context: a\nusers:\n  token: s3cr3t\n");
        assert_eq!(
            e,
            "the kubeconfig entry is not a kubeconfig (line 3, column 3)"
        );
        let e = err("contexts: [s3cr3t\n");
        assert!(
            e.starts_with("the kubeconfig entry is not a kubeconfig"),
            "{e}"
        );
    }
}
