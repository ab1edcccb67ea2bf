//! What binds a task result to the pod that wrote it. A task result is an object anyone who may
//! write task results in its namespace can change after the executor wrote it; a container's
//! termination message is not: only the kubelet writes a pod's status, from the file the
//! container left. So the executor, once it has reported, writes the digest of what it reported
//! as the first line of its termination message, and the controller takes a task result only if
//! it has that digest.
//!
//! The first line, because the kubelet keeps the beginning of a termination message when it
//! shortens one (4 KiB per container, 12 KiB per pod).

use sha2::{Digest as _, Sha256};

use super::Outputs;

/// Where a container's termination message goes unless its `terminationMessagePath` says
/// otherwise (the controller then passes that path in [`TERMINATION_LOG_ENV`]).
pub const TERMINATION_LOG: &str = "/dev/termination-log";
/// The environment variable with the main container's `terminationMessagePath`.
pub const TERMINATION_LOG_ENV: &str = "FLOTILLA_TERMINATION_LOG";

/// How the digest line begins.
const MARKER: &str = "flotilla.dev/outputs sha256:";
/// Most bytes of a termination message the kubelet keeps (one container's).
const MAX_MESSAGE_BYTES: usize = 4096;

/// The digest of what a task result reports: its outputs and message.
pub fn digest(outputs: Option<&Outputs>, message: Option<&str>) -> String {
    // Serializing typed values is deterministic (struct fields in order, no maps of our own),
    // and the controller digests what it decoded, so both sides hash the same bytes.
    let bytes = serde_json::to_vec(&(outputs, message)).unwrap_or_default();
    format!("{:x}", Sha256::digest(bytes))
}

/// The termination message an executor leaves: the digest line, then `message` (a failure's
/// words, or what the command itself wrote), cut to what the kubelet keeps.
pub fn termination_message(digest: &str, message: Option<&str>) -> String {
    let mut text = format!("{MARKER}{digest}");
    if let Some(message) = message.map(str::trim).filter(|m| !m.is_empty()) {
        text.push('\n');
        text.push_str(message);
    }
    let mut cut = text.len().min(MAX_MESSAGE_BYTES);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text
}

/// A termination message read back: the digest an executor left, and the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Termination<'a> {
    pub digest: Option<&'a str>,
    pub message: Option<&'a str>,
}

impl<'a> Termination<'a> {
    pub fn parse(text: &'a str) -> Termination<'a> {
        let (first, rest) = match text.split_once('\n') {
            Some((first, rest)) => (first, Some(rest)),
            None => (text, None),
        };
        match first.strip_prefix(MARKER) {
            Some(digest) if digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Termination {
                    digest: Some(digest),
                    message: rest.filter(|m| !m.trim().is_empty()),
                }
            }
            _ => Termination {
                digest: None,
                message: Some(text).filter(|m| !m.trim().is_empty()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs(result: &str) -> Outputs {
        Outputs {
            result: Some(result.into()),
            exit_code: Some("0".into()),
            ..Default::default()
        }
    }

    #[test]
    fn the_digest_follows_every_reported_field() {
        let real = digest(Some(&outputs("real")), None);
        assert_eq!(real.len(), 64);
        assert_eq!(real, digest(Some(&outputs("real")), None));
        assert_ne!(real, digest(Some(&outputs("forged")), None));
        assert_ne!(real, digest(Some(&outputs("real")), Some("")));
        assert_ne!(real, digest(None, None));
    }

    #[test]
    fn what_the_api_server_gives_back_digests_the_same() {
        let reported = outputs("tab\there <b>&amp;</b> \u{20ac}");
        // What a Go API server writes back: HTML characters escaped, members reordered.
        let stored =
            r#"{"exitCode":"0","result":"tab\there \u003cb\u003e\u0026amp;\u003c/b\u003e €"}"#;
        let read: Outputs = serde_json::from_str(stored).unwrap();
        assert_eq!(digest(Some(&reported), None), digest(Some(&read), None));
    }

    #[test]
    fn a_termination_message_reads_back() {
        let d = digest(None, Some("boom"));
        let text = termination_message(&d, Some("exit status 3\n"));
        let read = Termination::parse(&text);
        assert_eq!(read.digest, Some(d.as_str()));
        assert_eq!(read.message, Some("exit status 3"));
        let bare = termination_message(&d, None);
        assert_eq!(Termination::parse(&bare).message, None);
        assert_eq!(Termination::parse(&bare).digest, Some(d.as_str()));
    }

    #[test]
    fn a_message_without_a_digest_line_is_all_message() {
        let read = Termination::parse("flotilla.dev/outputs sha256:abc\nrest");
        assert_eq!(read.digest, None);
        assert_eq!(read.message, Some("flotilla.dev/outputs sha256:abc\nrest"));
        assert_eq!(Termination::parse("").message, None);
    }

    #[test]
    fn a_long_message_is_cut_after_the_digest_on_a_char_boundary() {
        let d = digest(None, None);
        let text = termination_message(&d, Some(&"€".repeat(3000)));
        assert!(text.len() <= MAX_MESSAGE_BYTES);
        assert_eq!(Termination::parse(&text).digest, Some(d.as_str()));
    }
}
