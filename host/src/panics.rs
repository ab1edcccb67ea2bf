//! Panics contained where one tenant's input met a bug (a reconcile, a policy expression): what
//! they said, for the message the workflow or the log gets.

/// What a panic said: its `&str` or `String` payload.
pub(crate) fn message(payload: &(dyn std::any::Any + Send)) -> String {
    match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(s), _) => s.to_string(),
        (_, Some(s)) => s.clone(),
        _ => "a panic without a message".to_string(),
    }
}
