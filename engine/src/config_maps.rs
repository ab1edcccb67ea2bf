//! Parameters read from ConfigMaps (`valueFrom.configMapKeyRef`), as Argo reads them: from a
//! ConfigMap in the workflow's namespace, in the controller's cluster, that carries the label
//! `workflows.argoproj.io/configmap-type: Parameter`; with Argo's messages.

use serde_json::Value;

use crate::observed::Observed;
use crate::ports::{CONFIG_MAP_TYPE, ConfigMapValue};
use crate::workflow::Parameter;

/// A parameter's `valueFrom.configMapKeyRef`: the ConfigMap's name and the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyRef {
    pub(crate) name: String,
    pub(crate) key: String,
}

impl KeyRef {
    /// The reference `p` reads from, if any; `Err` names what is missing.
    pub(crate) fn of(p: &Parameter) -> Option<Result<KeyRef, String>> {
        let reference = p.value_from.as_ref()?.config_map_key_ref.as_ref()?;
        if reference.is_null() {
            return None;
        }
        let field = |f: &str| reference.get(f).and_then(Value::as_str).map(str::to_string);
        Some(match (field("name"), field("key")) {
            (Some(name), Some(key)) if !name.is_empty() && !key.is_empty() => {
                Ok(KeyRef { name, key })
            }
            _ => Err(format!(
                "parameter {:?}: valueFrom.configMapKeyRef needs a name and a key",
                p.name
            )),
        })
    }

    /// The value under the key, or Argo's message saying why there is none.
    pub(crate) fn read(&self, observed: &Observed, namespace: &str) -> Result<String, String> {
        let found = match &observed.config_maps {
            Some(maps) => maps.value(namespace, &self.name, &self.key),
            None => ConfigMapValue::NoConfigMap,
        };
        let (label, value) = CONFIG_MAP_TYPE;
        match found {
            ConfigMapValue::Value(v) => Ok(v),
            ConfigMapValue::NoKey => Err(format!(
                "ConfigMap '{}' does not have the key '{}'",
                self.name, self.key
            )),
            ConfigMapValue::NoConfigMap => Err(format!(
                "ConfigMap '{}' does not exist. Please make sure it has the label {label}: {value} to be detectable by the controller",
                self.name
            )),
        }
    }
}

/// `valueFrom.default`, what a parameter falls back to when its ConfigMap has no value.
pub(crate) fn fallback(p: &Parameter) -> Option<String> {
    p.value_from
        .as_ref()
        .and_then(|v| v.default.as_ref())
        .map(|d| d.0.clone())
}
