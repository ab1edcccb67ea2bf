//! The legacy service-account token controller: a Secret of type
//! `kubernetes.io/service-account-token` annotated with an account name gets `token`, `ca.crt` and
//! `namespace` filled in, and its token authenticates as that account while both exist.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::api::Api;
use crate::authn::{Token, TokenEntry};
use crate::rbac::UserInfo;
use crate::resources::Builtin;
use crate::store::{EventType, WatchEvent};

const SA_NAME: &str = "kubernetes.io/service-account.name";
const SA_UID: &str = "kubernetes.io/service-account.uid";

fn b64(s: &str) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(s))
}

pub(super) fn secret_changed(api: &Api, event: &WatchEvent) {
    let secret = &event.object.value;
    if secret["type"] != "kubernetes.io/service-account-token" {
        return;
    }
    let Some(account) = secret["metadata"]["annotations"][SA_NAME].as_str() else {
        return;
    };
    let ns = event.namespace.clone();
    let existing = secret["data"]["token"]
        .as_str()
        .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
        .and_then(|b| String::from_utf8(b).ok());
    if event.kind == EventType::Deleted {
        if let Some(token) = existing {
            api.authn.remove(&Token::new(token));
        }
        return;
    }
    let Some(sa) = api.store.get("serviceaccounts", &ns, account) else {
        return;
    };
    let uid = sa.meta_str("uid").unwrap_or_default().to_string();
    if let Some(token) = existing {
        register(api, &ns, account, &uid, Token::new(token));
        return;
    }
    let token = Token::generate();
    let rt = api.builtin_type(Builtin::Secret);
    let ca = api.ca_pem.clone();
    let written = super::controller_edit(api, &rt, &ns, &event.name, "", |secret| {
        secret["data"]["token"] = b64(token.expose());
        secret["data"]["ca.crt"] = b64(&ca);
        secret["data"]["namespace"] = b64(&ns);
        secret["metadata"]["annotations"][SA_UID] = json!(uid);
    });
    if written.is_ok() {
        register(api, &ns, account, &uid, token);
    }
}

fn register(api: &Api, ns: &str, account: &str, uid: &str, token: Token) {
    api.authn.add(
        token,
        TokenEntry {
            user: UserInfo::service_account(ns, account),
            service_account: Some((ns.to_string(), account.to_string(), uid.to_string())),
            expires: None,
        },
    );
}
