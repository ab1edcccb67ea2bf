//! `flotilla:plugins@0.2.0` (`wit/flotilla-plugins@0.2.0/`): 0.1.0, and a placement policy may
//! say why it chose a place.

super::version!(
    "../wit/flotilla-plugins@0.2.0",
    types::PlacementDecision => decision,
    exports: flotilla_plugins_naming, flotilla_plugins_placement, flotilla_plugins_credentials
);

/// The most of a placement's reason that is kept (characters); it is for people, in a log line.
const MAX_REASON_CHARS: usize = 256;

/// The plugin's answer, its reason made safe for a log line: control characters (a newline
/// that would forge another line) become spaces, and it is cut at [`MAX_REASON_CHARS`].
fn decision(d: types::PlacementDecision) -> PlacementDecision {
    let reason = d.reason.map(|r| {
        r.chars()
            .take(MAX_REASON_CHARS)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
    });
    PlacementDecision {
        place: d.place.into(),
        reason: reason.filter(|r| !r.trim().is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason_of(reason: &str) -> Option<String> {
        let place = types::Place {
            cluster: "c".into(),
            namespace: "n".into(),
        };
        let reason = Some(reason.to_string());
        decision(types::PlacementDecision { place, reason }).reason
    }

    #[test]
    fn a_reason_is_one_bounded_line() {
        assert_eq!(reason_of("least loaded"), Some("least loaded".into()));
        assert_eq!(
            reason_of("ok\nERROR forged line\r"),
            Some("ok ERROR forged line ".into())
        );
        assert_eq!(reason_of(&"x".repeat(10_000)).map(|r| r.len()), Some(256));
        assert_eq!(reason_of(" \n "), None);
    }
}
