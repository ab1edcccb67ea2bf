//! Template types as Argo classifies them (`Template.GetType`, `IsLeaf`, `IsPodType`,
//! `HasOutput` in `pkg/apis/workflow/v1alpha1/workflow_types.go`), including the types Flotilla
//! does not run, which it only sees in [`Template::other`].

use serde_json::Value;

use crate::workflow::Template;

/// One of Argo's template types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Container,
    ContainerSet,
    Steps,
    Dag,
    Script,
    Resource,
    Data,
    Suspend,
    Http,
    Plugin,
}

impl Kind {
    /// Argo's `TemplateType` string, used in some of its messages (`Container`, `DAG`...).
    pub(super) fn type_name(self) -> &'static str {
        match self {
            Kind::Container => "Container",
            Kind::ContainerSet => "ContainerSet",
            Kind::Steps => "Steps",
            Kind::Dag => "DAG",
            Kind::Script => "Script",
            Kind::Resource => "Resource",
            Kind::Data => "Data",
            Kind::Suspend => "Suspend",
            Kind::Http => "HTTP",
            Kind::Plugin => "Plugin",
        }
    }

    /// The template field that selects this type.
    pub(super) fn field(self) -> &'static str {
        match self {
            Kind::Container => "container",
            Kind::ContainerSet => "containerSet",
            Kind::Steps => "steps",
            Kind::Dag => "dag",
            Kind::Script => "script",
            Kind::Resource => "resource",
            Kind::Data => "data",
            Kind::Suspend => "suspend",
            Kind::Http => "http",
            Kind::Plugin => "plugin",
        }
    }

    /// Whether Flotilla can run a template of this type.
    pub(super) fn supported(self) -> bool {
        !matches!(
            self,
            Kind::ContainerSet | Kind::Data | Kind::Http | Kind::Plugin
        )
    }

    /// Argo's `IsLeaf`: templates that do work themselves rather than call others.
    pub(super) fn is_leaf(self) -> bool {
        !matches!(self, Kind::Steps | Kind::Dag | Kind::Suspend)
    }

    /// Argo's `IsPodType`: templates that run a pod, and so see `{{pod.name}}`.
    pub(super) fn is_pod(self) -> bool {
        matches!(
            self,
            Kind::Container | Kind::ContainerSet | Kind::Script | Kind::Resource | Kind::Data
        )
    }

    /// The unsupported types, which live in `Template::other`.
    pub(super) const UNSUPPORTED: [Kind; 4] =
        [Kind::ContainerSet, Kind::Data, Kind::Http, Kind::Plugin];
}

/// A field of `other` that is present and not `null`.
pub(super) fn other_field<'t>(
    other: &'t std::collections::BTreeMap<String, Value>,
    key: &str,
) -> Option<&'t Value> {
    other.get(key).filter(|v| !v.is_null())
}

/// Every type field the template sets, in the order of Argo's `GetType`, so the first is the
/// type Argo runs it as.
pub(super) fn kinds(t: &Template) -> Vec<Kind> {
    let unsupported = |kind: Kind| other_field(&t.other, kind.field()).is_some();
    let present = [
        (
            Kind::Container,
            t.container.as_ref().is_some_and(|v| !v.is_null()),
        ),
        (Kind::ContainerSet, unsupported(Kind::ContainerSet)),
        (Kind::Steps, t.steps.is_some()),
        (Kind::Dag, t.dag.is_some()),
        (Kind::Script, t.script.is_some()),
        (Kind::Resource, t.resource.is_some()),
        (Kind::Data, unsupported(Kind::Data)),
        (Kind::Suspend, t.suspend.is_some()),
        (Kind::Http, unsupported(Kind::Http)),
        (Kind::Plugin, unsupported(Kind::Plugin)),
    ];
    present
        .into_iter()
        .filter_map(|(kind, set)| set.then_some(kind))
        .collect()
}

/// Argo's `HasOutput`: templates whose callers may read `outputs.result` and `exitCode`.
pub(super) fn has_output(t: &Template) -> bool {
    let container_set_has_main = other_field(&t.other, "containerSet")
        .and_then(|cs| cs.get("containers"))
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.get("name").and_then(Value::as_str) == Some("main"))
        });
    t.container.as_ref().is_some_and(|v| !v.is_null())
        || container_set_has_main
        || t.script.is_some()
        || [Kind::Data, Kind::Http, Kind::Plugin]
            .iter()
            .any(|k| other_field(&t.other, k.field()).is_some())
}
