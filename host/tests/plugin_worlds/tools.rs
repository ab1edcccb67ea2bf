//! `validate`, `try_out` and the disk cache.

use std::os::unix::fs::PermissionsExt;

use super::*;

// ---------------------------------------------------------------------------------------------
// validate

#[test]
fn validate_names_each_components_world() {
    for (name, world) in [
        ("naming_cluster_prefixed", World::NamingPolicy),
        ("misbehaving", World::NamingPolicy),
        ("placement_label_affinity", World::PlacementPolicy),
        ("placement_least_loaded", World::PlacementPolicy),
        ("misbehaving_placement", World::PlacementPolicy),
        ("credentials_rest_config", World::CredentialProvider),
        ("credentials_eks", World::CredentialProvider),
        ("credentials_token_file", World::CredentialProvider),
    ] {
        let worlds = validate(name, &component(name)).map(|p| p.worlds);
        assert_eq!(worlds, Ok(vec![world]), "{name}");
    }
}

#[test]
fn validate_refuses_a_component_built_against_another_wit_version() {
    let err = validate("misbehaving-future", &component("misbehaving_future")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin misbehaving-future was built against flotilla:plugins@99.0.0; this controller provides @0.1.0 and @0.2.0: rebuild it against one of those"
    );
}

// ---------------------------------------------------------------------------------------------
// try_out

#[test]
fn trying_a_credential_provider_shows_no_secret() {
    let bytes = component("credentials_eks");
    let token = bearer(
        &eks()
            .provide("prod", "eks", eks_entry().as_bytes(), "", NOW)
            .unwrap(),
    )
    .to_string();
    let input = serde_json::json!({
        "cluster": "prod",
        "kind": "eks",
        "entry": eks_entry(),
        "now": NOW,
    })
    .to_string();
    let answer =
        flotilla::plugins::try_out("eks", &bytes, World::CredentialProvider, &input).unwrap();
    assert_eq!(
        answer,
        serde_json::json!({
            "server": "https://ABC.gr7.us-east-1.eks.amazonaws.com",
            "caPem": format!("{} bytes", CA.len()),
            "insecure": false,
            "serverName": "",
            "auth": format!("bearer token (redacted, {} characters)", token.len()),
            "expiresAt": NOW + 840,
        })
    );
    let text = answer.to_string();
    assert_hidden(&text, SECRET_ACCESS_KEY);
    assert_hidden(&text, &token);
    assert_hidden(&text, &token["k8s-aws-v1.".len()..]);
}

#[test]
fn trying_a_token_file_provider_with_a_granted_directory() {
    let dir = TempDir::new("try-out");
    let path = dir.write("token", FILE_TOKEN);
    let input = serde_json::json!({
        "cluster": "in-cluster",
        "entry": token_file_entry(&path),
        "config": {"refreshSeconds": 7},
        "now": NOW,
        "readOnlyDirs": [dir.0],
    })
    .to_string();
    let answer = flotilla::plugins::try_out(
        "token-file",
        &component("credentials_token_file"),
        World::CredentialProvider,
        &input,
    )
    .unwrap();
    assert_eq!(
        answer["auth"],
        format!("bearer token (redacted, {} characters)", FILE_TOKEN.len())
    );
    assert_eq!(answer["expiresAt"], NOW + 7);
    assert_hidden(&answer.to_string(), FILE_TOKEN);
}

// ---------------------------------------------------------------------------------------------
// The disk cache

/// The files in `dir` for the component whose digest is `digest`.
pub(crate) fn cached(dir: &Path, digest: &str) -> Vec<PathBuf> {
    let prefix = format!("{digest}-");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn a_host_with_a_cache_directory_caches_compiled_components_and_ignores_a_corrupt_one() {
    let scratch = TempDir::new("plugin-cache");
    let dir = scratch.0.join("plugins");
    let bytes = component("naming_argo");
    let d = digest(&bytes);
    assert_eq!(d, format!("{:x}", Sha256::digest(&bytes)));
    let host = PluginHost::with_disk_cache(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700, "created private");
    assert_eq!(cached(&dir, &d), Vec::<PathBuf>::new());
    let argo_name = flotilla_engine::naming::pod_name("wf", "wf.a", "say", PodNameFormat::V2);
    let load_and_name = || {
        host.naming("cached", &bytes, limits())
            .and_then(|p| p.pod_name(&node("wf", "wf.a", "say"), &at(""), ""))
    };
    assert_eq!(load_and_name(), Ok(argo_name.clone()));
    let files = cached(&dir, &d);
    assert_eq!(files.len(), 1, "{files:?} in {}", dir.display());
    let file = files[0].clone();
    assert_eq!(mode(&file), 0o600, "written private");
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let engine_hash = name
        .strip_prefix(&format!("{d}-"))
        .and_then(|rest| rest.strip_suffix(".cwasm"))
        .unwrap_or_else(|| panic!("{name}"));
    assert_eq!(engine_hash.len(), 16, "{name}");
    assert!(lowercase_hex(engine_hash), "{name}");
    // Loaded again, from the cache: the same answer, the same one file.
    assert_eq!(load_and_name(), Ok(argo_name.clone()));
    assert_eq!(cached(&dir, &d), std::slice::from_ref(&file));

    // A corrupt file is ignored (compiled again) and replaced.
    let garbage = b"this is not a compiled component".as_slice();
    std::fs::write(&file, garbage).unwrap();
    assert_eq!(load_and_name(), Ok(argo_name));
    assert_eq!(cached(&dir, &d), std::slice::from_ref(&file));
    let rewritten = std::fs::read(&file).unwrap();
    assert_ne!(rewritten, garbage);
    assert!(rewritten.len() > garbage.len());
}

#[test]
fn a_cache_directory_others_may_write_is_refused() {
    let scratch = TempDir::new("shared-cache");
    std::fs::set_permissions(&scratch.0, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = PluginHost::with_disk_cache(&scratch.0)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&scratch.0.display().to_string()) && err.contains("others may write"),
        "{err}"
    );
}

pub(crate) fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}
