//! What a credential entry may use of the machine it is loaded on: files it names and commands
//! it runs. Entries come from Secrets in the controller's namespace, and whoever can write one
//! is not thereby trusted with the controller's own files (its service-account token, which can
//! read every Secret) or with running code inside it. So an entry that names a file
//! (`BearerTokenFile`, `TLSClientConfig.CAFile`, a kubeconfig's `tokenFile`,
//! `certificate-authority`, `client-certificate`, `client-key`) is refused unless the operator
//! allowed its directory (`--allow-credential-files DIR`), and one that runs or delegates to a
//! credential plugin (`exec`, `auth-provider`, the rest config's `ExecProvider`/`AuthProvider`)
//! unless the operator allowed that (`--allow-exec-credentials`). The same rules hold for the
//! controller and for `flotilla logs` on an operator's machine.
//!
//! Split in two: [`rest_config_uses`] and [`kubeconfig_uses`] list what an entry would use
//! (pure), and [`LocalAccess::permit`] decides. The decision is pure too but for one call:
//! a path lexically inside an allowed directory is resolved (`canonicalize`: symbolic links and
//! `..` followed) and must still be inside one. A path outside every allowed directory is
//! refused without touching the file system, so a refusal tells nothing about the machine's
//! files. Messages name the field, never a value (a path is not quoted either).

use std::path::{Component, Path, PathBuf};

use kube::config::Kubeconfig;

use super::rest_config::RestConfig;

/// The controller flag that allows files under a directory (repeatable).
pub const ALLOW_FILES_FLAG: &str = "--allow-credential-files";
/// The controller flag that allows `exec` and `auth-provider` credentials.
pub const ALLOW_EXEC_FLAG: &str = "--allow-exec-credentials";

/// One thing an entry would use of the local machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalUse<'a> {
    /// A file the client would read; `field` says where the entry names it.
    File { field: String, path: &'a str },
    /// A command the client would run, or an auth provider it would delegate to.
    Command { field: String },
}

/// Why an entry was refused: the field, and what the operator could do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "{field} names a local file, refused: credentials from a Secret may not read the controller's files unless it runs with {ALLOW_FILES_FLAG} DIR"
    )]
    FilesNotAllowed { field: String },
    #[error("{field} is not an absolute path without '..', refused")]
    NotPlain { field: String },
    #[error("{field} names a file outside the directories allowed by {ALLOW_FILES_FLAG}, refused")]
    Outside { field: String },
    #[error(
        "{field} names a file that leads outside the directories allowed by {ALLOW_FILES_FLAG} (a symbolic link), refused"
    )]
    Escapes { field: String },
    #[error(
        "{field} names a file under an allowed directory that cannot be resolved ({kind}), refused"
    )]
    Unresolvable { field: String, kind: String },
    #[error(
        "{field} runs a credential plugin, refused: credentials from a Secret may not run commands in the controller unless it runs with {ALLOW_EXEC_FLAG}"
    )]
    CommandsNotAllowed { field: String },
}

/// Why the allowed directories themselves are unusable (at start-up).
#[derive(Debug, thiserror::Error)]
#[error("{ALLOW_FILES_FLAG} {dir}: {problem}")]
pub struct AllowError {
    dir: String,
    problem: String,
}

/// A directory credential files may be read from: as given, and resolved.
#[derive(Debug, Clone)]
struct AllowedDir {
    given: PathBuf,
    real: PathBuf,
}

/// What the operator allows credential entries to use; by default nothing.
#[derive(Debug, Clone, Default)]
pub struct LocalAccess {
    dirs: Vec<AllowedDir>,
    commands: bool,
}

impl LocalAccess {
    /// Nothing allowed: no files, no commands.
    pub const fn none() -> LocalAccess {
        LocalAccess {
            dirs: Vec::new(),
            commands: false,
        }
    }

    /// Files under `dirs` (each an existing directory, given as an absolute path) and, with
    /// `commands`, credential plugins.
    pub fn new(dirs: &[PathBuf], commands: bool) -> Result<LocalAccess, AllowError> {
        let mut allowed = Vec::new();
        for dir in dirs {
            let fail = |problem: String| AllowError {
                dir: dir.display().to_string(),
                problem,
            };
            if !is_plain(dir) {
                return Err(fail("not an absolute path without '..'".into()));
            }
            let real = std::fs::canonicalize(dir).map_err(|e| fail(e.kind().to_string()))?;
            if !real.is_dir() {
                return Err(fail("not a directory".into()));
            }
            allowed.push(AllowedDir {
                given: dir.clone(),
                real,
            });
        }
        Ok(LocalAccess {
            dirs: allowed,
            commands,
        })
    }

    /// Whether an entry may use all of `uses`; the first refused one says why.
    pub fn permit<'a>(&self, uses: impl IntoIterator<Item = LocalUse<'a>>) -> Result<(), Refusal> {
        for used in uses {
            match used {
                LocalUse::Command { field } if !self.commands => {
                    return Err(Refusal::CommandsNotAllowed { field });
                }
                LocalUse::Command { .. } => {}
                LocalUse::File { field, path } => self.file(field, Path::new(path))?,
            }
        }
        Ok(())
    }

    fn file(&self, field: String, path: &Path) -> Result<(), Refusal> {
        if self.dirs.is_empty() {
            return Err(Refusal::FilesNotAllowed { field });
        }
        if !is_plain(path) {
            return Err(Refusal::NotPlain { field });
        }
        // Lexically first: a path outside every allowed directory never reaches the file system.
        let inside = |base: &Path| path.starts_with(base) && path != base;
        if !self
            .dirs
            .iter()
            .any(|d| inside(&d.given) || inside(&d.real))
        {
            return Err(Refusal::Outside { field });
        }
        let real = std::fs::canonicalize(path).map_err(|e| Refusal::Unresolvable {
            field: field.clone(),
            kind: e.kind().to_string(),
        })?;
        if self.dirs.iter().any(|d| real.starts_with(&d.real)) {
            Ok(())
        } else {
            Err(Refusal::Escapes { field })
        }
    }
}

/// Absolute, and without `.` or `..` components.
fn is_plain(path: &Path) -> bool {
    path.is_absolute()
        && path
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
        && !path.as_os_str().to_string_lossy().contains("/./")
}

/// What a rest config entry would use of the machine.
pub fn rest_config_uses(config: &RestConfig) -> Vec<LocalUse<'_>> {
    let mut uses: Vec<LocalUse<'_>> = [
        ("BearerTokenFile", &config.bearer_token_file),
        ("TLSClientConfig.CAFile", &config.tls.ca_file),
        ("TLSClientConfig.CertFile", &config.tls.cert_file),
        ("TLSClientConfig.KeyFile", &config.tls.key_file),
    ]
    .into_iter()
    .filter(|(_, path)| !path.is_empty())
    .map(|(field, path)| LocalUse::File {
        field: field.into(),
        path,
    })
    .collect();
    if config.exec_provider.is_some() {
        uses.push(LocalUse::Command {
            field: "ExecProvider".into(),
        });
    }
    if config.auth_provider.is_some() {
        uses.push(LocalUse::Command {
            field: "AuthProvider".into(),
        });
    }
    uses
}

/// What a kubeconfig would use of the machine: every cluster and user in it, used by the
/// current context or not (a kubeconfig in a Secret has no business naming files either way).
pub fn kubeconfig_uses(kc: &Kubeconfig) -> Vec<LocalUse<'_>> {
    let mut uses = Vec::new();
    for named in &kc.clusters {
        let Some(cluster) = &named.cluster else {
            continue;
        };
        if let Some(path) = &cluster.certificate_authority {
            uses.push(LocalUse::File {
                field: format!("cluster {:?} certificate-authority", named.name),
                path,
            });
        }
    }
    for named in &kc.auth_infos {
        let Some(user) = &named.auth_info else {
            continue;
        };
        let field = |what: &str| format!("user {:?} {what}", named.name);
        for (what, path) in [
            ("tokenFile", &user.token_file),
            ("client-certificate", &user.client_certificate),
            ("client-key", &user.client_key),
        ] {
            if let Some(path) = path {
                uses.push(LocalUse::File {
                    field: field(what),
                    path,
                });
            }
        }
        // Client-go's spelling, which kube-rs does not read today; refused all the same, so a
        // later kube-rs that reads it changes nothing here.
        if let Some(path) = user.other.get("token-file").and_then(|v| v.as_str()) {
            uses.push(LocalUse::File {
                field: field("token-file"),
                path,
            });
        }
        if user.exec.is_some() {
            uses.push(LocalUse::Command {
                field: field("exec"),
            });
        }
        if user.auth_provider.is_some() {
            uses.push(LocalUse::Command {
                field: field("auth-provider"),
            });
        }
    }
    uses
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of its own under the system's temporary directory, removed on drop.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let dir = std::env::temp_dir().join(format!(
                "flotilla-local-access-{name}-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("dir");
            Dir(std::fs::canonicalize(&dir).expect("canonical"))
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn rest(json: &str) -> RestConfig {
        RestConfig::parse(json.as_bytes()).expect("parses")
    }

    fn file<'a>(field: &str, path: &'a str) -> LocalUse<'a> {
        LocalUse::File {
            field: field.into(),
            path,
        }
    }

    #[test]
    fn every_file_field_of_a_rest_config_is_found() {
        let config = rest(
            r#"{"Host": "https://h", "BearerTokenFile": "/t",
                "TLSClientConfig": {"CAFile": "/ca", "CertFile": "/c", "KeyFile": "/k"}}"#,
        );
        assert_eq!(
            rest_config_uses(&config),
            [
                file("BearerTokenFile", "/t"),
                file("TLSClientConfig.CAFile", "/ca"),
                file("TLSClientConfig.CertFile", "/c"),
                file("TLSClientConfig.KeyFile", "/k"),
            ]
        );
        let inline = rest(r#"{"Host": "https://h", "BearerToken": "t", "ExecProvider": null}"#);
        assert_eq!(rest_config_uses(&inline), []);
        assert_eq!(
            LocalAccess::none().permit(rest_config_uses(&inline)),
            Ok(())
        );
    }

    #[test]
    fn a_rest_config_reading_the_service_account_token_is_refused_by_field() {
        let config = rest(
            r#"{"Host": "https://h", "BearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"}"#,
        );
        let refused = LocalAccess::none()
            .permit(rest_config_uses(&config))
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "BearerTokenFile names a local file, refused: credentials from a Secret may not read the controller's files unless it runs with --allow-credential-files DIR"
        );
        assert!(!refused.to_string().contains("/var/run"), "no path quoted");
    }

    #[test]
    fn exec_and_auth_providers_of_a_rest_config_are_refused_unless_allowed() {
        let exec = rest(
            r#"{"Host": "https://h", "ExecProvider": {"command": "sh", "args": ["-c", "id"], "apiVersion": "client.authentication.k8s.io/v1"}}"#,
        );
        let auth = rest(
            r#"{"Host": "https://h", "AuthProvider": {"name": "gcp", "config": {"cmd-path": "/bin/sh"}}}"#,
        );
        for (config, field) in [(&exec, "ExecProvider"), (&auth, "AuthProvider")] {
            assert_eq!(
                LocalAccess::none().permit(rest_config_uses(config)),
                Err(Refusal::CommandsNotAllowed {
                    field: field.into()
                })
            );
            let allowed = LocalAccess::new(&[], true).expect("no dirs");
            assert_eq!(allowed.permit(rest_config_uses(config)), Ok(()));
        }
    }

    #[test]
    fn every_local_field_of_a_kubeconfig_is_found_by_cluster_and_user() {
        let kc: Kubeconfig = serde_yaml::from_str(
            r#"
clusters:
- name: c
  cluster: {server: "https://h", certificate-authority: /ca}
users:
- name: u
  user:
    tokenFile: /t
    token-file: /t2
    client-certificate: /c
    client-key: /k
    exec: {command: sh, apiVersion: client.authentication.k8s.io/v1}
    auth-provider: {name: oidc, config: {}}
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"#,
        )
        .expect("kubeconfig");
        let fields: Vec<String> = kubeconfig_uses(&kc)
            .into_iter()
            .map(|u| match u {
                LocalUse::File { field, .. } | LocalUse::Command { field } => field,
            })
            .collect();
        assert_eq!(
            fields,
            [
                r#"cluster "c" certificate-authority"#,
                r#"user "u" tokenFile"#,
                r#"user "u" client-certificate"#,
                r#"user "u" client-key"#,
                r#"user "u" token-file"#,
                r#"user "u" exec"#,
                r#"user "u" auth-provider"#,
            ]
        );
        let refused = LocalAccess::none().permit(kubeconfig_uses(&kc));
        assert_eq!(
            refused,
            Err(Refusal::FilesNotAllowed {
                field: r#"cluster "c" certificate-authority"#.into()
            })
        );
    }

    #[test]
    fn files_are_allowed_only_inside_the_allowed_directories() {
        let allowed = Dir::new("allowed");
        let other = Dir::new("other");
        let token = allowed.0.join("token");
        std::fs::write(&token, "t").expect("token");
        std::fs::write(other.0.join("secret"), "s").expect("secret");
        let access = LocalAccess::new(std::slice::from_ref(&allowed.0), false).expect("allowed");
        let check = |path: &Path| {
            let path = path.to_str().expect("utf-8");
            access.permit([file("BearerTokenFile", path)])
        };
        let field = || "BearerTokenFile".to_string();
        assert_eq!(check(&token), Ok(()));
        assert_eq!(
            check(&other.0.join("secret")),
            Err(Refusal::Outside { field: field() })
        );
        assert_eq!(
            check(&allowed.0),
            Err(Refusal::Outside { field: field() }),
            "the directory itself is no file in it"
        );
        assert_eq!(
            check(Path::new("relative/token")),
            Err(Refusal::NotPlain { field: field() })
        );
        let missing = check(&allowed.0.join("missing"));
        assert!(
            matches!(missing, Err(Refusal::Unresolvable { .. })),
            "{missing:?}"
        );
        // A path outside is refused without looking: the same answer whether it exists or not.
        assert_eq!(
            check(Path::new("/no/such/file")),
            Err(Refusal::Outside { field: field() })
        );
        // Commands stay refused when only files are allowed.
        assert!(matches!(
            access.permit([LocalUse::Command {
                field: "exec".into()
            }]),
            Err(Refusal::CommandsNotAllowed { .. })
        ));
    }

    #[test]
    fn dot_dot_cannot_climb_out_of_an_allowed_directory() {
        let allowed = Dir::new("dotdot");
        let access = LocalAccess::new(std::slice::from_ref(&allowed.0), false).expect("allowed");
        let climbing = format!("{}/../../etc/passwd", allowed.0.display());
        let dotted = format!("{}/./token", allowed.0.display());
        for path in [&climbing, &dotted] {
            assert_eq!(
                access.permit([file("TLSClientConfig.CAFile", path)]),
                Err(Refusal::NotPlain {
                    field: "TLSClientConfig.CAFile".into()
                }),
                "{path}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_cannot_lead_out_of_an_allowed_directory() {
        let allowed = Dir::new("links");
        let outside = Dir::new("links-outside");
        let secret = outside.0.join("secret");
        std::fs::write(&secret, "s").expect("secret");
        let escape = allowed.0.join("escape");
        std::os::unix::fs::symlink(&secret, &escape).expect("link out");
        // A link inside the directory, as a Secret volume's `..data` is, stays allowed.
        std::fs::create_dir(allowed.0.join("..data")).expect("data dir");
        std::fs::write(allowed.0.join("..data/token"), "t").expect("token");
        let inner = allowed.0.join("token");
        std::os::unix::fs::symlink(allowed.0.join("..data/token"), &inner).expect("link in");
        // The allowed directory may itself be reached through a link.
        let via = outside.0.join("via");
        std::os::unix::fs::symlink(&allowed.0, &via).expect("link to dir");
        let access = LocalAccess::new(std::slice::from_ref(&via), false).expect("allowed");
        let check =
            |path: &Path| access.permit([file("user \"u\" tokenFile", path.to_str().unwrap())]);
        assert_eq!(
            check(&via.join("escape")),
            Err(Refusal::Escapes {
                field: "user \"u\" tokenFile".into()
            })
        );
        assert_eq!(
            check(&escape),
            Err(Refusal::Escapes {
                field: "user \"u\" tokenFile".into()
            })
        );
        assert_eq!(check(&via.join("token")), Ok(()));
        assert_eq!(check(&inner), Ok(()));
    }

    #[test]
    fn allowed_directories_must_exist_and_be_plain() {
        let err = LocalAccess::new(&[PathBuf::from("relative")], false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--allow-credential-files relative: not an absolute path without '..'"
        );
        assert!(LocalAccess::new(&[PathBuf::from("/no/such/dir/at/all")], false).is_err());
    }
}
