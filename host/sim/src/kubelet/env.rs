//! A container's environment and Kubernetes' `$(VAR)` expansion, as the kubelet computes them
//! (`pkg/kubelet/kubelet_pods.go` `makeEnvironmentVariables`, `third_party/forked/golang/expansion`).
//!
//! Pure: ConfigMaps and Secrets the container refers to are fetched by the caller (see
//! [`references`]) and passed in as [`EnvSources`].

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, ObjectFieldSelector, Pod};

/// Data of the ConfigMaps and Secrets a container refers to; `None` means it does not exist.
#[derive(Debug, Clone, Default)]
pub(crate) struct EnvSources {
    pub(crate) config_maps: BTreeMap<String, Option<BTreeMap<String, String>>>,
    pub(crate) secrets: BTreeMap<String, Option<BTreeMap<String, String>>>,
}

/// Names of the ConfigMaps and Secrets the container's `env` and `envFrom` refer to.
pub(crate) fn references(container: &Container) -> (Vec<String>, Vec<String>) {
    let (mut config_maps, mut secrets) = (Vec::new(), Vec::new());
    for from in container.env_from.iter().flatten() {
        config_maps.extend(from.config_map_ref.as_ref().map(|r| r.name.clone()));
        secrets.extend(from.secret_ref.as_ref().map(|r| r.name.clone()));
    }
    for var in container.env.iter().flatten() {
        let Some(source) = &var.value_from else {
            continue;
        };
        config_maps.extend(source.config_map_key_ref.as_ref().map(|r| r.name.clone()));
        secrets.extend(source.secret_key_ref.as_ref().map(|r| r.name.clone()));
    }
    (config_maps, secrets)
}

/// The container's environment, or the `CreateContainerConfigError` message the kubelet would show.
pub(crate) fn container_env(
    pod: &Pod,
    container: &Container,
    host_ip: &str,
    pod_ip: &str,
    sources: &EnvSources,
) -> Result<BTreeMap<String, String>, String> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.as_deref().unwrap_or_default();
        let data = if let Some(r) = &from.config_map_ref {
            match sources.config_maps.get(&r.name).cloned().flatten() {
                Some(data) => data,
                None if r.optional == Some(true) => continue,
                None => return Err(format!("configmap \"{}\" not found", r.name)),
            }
        } else if let Some(r) = &from.secret_ref {
            match sources.secrets.get(&r.name).cloned().flatten() {
                Some(data) => data,
                None if r.optional == Some(true) => continue,
                None => return Err(format!("secret \"{}\" not found", r.name)),
            }
        } else {
            continue;
        };
        for (key, value) in data {
            env.insert(format!("{prefix}{key}"), value);
        }
    }
    for var in container.env.iter().flatten() {
        let value = if let Some(value) = &var.value {
            expand(value, |name| env.get(name).cloned())
        } else if let Some(source) = &var.value_from {
            if let Some(field) = &source.field_ref {
                field_value(pod, field, host_ip, pod_ip)?
            } else if let Some(r) = &source.config_map_key_ref {
                let data = sources.config_maps.get(&r.name);
                match key_value(data, &r.name, &r.key, r.optional, "ConfigMap", namespace)? {
                    Some(v) => v,
                    None => continue,
                }
            } else if let Some(r) = &source.secret_key_ref {
                let data = sources.secrets.get(&r.name);
                match key_value(data, &r.name, &r.key, r.optional, "Secret", namespace)? {
                    Some(v) => v,
                    None => continue,
                }
            } else if let Some(r) = &source.resource_field_ref {
                resource_value(container, &r.resource)
            } else {
                String::new()
            }
        } else {
            String::new()
        };
        env.insert(var.name.clone(), value);
    }
    Ok(env)
}

/// A `configMapKeyRef` or `secretKeyRef` value (`data`: the object's, `None` if it does not exist);
/// `Ok(None)`: an optional reference to a missing object or key, which sets no variable.
fn key_value(
    data: Option<&Option<BTreeMap<String, String>>>,
    name: &str,
    key: &str,
    optional: Option<bool>,
    kind: &str,
    namespace: &str,
) -> Result<Option<String>, String> {
    let optional = optional == Some(true);
    match data.and_then(Option::as_ref) {
        Some(data) => match data.get(key) {
            Some(v) => Ok(Some(v.clone())),
            None if optional => Ok(None),
            None => Err(format!(
                "couldn't find key {key} in {kind} {namespace}/{name}"
            )),
        },
        None if optional => Ok(None),
        None => Err(format!("{} \"{name}\" not found", kind.to_lowercase())),
    }
}

/// A `fieldRef` value; the supported paths are the kubelet's.
fn field_value(
    pod: &Pod,
    field: &ObjectFieldSelector,
    host_ip: &str,
    pod_ip: &str,
) -> Result<String, String> {
    let meta = &pod.metadata;
    let path = field.field_path.as_str();
    let quoted_key = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix("['").or_else(|| rest.strip_prefix("[\"")))
            .and_then(|rest| rest.strip_suffix("']").or_else(|| rest.strip_suffix("\"]")))
            .map(str::to_owned)
    };
    let value = match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "spec.nodeName" => pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default(),
        "spec.serviceAccountName" => pod
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.hostIP" | "status.hostIPs" => host_ip.to_owned(),
        "status.podIP" | "status.podIPs" => pod_ip.to_owned(),
        _ => {
            if let Some(key) = quoted_key("metadata.labels") {
                meta.labels
                    .as_ref()
                    .and_then(|l| l.get(&key).cloned())
                    .unwrap_or_default()
            } else if let Some(key) = quoted_key("metadata.annotations") {
                meta.annotations
                    .as_ref()
                    .and_then(|a| a.get(&key).cloned())
                    .unwrap_or_default()
            } else {
                return Err(format!("unsupported fieldPath: {path}"));
            }
        }
    };
    Ok(value)
}

/// A `resourceFieldRef` value: the container's limit (or request) as written; empty when unset.
fn resource_value(container: &Container, resource: &str) -> String {
    let resources = container.resources.as_ref();
    let (kind, name) = resource.split_once('.').unwrap_or(("limits", resource));
    let map = if kind == "requests" {
        resources.and_then(|r| r.requests.as_ref())
    } else {
        resources.and_then(|r| r.limits.as_ref())
    };
    map.and_then(|m| m.get(name))
        .map(|q| q.0.clone())
        .unwrap_or_default()
}

/// Kubernetes' `$(VAR)` expansion: a defined `$(NAME)` becomes its value, an undefined one stays
/// as written, `$$` is an escaped `$`, and any other `$` is kept.
pub(crate) fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.chars().next() {
            Some('$') => {
                out.push('$');
                rest = &after[1..];
            }
            Some('(') => match after.find(')') {
                Some(close) => {
                    let name = &after[1..close];
                    match lookup(name) {
                        Some(value) => out.push_str(&value),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &after[close + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = &after[1..];
                }
            },
            Some(c) => {
                out.push('$');
                out.push(c);
                rest = &after[c.len_utf8()..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ConfigMapKeySelector, EnvFromSource, EnvVar, EnvVarSource, SecretEnvSource,
    };

    fn lookup(name: &str) -> Option<String> {
        (name == "A").then(|| "x".to_owned())
    }

    #[test]
    fn kubernetes_expansion_rules() {
        assert_eq!(expand("$(A)-$(B)", lookup), "x-$(B)");
        assert_eq!(expand("$$(A) $$ $", lookup), "$(A) $ $");
        assert_eq!(expand("$(A", lookup), "$(A");
        assert_eq!(expand("cost $5 $(A)", lookup), "cost $5 x");
        assert_eq!(expand("é$(A)é", lookup), "éxé");
    }

    fn env_var(name: &str, value: Option<&str>, from: Option<EnvVarSource>) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: value.map(Into::into),
            value_from: from,
        }
    }

    fn pod() -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u", "labels": {"app": "web"}},
            "spec": {"nodeName": "sim-node", "containers": []}
        }))
        .unwrap()
    }

    #[test]
    fn env_with_references_and_field_refs() {
        let field = |path: &str| EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                api_version: None,
            }),
            ..Default::default()
        };
        let container = Container {
            name: "main".into(),
            env_from: Some(vec![EnvFromSource {
                prefix: Some("S_".into()),
                secret_ref: Some(SecretEnvSource {
                    name: "sec".into(),
                    optional: None,
                }),
                ..Default::default()
            }]),
            env: Some(vec![
                env_var("POD", None, Some(field("metadata.name"))),
                env_var("APP", None, Some(field("metadata.labels['app']"))),
                env_var("IP", None, Some(field("status.podIP"))),
                env_var("GREETING", Some("hi $(POD) $(S_token) $(LATER)"), None),
                env_var("LATER", Some("l"), None),
            ]),
            ..Default::default()
        };
        assert_eq!(references(&container), (vec![], vec!["sec".to_owned()]));
        let mut sources = EnvSources::default();
        sources.secrets.insert(
            "sec".into(),
            Some(BTreeMap::from([("token".into(), "t0k".into())])),
        );
        let env = container_env(&pod(), &container, "10.0.0.1", "10.244.0.2", &sources).unwrap();
        assert_eq!(env["POD"], "p");
        assert_eq!(env["APP"], "web");
        assert_eq!(env["IP"], "10.244.0.2");
        assert_eq!(env["GREETING"], "hi p t0k $(LATER)");

        sources.secrets.insert("sec".into(), None);
        let err = container_env(&pod(), &container, "", "", &sources).unwrap_err();
        assert_eq!(err, "secret \"sec\" not found");
    }

    #[test]
    fn missing_config_map_key() {
        let from = EnvVarSource {
            config_map_key_ref: Some(ConfigMapKeySelector {
                name: "cm".into(),
                key: "k".into(),
                optional: None,
            }),
            ..Default::default()
        };
        let container = Container {
            name: "main".into(),
            env: Some(vec![env_var("V", None, Some(from))]),
            ..Default::default()
        };
        let mut sources = EnvSources::default();
        sources
            .config_maps
            .insert("cm".into(), Some(BTreeMap::new()));
        let err = container_env(&pod(), &container, "", "", &sources).unwrap_err();
        assert_eq!(err, "couldn't find key k in ConfigMap ns/cm");
    }
}
