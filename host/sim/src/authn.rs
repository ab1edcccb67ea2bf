//! Bearer-token authentication, as kube-apiserver's static token file and service-account token
//! authenticators do it: a token maps to a user; a service-account token stays valid only while its
//! service account (same uid) exists and the token has not expired.

use std::collections::HashMap;
use std::fmt;

use parking_lot::RwLock;

use crate::rbac::UserInfo;

/// A bearer token. Its `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token(String);

impl Token {
    pub fn new(secret: impl Into<String>) -> Self {
        Token(secret.into())
    }

    /// A fresh random token (43 URL-safe characters, like a projected service-account token's entropy).
    pub fn generate() -> Self {
        use rand::Rng;
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut rng = rand::rng();
        Token(
            (0..43)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect(),
        )
    }

    /// The secret itself, for writing into a kubeconfig. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Who a token belongs to and what keeps it valid.
#[derive(Debug, Clone)]
pub(crate) struct TokenEntry {
    pub(crate) user: UserInfo,
    /// For service-account tokens: (namespace, name, uid) of the account the token is bound to.
    pub(crate) service_account: Option<(String, String, String)>,
    /// Unix seconds after which the token is rejected.
    pub(crate) expires: Option<i64>,
}

#[derive(Debug, Default)]
pub(crate) struct Authn {
    tokens: RwLock<HashMap<Token, TokenEntry>>,
    /// Requests answered 401: credentials presented and not valid.
    refused: std::sync::atomic::AtomicU64,
}

impl Authn {
    pub(crate) fn add(&self, token: Token, entry: TokenEntry) {
        self.tokens.write().insert(token, entry);
    }

    pub(crate) fn remove(&self, token: &Token) {
        self.tokens.write().remove(token);
    }

    /// The user behind an `Authorization` header value. `Ok(None)` is an anonymous request (no
    /// header); `Err` means the credentials were presented and are not valid (401).
    pub(crate) fn authenticate(
        &self,
        header: Option<&str>,
        now_unix: i64,
        sa_uid: impl Fn(&str, &str) -> Option<String>,
    ) -> Result<Option<UserInfo>, ()> {
        let user = self.user(header, now_unix, sa_uid);
        if user.is_err() {
            self.refused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        user
    }

    /// How many requests presented credentials that were not valid.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn user(
        &self,
        header: Option<&str>,
        now_unix: i64,
        sa_uid: impl Fn(&str, &str) -> Option<String>,
    ) -> Result<Option<UserInfo>, ()> {
        let Some(header) = header else {
            return Ok(None);
        };
        let Some(secret) = header.strip_prefix("Bearer ").map(str::trim) else {
            return Err(());
        };
        let tokens = self.tokens.read();
        let entry = tokens.get(&Token(secret.to_string())).ok_or(())?;
        if entry.expires.is_some_and(|exp| now_unix >= exp) {
            return Err(());
        }
        if let Some((ns, name, uid)) = &entry.service_account
            && sa_uid(ns, name).as_deref() != Some(uid.as_str())
        {
            return Err(());
        }
        Ok(Some(entry.user.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(sa: Option<(&str, &str, &str)>, expires: Option<i64>) -> TokenEntry {
        TokenEntry {
            user: UserInfo {
                name: "u".into(),
                groups: vec![],
            },
            service_account: sa.map(|(a, b, c)| (a.into(), b.into(), c.into())),
            expires,
        }
    }

    #[test]
    fn tokens_are_checked() {
        let authn = Authn::default();
        authn.add(Token::new("good"), entry(None, None));
        authn.add(Token::new("old"), entry(None, Some(100)));
        authn.add(
            Token::new("sa"),
            entry(Some(("ns", "default", "uid-1")), None),
        );
        let none = |_: &str, _: &str| None;
        assert!(authn.authenticate(None, 0, none).unwrap().is_none());
        assert_eq!(
            authn
                .authenticate(Some("Bearer good"), 0, none)
                .unwrap()
                .unwrap()
                .name,
            "u"
        );
        assert!(authn.authenticate(Some("Bearer bad"), 0, none).is_err());
        assert!(authn.authenticate(Some("Basic abc"), 0, none).is_err());
        assert!(authn.authenticate(Some("Bearer old"), 99, none).is_ok());
        assert!(authn.authenticate(Some("Bearer old"), 100, none).is_err());
        let live = |_: &str, _: &str| Some("uid-1".to_string());
        let recreated = |_: &str, _: &str| Some("uid-2".to_string());
        assert!(authn.authenticate(Some("Bearer sa"), 0, live).is_ok());
        assert!(authn.authenticate(Some("Bearer sa"), 0, recreated).is_err());
        assert!(authn.authenticate(Some("Bearer sa"), 0, none).is_err());
        assert_eq!(authn.refused(), 5, "every 401 is counted");
    }

    #[test]
    fn debug_redacts() {
        assert_eq!(format!("{:?}", Token::new("s3cret")), "Token(<redacted>)");
    }
}
