//! `PodLogOptions` from a query string, decoded and validated once for both readers of it: the API
//! server's `pods/log` handler and the kubelet's `containerLogs` endpoint, which turn the two kinds
//! of refusal into their own answers.

use serde_json::json;

use super::LogOptions;
use crate::validation::FieldError;

/// Why a `PodLogOptions` query string was refused.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum QueryError {
    /// A value is not of its field's type (`sinceSeconds=soon`).
    Decode(String),
    /// Values of the right type that `ValidatePodLogOptions` refuses.
    Invalid(Vec<FieldError>),
}

/// The options and whether to follow. `param` looks a query parameter up by name.
pub(crate) fn parse<'a>(
    param: impl Fn(&str) -> Option<&'a str>,
) -> Result<(LogOptions, bool), QueryError> {
    let flag = |k: &str| matches!(param(k), Some("true" | "1"));
    let int = |k: &str| -> Result<Option<i64>, QueryError> {
        match param(k).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| QueryError::Decode(format!("{k}: Invalid value: {v:?}"))),
        }
    };
    let since_time = match param("sinceTime").filter(|v| !v.is_empty()) {
        None => None,
        Some(t) => Some(
            t.parse::<jiff::Timestamp>()
                .map_err(|e| QueryError::Decode(format!("sinceTime: Invalid value: {t:?}: {e}")))?,
        ),
    };
    let opts = LogOptions {
        previous: flag("previous"),
        since_seconds: int("sinceSeconds")?,
        since_time,
        timestamps: flag("timestamps"),
        tail_lines: int("tailLines")?,
        limit_bytes: int("limitBytes")?,
    };
    let mut errors = Vec::new();
    if opts.since_seconds.is_some() && opts.since_time.is_some() {
        errors.push(FieldError::forbidden(
            "",
            "at most one of `sinceTime` or `sinceSeconds` may be specified",
        ));
    }
    let bounds = [
        (
            "sinceSeconds",
            opts.since_seconds,
            1,
            "must be greater than 0",
        ),
        (
            "tailLines",
            opts.tail_lines,
            0,
            "must be greater than or equal to 0",
        ),
        ("limitBytes", opts.limit_bytes, 1, "must be greater than 0"),
    ];
    for (field, value, least, message) in bounds {
        if value.is_some_and(|v| v < least) {
            errors.push(FieldError::invalid(field, json!(value), message));
        }
    }
    if !errors.is_empty() {
        return Err(QueryError::Invalid(errors));
    }
    Ok((opts, flag("follow")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_pairs(
        pairs: &[(&'static str, &'static str)],
    ) -> Result<(LogOptions, bool), QueryError> {
        parse(|k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| *v))
    }

    #[test]
    fn every_option_is_read() {
        let (opts, follow) = parse_pairs(&[
            ("follow", "true"),
            ("previous", "1"),
            ("timestamps", "true"),
            ("tailLines", "3"),
            ("limitBytes", "10"),
            ("sinceSeconds", "5"),
        ])
        .unwrap();
        assert!(follow);
        assert_eq!(
            opts,
            LogOptions {
                previous: true,
                since_seconds: Some(5),
                since_time: None,
                timestamps: true,
                tail_lines: Some(3),
                limit_bytes: Some(10),
            }
        );
    }

    #[test]
    fn wrong_types_and_refused_values_are_told_apart() {
        assert_eq!(
            parse_pairs(&[("tailLines", "many")]),
            Err(QueryError::Decode(
                r#"tailLines: Invalid value: "many""#.into()
            ))
        );
        let Err(QueryError::Invalid(errors)) =
            parse_pairs(&[("sinceSeconds", "0"), ("sinceTime", "2026-01-01T00:00:00Z")])
        else {
            panic!("expected Invalid");
        };
        assert_eq!(errors.len(), 2, "{errors:?}");
    }
}
