//! Argo's `WorkflowTemplate` and `ClusterWorkflowTemplate`: a workflow's spec kept in the
//! cluster for workflows to call (`templateRef`) or to run whole (`workflowTemplateRef`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
use serde::{Deserialize, Serialize};

use super::spec::WorkflowSpec;

/// A `WorkflowTemplate`: a workflow's spec. Its templates run in the namespace of the workflow
/// that calls them, under that workflow's authorization.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WorkflowTemplate {
    pub metadata: ObjectMeta,
    pub spec: WorkflowSpec,
}

/// A `ClusterWorkflowTemplate`: a workflow's spec, callable from every namespace
/// (`clusterScope: true`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ClusterWorkflowTemplate {
    pub metadata: ObjectMeta,
    pub spec: WorkflowSpec,
}

/// An Argo kind's `kube::Resource`: Argo's group and version, its kind and plural.
macro_rules! argo_resource {
    ($kind:ident, $scope:ty, $plural:literal) => {
        impl kube_core::Resource for $kind {
            type DynamicType = ();
            type Scope = $scope;

            fn kind(_: &()) -> std::borrow::Cow<'_, str> {
                stringify!($kind).into()
            }
            fn group(_: &()) -> std::borrow::Cow<'_, str> {
                "argoproj.io".into()
            }
            fn version(_: &()) -> std::borrow::Cow<'_, str> {
                "v1alpha1".into()
            }
            fn plural(_: &()) -> std::borrow::Cow<'_, str> {
                $plural.into()
            }
            fn meta(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &self.metadata
            }
            fn meta_mut(
                &mut self,
            ) -> &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

pub(super) use argo_resource;

argo_resource!(
    WorkflowTemplate,
    NamespaceResourceScope,
    "workflowtemplates"
);
argo_resource!(
    ClusterWorkflowTemplate,
    ClusterResourceScope,
    "clusterworkflowtemplates"
);

/// `templateRef`: a template of a WorkflowTemplate (or, with `clusterScope`, of a
/// ClusterWorkflowTemplate). Also how a node records the template it ran from one.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TemplateRef {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub template: String,
    pub cluster_scope: Option<bool>,
}

impl TemplateRef {
    /// Argo's template scope of the referenced object: `namespaced/<name>` or `cluster/<name>`.
    pub fn scope(&self) -> String {
        let kind = if self.cluster_scope == Some(true) {
            "cluster"
        } else {
            "namespaced"
        };
        format!("{kind}/{}", self.name)
    }

    /// The key the template is stored under in `status.storedTemplates` (Argo's), which is
    /// also its name in the workflow the walk runs: `<scope>/<template>`. Local template names
    /// cannot hold a `/`, so no key is ever a local name.
    pub fn key(&self) -> String {
        format!("{}/{}", self.scope(), self.template)
    }

    /// The reference a stored-template key stands for; `None` for a local template's name.
    pub fn from_key(key: &str) -> Option<TemplateRef> {
        let (kind, rest) = key.split_once('/')?;
        let (name, template) = rest.split_once('/')?;
        let cluster_scope = match kind {
            "namespaced" => None,
            "cluster" => Some(true),
            _ => return None,
        };
        Some(TemplateRef {
            name: name.to_string(),
            template: template.to_string(),
            cluster_scope,
        })
    }
}

/// `workflowTemplateRef`: the WorkflowTemplate (or ClusterWorkflowTemplate) a workflow runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowTemplateRef {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub cluster_scope: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_argos_and_read_back() {
        let r = TemplateRef {
            name: "wt".into(),
            template: "hello".into(),
            cluster_scope: None,
        };
        assert_eq!(r.key(), "namespaced/wt/hello");
        assert_eq!(TemplateRef::from_key(&r.key()), Some(r));
        let c = TemplateRef {
            name: "cwt".into(),
            template: "hello".into(),
            cluster_scope: Some(true),
        };
        assert_eq!(c.key(), "cluster/cwt/hello");
        assert_eq!(TemplateRef::from_key(&c.key()), Some(c));
        assert_eq!(TemplateRef::from_key("hello"), None);
        assert_eq!(TemplateRef::from_key("local/wf/hello"), None);
    }
}
