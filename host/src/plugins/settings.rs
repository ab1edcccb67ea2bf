//! The `flotilla-plugins` ConfigMap: per extension point, which component and where it comes
//! from, its configuration, limits and failure policy. Pure: parsed from the ConfigMap's data;
//! every problem names the key (and field) at fault.
//!
//! ```yaml
//! data:
//!   placement: |                 # also: naming, credentials.<kind>
//!     component:
//!       configMapKey: label-affinity.wasm   # a binaryData key of this ConfigMap, or
//!       # file: /opt/flotilla/plugins/placement_label_affinity.wasm
//!       # url: https://example.com/p.wasm
//!       # sha256: <hex>                     # required with url, checked for all
//!     config: {pendingWeight: 2}            # handed to the plugin as JSON
//!     failurePolicy: Fail                   # or Ignore (the built-in answer)
//!     deadline: 100ms
//!     memory: 16Mi
//!     readOnlyDirs: [/var/run/secrets/tokens]  # credential providers only
//! binaryData:
//!   label-affinity.wasm: <base64>
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{ExtensionPoint, Limits};

/// The ConfigMap, in the controller's namespace.
pub const CONFIG_MAP: &str = "flotilla-plugins";

/// Where a component's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file in the controller's image (or a mounted volume).
    File(PathBuf),
    /// A `binaryData` key of the ConfigMap.
    ConfigMapKey(String),
    /// Fetched over https, and only used if its SHA-256 is `sha256`.
    Url(String),
}

/// What a plugin's failure to answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum FailurePolicy {
    /// Fail closed: no answer, the node waits (and is retried) — the default.
    #[default]
    Fail,
    /// Fail open: the built-in answer (the template's place, Argo's name).
    Ignore,
}

/// One extension point's plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointSettings {
    pub source: Source,
    /// Lower-case hex; required for a URL.
    pub sha256: Option<String>,
    /// The plugin's configuration, as JSON text (empty when none).
    pub config: String,
    pub failure_policy: FailurePolicy,
    pub limits: Limits,
    pub read_only_dirs: Vec<PathBuf>,
}

/// Every extension point configured, and the keys that could not be used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// By the point their key names.
    pub points: BTreeMap<ExtensionPoint, PointSettings>,
    /// One line per unusable key, naming it.
    pub problems: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawPoint {
    component: RawComponent,
    #[serde(default)]
    config: Option<serde_json::Value>,
    #[serde(default)]
    failure_policy: FailurePolicy,
    deadline: Option<String>,
    memory: Option<String>,
    #[serde(default)]
    read_only_dirs: Vec<PathBuf>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawComponent {
    file: Option<PathBuf>,
    config_map_key: Option<String>,
    url: Option<String>,
    sha256: Option<String>,
}

impl Settings {
    /// From the ConfigMap's `data` (`binaryData` holds components, read when loading).
    pub fn from_data(data: &BTreeMap<String, String>) -> Settings {
        let mut settings = Settings::default();
        for (key, text) in data {
            let Some(point) = ExtensionPoint::parse(key) else {
                settings.problems.push(format!(
                    "ConfigMap {CONFIG_MAP} key {key}: not an extension point ({})",
                    ExtensionPoint::EXPECTED
                ));
                continue;
            };
            match point_settings(&point, text) {
                Ok(point_settings) => {
                    settings.points.insert(point, point_settings);
                }
                Err(problem) => settings
                    .problems
                    .push(format!("ConfigMap {CONFIG_MAP} key {key}: {problem}")),
            }
        }
        settings
    }
}

fn point_settings(point: &ExtensionPoint, text: &str) -> Result<PointSettings, String> {
    let raw: RawPoint = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    let c = raw.component;
    let source = match (c.file, c.config_map_key, c.url) {
        (Some(file), None, None) if file.is_absolute() => Source::File(file),
        (Some(file), None, None) => {
            return Err(format!(
                "component.file {:?} is not an absolute path",
                file.display()
            ));
        }
        (None, Some(k), None) => Source::ConfigMapKey(k),
        (None, None, Some(url)) if url.starts_with("https://") => Source::Url(url),
        (None, None, Some(url)) => {
            return Err(format!("component.url {url:?} is not an https:// URL"));
        }
        _ => return Err("component: set exactly one of file, configMapKey, url".into()),
    };
    let sha256 = match c.sha256 {
        Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(hex.to_ascii_lowercase())
        }
        Some(hex) => {
            return Err(format!(
                "component.sha256 {hex:?} is not 64 hexadecimal digits"
            ));
        }
        None if matches!(source, Source::Url(_)) => {
            return Err("component.sha256 is required with component.url".into());
        }
        None => None,
    };
    let mut limits = Limits::default();
    if let Some(deadline) = raw.deadline {
        limits.deadline =
            flotilla_engine::parse_duration(&deadline).map_err(|e| format!("deadline: {e}"))?;
        if limits.deadline < Duration::from_millis(1) {
            return Err(format!("deadline {deadline:?} is under a millisecond"));
        }
    }
    if let Some(memory) = raw.memory {
        limits.memory = quantity(&memory)
            .ok_or_else(|| format!("memory {memory:?} is not a size (e.g. 16Mi, 64Mi, 1Gi)"))?;
    }
    let provider = matches!(point, ExtensionPoint::Credentials { .. });
    if !raw.read_only_dirs.is_empty() && !provider {
        return Err("readOnlyDirs: only credential providers may be granted directories".into());
    }
    if let Some(dir) = raw.read_only_dirs.iter().find(|d| !d.is_absolute()) {
        return Err(format!(
            "readOnlyDirs: {:?} is not an absolute path",
            dir.display()
        ));
    }
    let config = match raw.config {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s,
        Some(other) => other.to_string(),
    };
    Ok(PointSettings {
        source,
        sha256,
        config,
        failure_policy: raw.failure_policy,
        limits,
        read_only_dirs: raw.read_only_dirs,
    })
}

/// A Kubernetes binary quantity (`16Mi`, `1Gi`, `512Ki`) or a number of bytes.
fn quantity(text: &str) -> Option<usize> {
    let text = text.trim();
    if let Ok(bytes) = text.parse() {
        return Some(bytes);
    }
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let value: usize = digits.parse().ok()?;
    let scale = match unit {
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        _ => return None,
    };
    value.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_data(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_point_reads_its_source_config_and_limits() {
        let s = settings(&[(
            "placement",
            "component: {configMapKey: p.wasm}\nconfig: {pendingWeight: 2}\nfailurePolicy: Ignore\ndeadline: 250ms\nmemory: 32Mi\n",
        )]);
        assert_eq!(s.problems, Vec::<String>::new());
        let p = &s.points[&ExtensionPoint::Placement];
        assert_eq!(p.source, Source::ConfigMapKey("p.wasm".into()));
        assert_eq!(p.config, r#"{"pendingWeight":2}"#);
        assert_eq!(p.failure_policy, FailurePolicy::Ignore);
        assert_eq!(p.limits.deadline, Duration::from_millis(250));
        assert_eq!(p.limits.memory, 32 << 20);
        let s = settings(&[("naming", "component: {file: /plugins/n.wasm}")]);
        let n = &s.points[&ExtensionPoint::Naming];
        assert_eq!(n.failure_policy, FailurePolicy::Fail, "closed by default");
        assert_eq!(n.limits, Limits::default());
        assert_eq!(n.config, "");
    }

    #[test]
    fn every_problem_names_its_key_and_field() {
        let s = settings(&[
            ("placment", "component: {file: /p.wasm}"),
            ("naming", "component: {file: n.wasm}"),
            ("credentials.eks", "component: {url: https://x/e.wasm}"),
            (
                "credentials.oidc",
                "component: {url: http://x/e.wasm, sha256: ab}",
            ),
            (
                "placement",
                "component: {file: /p.wasm}\nreadOnlyDirs: [/etc]",
            ),
        ]);
        assert_eq!(s.points.len(), 0, "{:?}", s.points);
        assert_eq!(
            s.problems,
            [
                "ConfigMap flotilla-plugins key credentials.eks: component.sha256 is required with component.url",
                "ConfigMap flotilla-plugins key credentials.oidc: component.url \"http://x/e.wasm\" is not an https:// URL",
                "ConfigMap flotilla-plugins key naming: component.file \"n.wasm\" is not an absolute path",
                "ConfigMap flotilla-plugins key placement: readOnlyDirs: only credential providers may be granted directories",
                "ConfigMap flotilla-plugins key placment: not an extension point (placement, naming, credentials.<kind>)",
            ]
        );
        let s = settings(&[("naming", "component: {file: /n.wasm}\ndeadlin: 1s")]);
        assert!(
            s.problems[0].contains("unknown field `deadlin`"),
            "{:?}",
            s.problems
        );
        let s = settings(&[("naming", "component: {file: /n.wasm, configMapKey: n}")]);
        assert!(s.problems[0].ends_with("component: set exactly one of file, configMapKey, url"));
        let s = settings(&[("naming", "component: {file: /n.wasm}\nmemory: lots")]);
        assert!(s.problems[0].ends_with(r#"memory "lots" is not a size (e.g. 16Mi, 64Mi, 1Gi)"#));
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity("16Mi"), Some(16 << 20));
        assert_eq!(quantity("512Ki"), Some(512 << 10));
        assert_eq!(quantity("1Gi"), Some(1 << 30));
        assert_eq!(quantity("16M"), None);
        assert_eq!(quantity("Mi"), None);
        assert_eq!(quantity("1000000"), Some(1_000_000));
    }
}
