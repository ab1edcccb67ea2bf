//! The workflow's templates, indexed once per walk, and how a call's template is resolved
//! (Argo's `ProcessArgs`): its input values, and its body with every variable substituted.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::Value;

use super::template::{self, Mode, Scope};
use crate::config_maps::KeyRef;
use crate::workflow::{Parameter, Template, Workflow};

/// A template with its inputs substituted (borrowed when it had nothing to substitute), and
/// the input values.
pub(super) type Resolved<'a> = (Cow<'a, Template>, Vec<(String, String)>);

/// The templates by name, and the body of each one that holds `{{…}}` tags.
pub(super) struct Catalog<'a> {
    by_name: HashMap<&'a str, &'a Template>,
    /// Bodies (as JSON, outputs apart) of the templates that hold tags, computed once: most
    /// templates of a wide fan-out have none, and skip the JSON round trip.
    tagged: HashMap<&'a str, String>,
    /// The tagged templates that name `{{pod.name}}`.
    names_pod: std::collections::HashSet<&'a str>,
}

impl<'a> Catalog<'a> {
    pub(super) fn new(wf: &'a Workflow) -> Self {
        let templates = &wf.spec.templates;
        let tagged: HashMap<&'a str, String> = templates
            .iter()
            .filter_map(|t| {
                let text = body(serde_json::to_value(t).ok()?).to_string();
                text.contains("{{").then_some((t.name.as_str(), text))
            })
            .collect();
        let names_pod = tagged
            .iter()
            .filter(|(_, body)| template::names(body, POD_NAME))
            .map(|(name, _)| *name)
            .collect();
        Catalog {
            by_name: templates.iter().map(|t| (t.name.as_str(), t)).collect(),
            tagged,
            names_pod,
        }
    }

    pub(super) fn get(&self, name: &str) -> Option<&'a Template> {
        self.by_name.get(name).copied()
    }

    /// Whether the template's body holds tags, so its pods differ by more than name and node.
    pub(super) fn is_tagged(&self, name: &str) -> bool {
        self.tagged.contains_key(name)
    }

    /// The template's input values (argument, else value, else default) and the template with
    /// `{{inputs.parameters.*}}` and every other variable of `scope` substituted.
    pub(super) fn resolve(
        &self,
        template: &'a Template,
        arguments: &[(String, String)],
        scope: &Scope,
        from_config_map: &dyn Fn(&Parameter, KeyRef) -> Result<String, String>,
    ) -> Result<Resolved<'a>, String> {
        let inputs = input_values(template, arguments, from_config_map)?;
        let Some(body) = self.tagged.get(template.name.as_str()) else {
            return Ok((Cow::Borrowed(template), inputs));
        };
        let mut local = scope.child();
        for (name, value) in &inputs {
            local.insert(format!("inputs.parameters.{name}"), value.clone());
        }
        local.insert(
            "inputs.parameters",
            serde_json::to_string(
                &inputs
                    .iter()
                    .map(|(n, v)| serde_json::json!({"name": n, "value": v}))
                    .collect::<Vec<_>>(),
            )
            .unwrap_or_default(),
        );
        // Outputs may refer to tasks or steps that have not run yet; the DAG/steps code resolves
        // them when they complete, so only the body is substituted.
        Ok((Cow::Owned(substituted(template, body, &local)?), inputs))
    }

    /// A pod template with `{{pod.name}}` substituted: Argo offers it to every template that
    /// runs a pod, and its value is known only once the node's pod is named. Untouched (and
    /// not copied) when the template never names it.
    pub(super) fn with_pod_name<'t>(
        &self,
        template: &'t Template,
        pod_name: &str,
    ) -> Result<Cow<'t, Template>, String> {
        if !self.names_pod.contains(template.name.as_str()) {
            return Ok(Cow::Borrowed(template));
        }
        let text = body(serde_json::to_value(template).map_err(|e| e.to_string())?).to_string();
        let scope: Scope = [(POD_NAME, pod_name)].into_iter().collect();
        Ok(Cow::Owned(substituted(template, &text, &scope)?))
    }
}

/// `template` from its `body` text with `scope` substituted, its outputs as written.
fn substituted(template: &Template, body: &str, scope: &Scope) -> Result<Template, String> {
    let text =
        template::substitute_json_text(body, scope, Mode::Lenient).map_err(|e| e.to_string())?;
    let mut resolved: Template =
        serde_json::from_str(&text).map_err(|e| format!("template {:?}: {e}", template.name))?;
    resolved.outputs = template.outputs.clone();
    Ok(resolved)
}

/// The variable holding a pod template's pod name.
const POD_NAME: &str = "pod.name";

/// Each input parameter's value: what its ConfigMap holds (`valueFrom.configMapKeyRef`, which
/// Argo reads even over an argument), else the call's argument, else the parameter's value,
/// else its default — and one of its `enum` values, when it lists them.
fn input_values(
    template: &Template,
    arguments: &[(String, String)],
    from_config_map: &dyn Fn(&Parameter, KeyRef) -> Result<String, String>,
) -> Result<Vec<(String, String)>, String> {
    let mut inputs = Vec::new();
    for p in template.inputs.iter().flat_map(|i| i.parameters.iter()) {
        let value = match KeyRef::of(p) {
            Some(reference) => Some(from_config_map(p, reference?)?),
            None => None,
        };
        let value = value
            .or_else(|| {
                arguments
                    .iter()
                    .find(|(n, _)| *n == p.name)
                    .map(|(_, v)| v.clone())
            })
            .or_else(|| p.value.as_ref().map(|v| v.0.clone()))
            .or_else(|| p.default.as_ref().map(|v| v.0.clone()))
            .ok_or_else(|| format!("inputs.parameters.{} was not supplied", p.name))?;
        if let Some(allowed) = &p.enum_values
            && !allowed.iter().any(|a| a.0 == value)
        {
            let list: Vec<&str> = allowed.iter().map(|a| a.0.as_str()).collect();
            return Err(format!(
                "value '{value}' of inputs.parameters.{} is not one of {list:?}",
                p.name
            ));
        }
        inputs.push((p.name.clone(), value));
    }
    Ok(inputs)
}

/// A template as JSON without its `outputs`, which are resolved only once the node completes.
fn body(mut raw: Value) -> Value {
    if let Some(m) = raw.as_object_mut() {
        m.remove("outputs");
    }
    raw
}
