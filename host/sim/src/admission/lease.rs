//! `coordination.k8s.io/v1` Lease validation (`ValidateLeaseSpec`): what leader election
//! relies on being sane.

use serde_json::Value;

use crate::validation::FieldError;

pub(super) fn validate(obj: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let spec = &obj["spec"];
    if let Some(seconds) = spec["leaseDurationSeconds"].as_i64()
        && seconds <= 0
    {
        errors.push(FieldError::invalid(
            "spec.leaseDurationSeconds",
            Value::from(seconds),
            "must be greater than 0",
        ));
    }
    if let Some(transitions) = spec["leaseTransitions"].as_i64()
        && transitions < 0
    {
        errors.push(FieldError::invalid(
            "spec.leaseTransitions",
            Value::from(transitions),
            "must be greater than or equal to 0",
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::validate;

    #[test]
    fn durations_must_be_positive_and_transitions_not_negative() {
        let errors =
            validate(&json!({"spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1}}));
        let fields: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.body()))
            .collect();
        assert_eq!(
            fields,
            [
                "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
                "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
            ]
        );
        assert!(
            validate(&json!({"spec": {"leaseDurationSeconds": 15, "leaseTransitions": 0}}))
                .is_empty()
        );
    }
}
