//! `validate`, `try_out` and the disk cache.

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
        assert_eq!(validate(name, &component(name)), Ok(vec![world]), "{name}");
    }
}

#[test]
fn validate_refuses_a_component_built_against_another_wit_version() {
    let err = validate("misbehaving-v2", &component("misbehaving_v2")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin misbehaving-v2 was built against flotilla:plugins@0.2.0; this controller provides @0.1.0: rebuild it against the controller's wit/"
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

/// Where `PluginHost::shared` keeps compiled components.
pub(crate) fn cache_dir() -> PathBuf {
    std::env::var_os("FLOTILLA_PLUGIN_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("flotilla-plugins"))
}

/// `bytes` with a custom section appended: the same component to wasmtime, other bytes (so
/// another digest) to the cache.
pub(crate) fn with_custom_section(bytes: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    fn leb128(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut content = Vec::new();
    leb128(name.len(), &mut content);
    content.extend_from_slice(name.as_bytes());
    content.extend_from_slice(payload);
    let mut out = bytes.to_vec();
    out.push(0); // a custom section
    leb128(content.len(), &mut out);
    out.extend_from_slice(&content);
    out
}

/// The cache's files for the component whose digest is `digest`.
pub(crate) fn cached(digest: &str) -> Vec<PathBuf> {
    let prefix = format!("{digest}-");
    let mut files: Vec<PathBuf> = std::fs::read_dir(cache_dir())
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
fn the_shared_host_caches_compiled_components_and_ignores_a_corrupt_one() {
    // Bytes no run has loaded before, so the file below cannot be left over from another.
    let unique = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    );
    let bytes = with_custom_section(
        &component("naming_argo"),
        "flotilla-test",
        unique.as_bytes(),
    );
    let d = digest(&bytes);
    assert_eq!(d, format!("{:x}", Sha256::digest(&bytes)));
    assert_eq!(cached(&d), Vec::<PathBuf>::new());
    let host = PluginHost::shared().unwrap();
    let argo_name = flotilla::naming::pod_name("wf", "wf.a", "say", PodNameFormat::V2);
    let load_and_name = || {
        host.naming("cached", &bytes, limits())
            .and_then(|p| p.pod_name(&node("wf", "wf.a", "say"), &at(""), ""))
    };
    assert_eq!(load_and_name(), Ok(argo_name.clone()));
    let files = cached(&d);
    assert_eq!(files.len(), 1, "{files:?} in {}", cache_dir().display());
    let file = files[0].clone();
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let engine_hash = name
        .strip_prefix(&format!("{d}-"))
        .and_then(|rest| rest.strip_suffix(".cwasm"))
        .unwrap_or_else(|| panic!("{name}"));
    assert_eq!(engine_hash.len(), 16, "{name}");
    assert!(
        engine_hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{name}"
    );
    // Loaded again, from the cache: the same answer, the same one file.
    assert_eq!(load_and_name(), Ok(argo_name.clone()));
    assert_eq!(cached(&d), std::slice::from_ref(&file));

    // A corrupt file is ignored (compiled again) and replaced.
    let garbage = b"this is not a compiled component".as_slice();
    std::fs::write(&file, garbage).unwrap();
    assert_eq!(load_and_name(), Ok(argo_name));
    assert_eq!(cached(&d), std::slice::from_ref(&file));
    let rewritten = std::fs::read(&file).unwrap();
    assert_ne!(rewritten, garbage);
    assert!(rewritten.len() > garbage.len());
    let _ = std::fs::remove_file(&file);
}
