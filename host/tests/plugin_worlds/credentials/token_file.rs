//! `credentials-token-file`: a bearer token read from a file in a granted directory, in either
//! kind of runtime; without the grant it cannot read, and says so.

use crate::*;

/// A directory of its own under the system's temporary directory, removed when dropped.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "flotilla-plugin-worlds-{}-{tag}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        TempDir(dir)
    }

    /// Writes `text` to `name` in the directory; its path.
    pub(crate) fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) const FILE_TOKEN: &str = "s3cr3t-file-token-abcdef";

pub(crate) fn token_file_entry(path: &str) -> String {
    format!(
        r#"{{"server": "https://10.0.0.1:6443/", "tokenFile": "{path}", "serverName": "kubernetes.default"}}"#
    )
}

pub(crate) fn token_file(grants: Grants) -> CredentialPlugin {
    credential_plugin("token-file", "credentials_token_file", grants)
}

/// A grant of `dir` alone, to read.
pub(crate) fn reading(dir: &TempDir) -> Grants {
    Grants {
        read_only_dirs: vec![dir.0.clone()],
        deterministic: false,
    }
}

/// What the token-file plugin gives for the token file at `path`, with `config`.
pub(crate) fn provide_token_file(
    plugin: &CredentialPlugin,
    path: &str,
    config: &str,
) -> Result<ClusterCredentials, PluginError> {
    let entry = token_file_entry(path);
    plugin.provide("in-cluster", "token-file", entry.as_bytes(), config, NOW)
}

/// The token read through a plugin granted `dir`, checked; called from the test's own thread,
/// inside whatever runtime the test runs in.
pub(crate) fn read_granted_token(tag: &str) {
    let dir = TempDir::new(tag);
    let path = dir.write("token", &format!("  {FILE_TOKEN}\n"));
    let plugin = token_file(reading(&dir));
    let c = provide_token_file(&plugin, &path, r#"{"refreshSeconds": 30}"#)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.server, "https://10.0.0.1:6443");
    assert_eq!(c.server_name, "kubernetes.default");
    assert_eq!(bearer(&c), FILE_TOKEN);
    assert_eq!(c.expires_at, Some(NOW + 30));
    assert_hidden(&format!("{c:?}"), FILE_TOKEN);
    // Read on every call: a rotated token is the next answer, and the default refresh is 60 s.
    dir.write("token", "rotated-token");
    let c = provide_token_file(&plugin, &path, "").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bearer(&c), "rotated-token");
    assert_eq!(c.expires_at, Some(NOW + 60));
}

#[test]
fn token_file_reads_the_token_from_a_granted_directory() {
    read_granted_token("plain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_file_reads_inside_a_multi_threaded_runtime() {
    read_granted_token("multi-thread");
}

#[tokio::test]
async fn token_file_reads_inside_a_current_thread_runtime() {
    read_granted_token("current-thread");
}

#[test]
fn token_file_without_the_grant_cannot_read_and_says_so() {
    let dir = TempDir::new("ungranted");
    let path = dir.write("token", FILE_TOKEN);
    let err = provide_token_file(&token_file(Grants::default()), &path, "").unwrap_err();
    assert_eq!(
        err,
        refused(
            "token-file",
            &format!(
                "tokenFile {path}: not readable (has the directory been granted to this plugin?)"
            )
        )
    );
    assert_hidden(&err.to_string(), FILE_TOKEN);
    // A grant of another directory is no grant of this one.
    let other = TempDir::new("other");
    let err = provide_token_file(&token_file(reading(&other)), &path, "").unwrap_err();
    assert!(
        matches!(&err, PluginError::Refused { message, .. } if message.ends_with("not readable (has the directory been granted to this plugin?)")),
        "{err}"
    );
    assert_hidden(&err.to_string(), FILE_TOKEN);
}
