//! The ConfigMaps workflow parameters are read from (`valueFrom.configMapKeyRef`): those
//! labelled `workflows.argoproj.io/configmap-type: Parameter` in the controller's cluster, as
//! Argo's controller reads them. Only the labelled ones are watched and cached; a workflow
//! reads from its own namespace only (the engine asks for nothing else).

use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::reflector::{ObjectRef, Store};

use flotilla_engine::ports::{CONFIG_MAP_TYPE, ConfigMapValue, ParameterConfigMaps};

/// The label selector of the ConfigMaps watched.
pub(super) fn selector() -> String {
    let (label, value) = CONFIG_MAP_TYPE;
    format!("{label}={value}")
}

/// The cache of labelled ConfigMaps, as the engine reads it.
pub(super) struct ParameterMaps(pub(super) Store<ConfigMap>);

impl std::fmt::Debug for ParameterMaps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ParameterMaps")
            .field(&self.0.state().len())
            .finish()
    }
}

impl ParameterConfigMaps for ParameterMaps {
    fn value(&self, namespace: &str, name: &str, key: &str) -> ConfigMapValue {
        let Some(map) = self.0.get(&ObjectRef::new(name).within(namespace)) else {
            return ConfigMapValue::NoConfigMap;
        };
        // The watch's selector vouches for the label; checked again, as the cache is the
        // controller's only reason to believe it.
        let (label, value) = CONFIG_MAP_TYPE;
        if map
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(label))
            .map(String::as_str)
            != Some(value)
        {
            return ConfigMapValue::NoConfigMap;
        }
        match map.data.as_ref().and_then(|d| d.get(key)) {
            Some(v) => ConfigMapValue::Value(v.clone()),
            None => ConfigMapValue::NoKey,
        }
    }
}

#[cfg(test)]
mod tests {
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    use super::*;

    fn config_map(namespace: &str, name: &str, labelled: bool) -> ConfigMap {
        serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": if labelled {
                    serde_json::json!({"workflows.argoproj.io/configmap-type": "Parameter"})
                } else {
                    serde_json::json!({"workflows.argoproj.io/configmap-type": "Cache"})
                },
            },
            "data": {"msg": "hello"},
        }))
        .unwrap()
    }

    #[test]
    fn values_come_from_labelled_config_maps_of_the_namespace_asked() {
        let (store, mut writer) = reflector::store::<ConfigMap>();
        writer.apply_watcher_event(&Event::Apply(config_map("argo", "params", true)));
        writer.apply_watcher_event(&Event::Apply(config_map("argo", "cache", false)));
        let maps = ParameterMaps(store);
        assert_eq!(
            maps.value("argo", "params", "msg"),
            ConfigMapValue::Value("hello".into())
        );
        assert_eq!(maps.value("argo", "params", "other"), ConfigMapValue::NoKey);
        assert_eq!(
            maps.value("team-b", "params", "msg"),
            ConfigMapValue::NoConfigMap
        );
        assert_eq!(
            maps.value("argo", "cache", "msg"),
            ConfigMapValue::NoConfigMap
        );
    }
}
