//! The EKS bearer token, as aws-iam-authenticator's `token.go` (and `aws eks get-token`) makes
//! it: STS `GetCallerIdentity` as a GET, with the header `x-k8s-aws-id: <cluster name>`, presigned
//! with SigV4 (service `sts`, the region's STS endpoint, `X-Amz-Expires=60` — STS ignores it: the
//! URL is good for 15 minutes from `X-Amz-Date`), and the token is `k8s-aws-v1.` followed by the
//! URL in unpadded base64url. The cluster's API server calls STS with that URL to learn who is
//! asking. Plain Rust, no WIT.

use base64::Engine as _;

use crate::sigv4::{AwsCredentials, Location, Request, sign_request};

pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The header that binds a token to one cluster.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// What aws-iam-authenticator puts in `X-Amz-Expires` (older servers insist on at most 60).
const PRESIGN_EXPIRES: u64 = 60;
/// How long a token is used: a minute less than the 15 STS honours, as aws-iam-authenticator.
pub const TOKEN_LIFETIME: u64 = 14 * 60;

/// The STS endpoint of `region` (`.amazonaws.com.cn` in the China regions).
pub fn sts_host(region: &str) -> String {
    if region.starts_with("cn-") {
        format!("sts.{region}.amazonaws.com.cn")
    } else {
        format!("sts.{region}.amazonaws.com")
    }
}

/// The token for `cluster_name` (the EKS cluster's own name) in `region`, signed at `now`
/// (seconds since the epoch).
pub fn token(
    cluster_name: &str,
    region: &str,
    credentials: &AwsCredentials,
    now: u64,
) -> Result<String, String> {
    let base = format!("https://{}/", sts_host(region));
    let request = Request {
        method: "GET",
        base: &base,
        query: &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
        headers: &[(CLUSTER_ID_HEADER, cluster_name)],
        unsigned_payload: false,
    };
    let location = Location::Query {
        expires_in: PRESIGN_EXPIRES,
    };
    let signed = sign_request(&request, credentials, "sts", region, now, location)?;
    let url = signed.url();
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)
    ))
}

#[cfg(test)]
mod tests {
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::sigv4::uri_encode;

    const KEY: AwsCredentials = AwsCredentials {
        access_key_id: "AKIAIOSFODNN7EXAMPLE",
        secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        session_token: None,
    };
    /// 2024-01-02T03:04:05Z.
    const NOW: u64 = 1_704_164_645;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn hmac(key: &[u8], data: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The URL inside a token, and its query (decoded).
    fn open(token: &str) -> (String, Vec<(String, String)>) {
        let b64 = token
            .strip_prefix(TOKEN_PREFIX)
            .expect("the k8s-aws-v1. prefix");
        assert!(
            !b64.contains('=') && !b64.contains('+') && !b64.contains('/'),
            "{b64}"
        );
        let url = String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(b64)
                .unwrap(),
        )
        .unwrap();
        let query = url.split_once('?').unwrap().1;
        let decode = |s: &str| {
            let mut out = Vec::new();
            let b = s.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' {
                    out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).unwrap()
        };
        let params = query
            .split('&')
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (decode(k), decode(v))
            })
            .collect();
        (url, params)
    }

    /// The signature, computed here by hand from the SigV4 specification — independently of
    /// the aws-sigv4 crate — for the request aws-iam-authenticator presigns.
    fn expected_signature(params: &[(String, String)], cluster: &str, region: &str) -> String {
        let mut unsigned: Vec<_> = params
            .iter()
            .filter(|(k, _)| k != "X-Amz-Signature")
            .collect();
        unsigned.sort();
        let query = unsigned
            .iter()
            .map(|(k, v)| format!("{}={}", uri_encode(k), uri_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let canonical = format!(
            "GET\n/\n{query}\nhost:{}\nx-k8s-aws-id:{cluster}\n\nhost;x-k8s-aws-id\n{}",
            sts_host(region),
            hex(&Sha256::digest(b""))
        );
        let date_time = "20240102T030405Z";
        let scope = format!("20240102/{region}/sts/aws4_request");
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{date_time}\n{scope}\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let mut key = format!("AWS4{}", KEY.secret_access_key).into_bytes();
        for part in ["20240102", region, "sts", "aws4_request"] {
            key = hmac(&key, part);
        }
        hex(&hmac(&key, &to_sign))
    }

    #[test]
    fn the_token_is_a_presigned_get_caller_identity_url() {
        let token = token("prod-eks", "eu-west-1", &KEY, NOW).unwrap();
        let (url, params) = open(&token);
        assert!(
            url.starts_with("https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&"),
            "{url}"
        );
        let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "Action",
                "Version",
                "X-Amz-Algorithm",
                "X-Amz-Credential",
                "X-Amz-Date",
                "X-Amz-Expires",
                "X-Amz-SignedHeaders",
                "X-Amz-Signature"
            ]
        );
        let get = |name: &str| &params.iter().find(|(k, _)| k == name).unwrap().1;
        assert_eq!(
            get("X-Amz-Credential"),
            "AKIAIOSFODNN7EXAMPLE/20240102/eu-west-1/sts/aws4_request"
        );
        assert_eq!(get("X-Amz-Date"), "20240102T030405Z");
        assert_eq!(get("X-Amz-Expires"), "60");
        assert_eq!(get("X-Amz-SignedHeaders"), "host;x-k8s-aws-id");
        assert!(
            url.contains("&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&"),
            "{url}"
        );
        assert_eq!(
            get("X-Amz-Signature"),
            &expected_signature(&params, "prod-eks", "eu-west-1")
        );
        // Fixed inputs, fixed token; the time and the cluster are in the signature.
        assert_eq!(
            token,
            super::token("prod-eks", "eu-west-1", &KEY, NOW).unwrap()
        );
        assert_ne!(
            token,
            super::token("prod-eks", "eu-west-1", &KEY, NOW + 1).unwrap()
        );
        assert_ne!(
            token,
            super::token("other", "eu-west-1", &KEY, NOW).unwrap()
        );
    }

    #[test]
    fn a_session_token_is_signed_too() {
        let key = AwsCredentials {
            session_token: Some("FwoGZXIvYXdzE/session+token=="),
            ..KEY
        };
        let token = token("c", "us-east-1", &key, NOW).unwrap();
        let (url, params) = open(&token);
        let get = |name: &str| &params.iter().find(|(k, _)| k == name).unwrap().1;
        assert_eq!(get("X-Amz-Security-Token"), "FwoGZXIvYXdzE/session+token==");
        assert!(
            url.contains(
                "&X-Amz-Security-Token=FwoGZXIvYXdzE%2Fsession%2Btoken%3D%3D&X-Amz-SignedHeaders="
            ),
            "{url}"
        );
        assert_eq!(
            get("X-Amz-Signature"),
            &expected_signature(&params, "c", "us-east-1")
        );
    }

    #[test]
    fn china_regions_have_their_own_sts_domain() {
        assert_eq!(sts_host("cn-north-1"), "sts.cn-north-1.amazonaws.com.cn");
        let (url, params) = open(&token("c", "cn-north-1", &KEY, NOW).unwrap());
        assert!(
            url.starts_with("https://sts.cn-north-1.amazonaws.com.cn/?"),
            "{url}"
        );
        let signature = &params
            .iter()
            .find(|(k, _)| k == "X-Amz-Signature")
            .unwrap()
            .1;
        assert_eq!(signature, &expected_signature(&params, "c", "cn-north-1"));
    }
}
