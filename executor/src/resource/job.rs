//! What a resource template's pod is to do, parsed and checked before any request: the verb,
//! the manifest, the merge strategy, the conditions and the outputs ([`ResourceJob`], pure).

use serde::Deserialize;
use serde_json::Value;

use super::ResourceError;
use crate::condition::Condition;
use crate::path::kubectl_jsonpath;
use flotilla_engine::resource_target;
use flotilla_engine::workflow::{Outputs, Parameter, ResourceTemplate};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Create,
    Apply,
    Replace,
    Patch,
    Delete,
}

impl Verb {
    pub(super) fn parse(action: &str) -> Option<Verb> {
        Some(match action {
            "get" => Verb::Get,
            "create" => Verb::Create,
            "apply" => Verb::Apply,
            "replace" => Verb::Replace,
            "patch" => Verb::Patch,
            "delete" => Verb::Delete,
            _ => return None,
        })
    }

    /// The past tense kubectl prints (`configmap/x created`).
    pub(super) fn done(self) -> &'static str {
        match self {
            Verb::Get => "found",
            Verb::Create => "created",
            Verb::Apply => "configured",
            Verb::Replace => "replaced",
            Verb::Patch => "patched",
            Verb::Delete => "deleted",
        }
    }
}

/// One resource action, parsed from the template the controller put on the pod.
#[derive(Debug, Clone)]
pub struct ResourceJob {
    pub verb: Verb,
    pub(super) manifest: Value,
    pub(super) merge: MergeStrategy,
    pub(super) success: Option<Condition>,
    pub(super) failure: Option<Condition>,
    pub(super) set_owner: bool,
    pub(super) outputs: Vec<Parameter>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MergeStrategy {
    Strategic,
    Merge,
}

#[derive(Debug, Deserialize)]
struct View {
    resource: Option<ResourceTemplate>,
    #[serde(default)]
    outputs: Option<Outputs>,
}

impl ResourceJob {
    /// From the template JSON (`ARGO_TEMPLATE`): checks the action, manifest, strategy,
    /// conditions and outputs, so a bad template fails before touching the cluster.
    pub fn from_template(template_json: &str) -> Result<ResourceJob, ResourceError> {
        let view: View = serde_json::from_str(template_json)
            .map_err(|e| ResourceError::BadTemplate(e.to_string()))?;
        let r = view.resource.ok_or(ResourceError::NoResource)?;
        let verb =
            Verb::parse(&r.action).ok_or_else(|| ResourceError::BadAction(r.action.clone()))?;
        if !r.flags.is_empty() {
            return Err(ResourceError::Unsupported(
                "flags are not supported: name the object in the manifest".into(),
            ));
        }
        if r.other.contains_key("manifestFrom") {
            return Err(ResourceError::Unsupported(
                "manifestFrom (an artifact) is not supported: inline the manifest".into(),
            ));
        }
        let merge = match r.merge_strategy.as_deref() {
            None | Some("strategic") => MergeStrategy::Strategic,
            Some("merge") => MergeStrategy::Merge,
            Some(other) => {
                return Err(ResourceError::Unsupported(format!(
                    "mergeStrategy {other:?} is not supported: use strategic or merge"
                )));
            }
        };
        let manifest = resource_target::parse_manifest(&r.manifest)?;
        let condition = |c: &Option<String>| {
            c.as_deref()
                .filter(|c| !c.trim().is_empty())
                .map(Condition::parse)
                .transpose()
        };
        let outputs: Vec<Parameter> = view.outputs.map(|o| o.parameters).unwrap_or_default();
        if let Some(p) = outputs
            .iter()
            .find(|p| p.value_from.as_ref().is_some_and(|v| v.jq_filter.is_some()))
        {
            return Err(ResourceError::Unsupported(format!(
                "output parameter {:?}: jqFilter is not supported: use jsonPath",
                p.name
            )));
        }
        Ok(ResourceJob {
            verb,
            manifest,
            merge,
            success: condition(&r.success_condition)?,
            failure: condition(&r.failure_condition)?,
            set_owner: r.set_owner_reference.unwrap_or(false),
            outputs,
        })
    }

    pub(super) fn waits(&self) -> bool {
        self.verb != Verb::Delete && (self.success.is_some() || self.failure.is_some())
    }

    /// Argo's `matchConditions`: `Some(Ok)` once every success requirement holds, `Some(Err)`
    /// as soon as the failure condition holds, `None` to keep waiting.
    pub(super) fn judge(&self, object: &Value) -> Option<Result<(), ResourceError>> {
        if let Some(failure) = &self.failure
            && failure.matches(object)
        {
            return Some(Err(ResourceError::FailureCondition(
                failure.text().to_string(),
            )));
        }
        match &self.success {
            Some(success) if !success.matches(object) => None,
            _ => Some(Ok(())),
        }
    }

    /// Output parameters read off the final object.
    pub(super) fn outputs(&self, object: &Value) -> Result<Outputs, ResourceError> {
        let mut outputs = Outputs::default();
        for p in &self.outputs {
            let Some(from) = &p.value_from else { continue };
            let Some(path) = from.json_path.as_deref() else {
                continue;
            };
            let value = match kubectl_jsonpath(object, path) {
                Ok(v) => v,
                Err(e) => match from.default.clone().or_else(|| p.default.clone()) {
                    Some(d) => d.0,
                    None => {
                        return Err(ResourceError::Output {
                            name: p.name.clone(),
                            source: e,
                        });
                    }
                },
            };
            outputs.parameters.push(Parameter {
                name: p.name.clone(),
                value: Some(value.into()),
                ..Default::default()
            });
        }
        Ok(outputs)
    }
}
