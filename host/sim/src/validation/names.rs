//! String-format validators with Kubernetes' detail messages.
//!
//! Each `is_*` function returns the list of problems (empty when valid), worded exactly as
//! apimachinery's `pkg/util/validation/validation.go` (v0.32/v0.33) words them; callers wrap each
//! message in a [`super::FieldError::invalid`]. The regular expressions Kubernetes uses are
//! checked by hand (they are all simple character-class patterns), and the messages quote the
//! original regex text so clients see the same explanation.

/// Longest DNS-1123 / DNS-1035 label (RFC 1123).
pub(crate) const DNS1123_LABEL_MAX_LENGTH: usize = 63;
/// Longest DNS-1123 subdomain.
pub(crate) const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
/// Longest label value, and longest name part of a qualified name.
pub(crate) const LABEL_VALUE_MAX_LENGTH: usize = 63;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_ERR: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const EMPTY_ERROR: &str = "must be non-empty";

/// `validation.MaxLenError`.
fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

/// `validation.RegexError`, including its double space before each `or`.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut out = format!("{msg} (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push('\'');
        out.push_str(example);
        out.push_str("', ");
    }
    out.push_str("regex used for validation is '");
    out.push_str(fmt);
    out.push_str("')");
    out
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn matches_dns1123_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            alnum(first) && alnum(last) && bytes.iter().all(|&b| alnum(b) || b == b'-')
        }
        _ => false,
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`
fn matches_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(matches_dns1123_label)
}

/// `[a-z]([-a-z0-9]*[a-z0-9])?`
fn matches_dns1035_label(s: &str) -> bool {
    matches_dns1123_label(s) && s.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn matches_qualified_name_part(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `validation.IsDNS1123Label`: lowercase alphanumerics and `-`, at most 63 characters.
pub(crate) fn is_dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !matches_dns1123_label(value) {
        if matches_dns1123_subdomain(value) {
            // A valid subdomain that is not a valid label: the length is already reported, so
            // the dots are the problem.
            errs.push("must not contain dots".to_owned());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_ERR,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// `validation.IsDNS1123Subdomain`: dot-separated DNS-1123 labels, at most 253 characters.
pub(crate) fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !matches_dns1123_subdomain(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// `validation.IsDNS1035Label`: like a DNS-1123 label but starting with a letter (Service names).
pub(crate) fn is_dns1035_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !matches_dns1035_label(value) {
        errs.push(regex_error(
            DNS1035_LABEL_ERR,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// `validation.IsQualifiedName`: an optional DNS-subdomain prefix and `/`, then a name of at most
/// 63 alphanumerics, `-`, `_` or `.` that starts and ends alphanumeric. Used for label keys,
/// annotation keys (lower-cased first) and finalizers.
pub(crate) fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let mut parts = value.split('/');
    let (first, second, third) = (parts.next(), parts.next(), parts.next());
    let name = match (first, second, third) {
        (Some(name), None, _) => name,
        (Some(prefix), Some(name), None) => {
            if prefix.is_empty() {
                errs.push(format!("prefix part {EMPTY_ERROR}"));
            } else {
                errs.extend(
                    is_dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            name
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push(format!("name part {EMPTY_ERROR}"));
    } else if name.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(format!(
            "name part {}",
            max_len_error(LABEL_VALUE_MAX_LENGTH)
        ));
    }
    if !matches_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_ERR,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// `validation.IsValidLabelValue`: empty, or at most 63 characters in qualified-name format.
pub(crate) fn is_valid_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(max_len_error(LABEL_VALUE_MAX_LENGTH));
    }
    if !value.is_empty() && !matches_qualified_name_part(value) {
        errs.push(regex_error(
            LABEL_VALUE_ERR,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// `path.IsValidPathSegmentName` (`apimachinery/pkg/api/validation/path/name.go`): names that
/// are used verbatim as URL path segments (e.g. RBAC roles) may not be `.`/`..` nor contain `/`
/// or `%`.
pub(crate) fn is_valid_path_segment_name(name: &str) -> Vec<String> {
    for illegal in [".", ".."] {
        if name == illegal {
            return vec![format!("may not be '{illegal}'")];
        }
    }
    is_valid_path_segment_prefix(name)
}

/// `path.IsValidPathSegmentPrefix`: the `generateName` form, where a suffix follows.
pub(crate) fn is_valid_path_segment_prefix(name: &str) -> Vec<String> {
    ["/", "%"]
        .into_iter()
        .filter(|illegal| name.contains(illegal))
        .map(|illegal| format!("may not contain '{illegal}'"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Messages copied from apimachinery/pkg/util/validation/validation.go (IsDNS1123Label,
    // IsDNS1123Subdomain, IsDNS1035Label, IsQualifiedName, IsValidLabelValue, MaxLenError,
    // RegexError, EmptyError) and pkg/api/validation/path/name.go.
    const SUBDOMAIN_MSG: &str = r"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
    const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    const QUALIFIED_MSG: &str = "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
    const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

    #[test]
    fn dns1123_subdomain() {
        let long = "a".repeat(254);
        let ok = [
            "a",
            "0",
            "a-b",
            "a.b",
            "example.com",
            "1-2.3-4",
            &"a".repeat(253),
        ];
        for value in ok {
            assert!(
                is_dns1123_subdomain(value).is_empty(),
                "{value} should be valid"
            );
        }
        let bad: Vec<(&str, Vec<String>)> = vec![
            ("", vec![SUBDOMAIN_MSG.into()]),
            ("Foo_Bar", vec![SUBDOMAIN_MSG.into()]),
            ("-a", vec![SUBDOMAIN_MSG.into()]),
            ("a-", vec![SUBDOMAIN_MSG.into()]),
            ("a..b", vec![SUBDOMAIN_MSG.into()]),
            (".a", vec![SUBDOMAIN_MSG.into()]),
            ("a.", vec![SUBDOMAIN_MSG.into()]),
            ("a_b", vec![SUBDOMAIN_MSG.into()]),
            ("é", vec![SUBDOMAIN_MSG.into()]),
            ("a\n", vec![SUBDOMAIN_MSG.into()]),
            (&long, vec!["must be no more than 253 characters".into()]),
        ];
        for (value, want) in bad {
            assert_eq!(is_dns1123_subdomain(value), want, "{value:?}");
        }
        let long_and_bad = format!("{}A", "a".repeat(253));
        assert_eq!(
            is_dns1123_subdomain(&long_and_bad),
            vec![
                "must be no more than 253 characters".to_owned(),
                SUBDOMAIN_MSG.to_owned()
            ]
        );
    }

    #[test]
    fn dns1123_label() {
        for value in ["a", "abc-123", "0a", &"a".repeat(63)] {
            assert!(
                is_dns1123_label(value).is_empty(),
                "{value} should be valid"
            );
        }
        let cases: Vec<(String, Vec<&str>)> = vec![
            ("a.b".into(), vec!["must not contain dots"]),
            ("".into(), vec![LABEL_MSG]),
            ("A".into(), vec![LABEL_MSG]),
            ("a_b".into(), vec![LABEL_MSG]),
            ("a".repeat(64), vec!["must be no more than 63 characters"]),
            (
                format!("{}.b", "a".repeat(62)),
                vec![
                    "must be no more than 63 characters",
                    "must not contain dots",
                ],
            ),
        ];
        for (value, want) in cases {
            assert_eq!(is_dns1123_label(&value), want, "{value:?}");
        }
    }

    #[test]
    fn dns1035_label() {
        assert!(is_dns1035_label("my-svc").is_empty());
        assert_eq!(is_dns1035_label("1abc"), vec![DNS1035_MSG]);
        assert_eq!(is_dns1035_label("a.b"), vec![DNS1035_MSG]);
        assert_eq!(
            is_dns1035_label(&"a".repeat(64)),
            vec!["must be no more than 63 characters"]
        );
    }

    #[test]
    fn qualified_names() {
        let ok = [
            "a",
            "A",
            "a.b_c-d",
            "example.com/MyName",
            "app.kubernetes.io/name",
            &"a".repeat(63),
        ];
        for value in ok {
            assert!(
                is_qualified_name(value).is_empty(),
                "{value} should be valid"
            );
        }
        let long_name = format!("x/{}", "a".repeat(64));
        let cases: Vec<(&str, Vec<String>)> = vec![
            (
                "",
                vec!["name part must be non-empty".into(), NAME_PART_MSG.into()],
            ),
            ("-a", vec![NAME_PART_MSG.into()]),
            ("a b", vec![NAME_PART_MSG.into()]),
            ("/a", vec!["prefix part must be non-empty".into()]),
            (
                "a/",
                vec!["name part must be non-empty".into(), NAME_PART_MSG.into()],
            ),
            (
                "Example.com/a",
                vec![format!("prefix part {SUBDOMAIN_MSG}")],
            ),
            ("a/b/c", vec![QUALIFIED_MSG.into()]),
            (
                &long_name,
                vec!["name part must be no more than 63 characters".into()],
            ),
        ];
        for (value, want) in cases {
            assert_eq!(is_qualified_name(value), want, "{value:?}");
        }
    }

    #[test]
    fn label_values() {
        for value in ["", "a", "MyValue", "my_value", "1.2-3", &"a".repeat(63)] {
            assert!(
                is_valid_label_value(value).is_empty(),
                "{value:?} should be valid"
            );
        }
        assert_eq!(is_valid_label_value("-a"), vec![LABEL_VALUE_MSG]);
        assert_eq!(is_valid_label_value("a/b"), vec![LABEL_VALUE_MSG]);
        assert_eq!(
            is_valid_label_value(&"a".repeat(64)),
            vec!["must be no more than 63 characters"]
        );
    }

    #[test]
    fn path_segments() {
        assert!(is_valid_path_segment_name("system:controller:foo").is_empty());
        assert_eq!(is_valid_path_segment_name("."), vec!["may not be '.'"]);
        assert_eq!(is_valid_path_segment_name(".."), vec!["may not be '..'"]);
        assert_eq!(
            is_valid_path_segment_name("a/b%c"),
            vec!["may not contain '/'", "may not contain '%'"]
        );
        assert!(is_valid_path_segment_prefix("..").is_empty());
        assert_eq!(
            is_valid_path_segment_prefix("a%"),
            vec!["may not contain '%'"]
        );
    }
}
