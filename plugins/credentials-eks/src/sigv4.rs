//! AWS Signature Version 4 through the `aws-sigv4` crate (AWS's own, from the Rust SDK): a thin
//! layer that signs a request given as a base URL, query parameters and headers, at a time given
//! in seconds (the host's `now`: a plugin reads no clock), and builds the presigned URL the way
//! the Go SDK (and so aws-iam-authenticator) writes it: the query sorted by name, the signature
//! last. Plain Rust, no WIT: the tests run natively against AWS's published vectors.

use std::time::{Duration, UNIX_EPOCH};

use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;

/// 9999-12-31T23:59:59Z, the last time SigV4's `YYYYMMDD'T'HHMMSS'Z'` can write.
const LAST_SECOND: u64 = 253_402_300_799;

/// An AWS access key.
pub struct AwsCredentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
}

/// What to sign.
pub struct Request<'a> {
    pub method: &'a str,
    /// `https://host/path`, without a query.
    pub base: &'a str,
    /// Query parameters, not yet encoded.
    pub query: &'a [(&'a str, &'a str)],
    /// Headers to sign besides `host` (which comes from `base`).
    pub headers: &'a [(&'a str, &'a str)],
    /// `UNSIGNED-PAYLOAD` (S3's presigned URLs) instead of the empty body's hash.
    pub unsigned_payload: bool,
}

/// Where the signature goes: headers (`authorization`, `x-amz-date`…), or the query of a
/// presigned URL valid for `expires_in` seconds.
#[derive(Clone, Copy)]
pub enum Location {
    Headers,
    Query { expires_in: u64 },
}

/// A signed request.
pub struct Signed {
    /// The hex signature.
    pub signature: String,
    /// Headers to add (for [`Location::Headers`]).
    pub headers: Vec<(String, String)>,
    /// The request's query and the signing parameters, sorted by name, `X-Amz-Signature` last
    /// (for [`Location::Query`]; just the request's own query otherwise). Not encoded.
    pub query: Vec<(String, String)>,
    base: String,
}

/// AWS's URI encoding: everything but the unreserved characters as `%XX`.
pub fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn encode_query<K: AsRef<str>, V: AsRef<str>>(query: &[(K, V)]) -> String {
    query
        .iter()
        .map(|(k, v)| format!("{}={}", uri_encode(k.as_ref()), uri_encode(v.as_ref())))
        .collect::<Vec<_>>()
        .join("&")
}

impl Signed {
    /// The URL with the signed query (the presigned URL, for [`Location::Query`]).
    pub fn url(&self) -> String {
        if self.query.is_empty() {
            return self.base.clone();
        }
        format!("{}?{}", self.base, encode_query(&self.query))
    }
}

/// Signs `request` for `service` in `region` at `time` (seconds since the epoch). Errors name
/// what was wrong, never the key.
pub fn sign_request(
    request: &Request,
    credentials: &AwsCredentials,
    service: &str,
    region: &str,
    time: u64,
    location: Location,
) -> Result<Signed, String> {
    // Dates are written with four-digit years.
    if time > LAST_SECOND {
        return Err(format!(
            "cannot sign at {time}: that is after the year 9999"
        ));
    }
    let identity = aws_credential_types::Credentials::new(
        credentials.access_key_id,
        credentials.secret_access_key,
        credentials.session_token.map(str::to_string),
        None,
        "flotilla-entry",
    )
    .into();
    let mut settings = SigningSettings::default();
    if let Location::Query { expires_in } = location {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(expires_in));
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(UNIX_EPOCH + Duration::from_secs(time))
        .settings(settings)
        .build()
        .map_err(|e| format!("cannot sign: {e}"))?
        .into();
    let url = if request.query.is_empty() {
        request.base.to_string()
    } else {
        format!("{}?{}", request.base, encode_query(request.query))
    };
    let body = if request.unsigned_payload {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Bytes(&[])
    };
    let signable =
        SignableRequest::new(request.method, &url, request.headers.iter().copied(), body)
            .map_err(|e| format!("cannot sign a request for {url}: {e}"))?;
    let (instructions, signature) = sign(signable, &params)
        .map_err(|e| format!("cannot sign a request for {url}: {e}"))?
        .into_parts();
    let (headers, params) = instructions.into_parts();
    let mut query: Vec<(String, String)> = request
        .query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain(
            params
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.into_owned())),
        )
        .collect();
    // Sorted by name as Go's url.Values writes them, the signature (computed over the rest)
    // after them.
    query.sort_by(|a, b| (a.0 == "X-Amz-Signature", &a.0).cmp(&(b.0 == "X-Amz-Signature", &b.0)));
    Ok(Signed {
        signature,
        headers: headers
            .iter()
            .map(|h| (h.name().to_string(), h.value().to_string()))
            .collect(),
        query,
        base: request.base.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The credentials of AWS's SigV4 test suite (aws-sig-v4-test-suite).
    const SUITE: AwsCredentials = AwsCredentials {
        access_key_id: "AKIDEXAMPLE",
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        session_token: None,
    };
    /// 20150830T123600Z, the suite's time.
    const SUITE_TIME: u64 = 1_440_938_160;

    fn suite_get(query: &[(&str, &str)]) -> Signed {
        let request = Request {
            method: "GET",
            base: "https://example.amazonaws.com/",
            query,
            headers: &[],
            unsigned_payload: false,
        };
        sign_request(
            &request,
            &SUITE,
            "service",
            "us-east-1",
            SUITE_TIME,
            Location::Headers,
        )
        .unwrap()
    }

    fn header<'a>(signed: &'a Signed, name: &str) -> &'a str {
        signed
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    #[test]
    fn aws_test_suite_get_vanilla() {
        let signed = suite_get(&[]);
        assert_eq!(
            header(&signed, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert_eq!(header(&signed, "x-amz-date"), "20150830T123600Z");
    }

    #[test]
    fn aws_test_suite_get_vanilla_query_order_key_case() {
        // The parameters arrive out of order: the canonical query sorts them.
        let signed = suite_get(&[("Param2", "value2"), ("Param1", "value1")]);
        assert_eq!(
            signed.signature,
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
        assert_eq!(
            header(&signed, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
    }

    #[test]
    fn aws_s3_documentation_presigned_url_example() {
        // "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)", Amazon S3
        // API Reference: GET examplebucket/test.txt, 24 May 2013, valid 86400 s.
        let credentials = AwsCredentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE",
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            session_token: None,
        };
        let request = Request {
            method: "GET",
            base: "https://examplebucket.s3.amazonaws.com/test.txt",
            query: &[],
            headers: &[],
            unsigned_payload: true,
        };
        let location = Location::Query { expires_in: 86_400 };
        let signed = sign_request(
            &request,
            &credentials,
            "s3",
            "us-east-1",
            1_369_353_600,
            location,
        )
        .unwrap();
        assert_eq!(
            signed.url(),
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
        assert!(signed.headers.is_empty());
    }

    #[test]
    fn times_past_the_year_9999_are_refused() {
        let request = Request {
            method: "GET",
            base: "https://example.amazonaws.com/",
            query: &[],
            headers: &[],
            unsigned_payload: false,
        };
        let sign = |t| {
            sign_request(
                &request,
                &SUITE,
                "service",
                "us-east-1",
                t,
                Location::Headers,
            )
        };
        assert!(sign(LAST_SECOND).is_ok());
        assert_eq!(
            sign(u64::MAX).err().unwrap(),
            format!("cannot sign at {}: that is after the year 9999", u64::MAX)
        );
    }

    #[test]
    fn uri_encoding_keeps_only_unreserved_characters() {
        assert_eq!(uri_encode("aZ09-_.~"), "aZ09-_.~");
        assert_eq!(uri_encode("a/b;c d+é"), "a%2Fb%3Bc%20d%2B%C3%A9");
    }
}
