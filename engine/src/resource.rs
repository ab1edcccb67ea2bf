//! A resource template's target: what its manifest acts on, authorized under the same policy as
//! the pod that runs it, before that pod is created. The pod's placement is authorized by
//! [`Walker::authorize`]; the manifest may name another namespace (or, for a cluster-scoped
//! kind, none), so that target is authorized too, and handed to the executor
//! ([`crate::resource_target`]), which refuses any other.

use super::placement::Placement;
use super::walk::Walker;
use crate::naming::dns_label_error;
use crate::ports;
use crate::resource_target::{self, ResourceTarget};
use crate::workflow::{NodePhase, Template};

impl Walker<'_> {
    /// The authorized target of a resource template's manifest (`None` for other templates);
    /// or the phase and message its node fails with: `Error` for a manifest that cannot be
    /// read, `Failed` for a target the policy refuses, as for a refused placement.
    pub(super) fn resource_target(
        &self,
        template: &Template,
        place: &Placement,
    ) -> Result<Option<ResourceTarget>, (NodePhase, String)> {
        let Some(resource) = &template.resource else {
            return Ok(None);
        };
        let bad = |e: resource_target::ManifestError| {
            (
                NodePhase::Error,
                format!("template {:?}: {e}", template.name),
            )
        };
        let manifest = resource_target::parse_manifest(&resource.manifest).map_err(bad)?;
        let named = resource_target::manifest_namespace(&manifest).map_err(bad)?;
        if let Some(ns) = named
            && let Some(e) = dns_label_error(ns)
        {
            let message = format!(
                "template {:?}: resource manifest: metadata.namespace {ns:?} is invalid: {e}",
                template.name
            );
            return Err((NodePhase::Error, message));
        }
        let own = self.config.cluster.as_deref().unwrap_or_default();
        let cluster = place.cluster.as_deref().unwrap_or(own).to_string();
        let cluster_scoped = self.allows_cluster_wide(&cluster);
        let refused = |denial: String| {
            let what = resource_target::describe(&manifest);
            let message = format!("template {:?}: resource {what}: {denial}", template.name);
            (NodePhase::Failed, message)
        };
        let api_version = manifest["apiVersion"].as_str().unwrap_or_default();
        let kind = manifest["kind"].as_str().unwrap_or_default();
        if resource_target::is_cluster_scoped(api_version, kind) {
            if !cluster_scoped {
                return Err(refused(ports::cluster_denial(&self.namespace, &cluster)));
            }
            // A namespaced answer from discovery (it should not come) may use only the pod's
            // own namespace, which its placement authorized.
            return Ok(Some(ResourceTarget {
                cluster,
                namespace: place.namespace.clone(),
                cluster_scoped,
            }));
        }
        let namespace = named.unwrap_or(&place.namespace).to_string();
        let target = Placement {
            cluster: place.cluster.clone(),
            namespace: namespace.clone(),
        };
        self.authorize(&target).map_err(refused)?;
        Ok(Some(ResourceTarget {
            cluster,
            namespace,
            cluster_scoped,
        }))
    }

    /// Whether the policy grants the workflow cluster-scoped objects in `cluster`
    /// ([`ports::cluster_wide`]); never without a policy.
    fn allows_cluster_wide(&self, cluster: &str) -> bool {
        let own = self.config.cluster.as_deref().unwrap_or_default();
        let subject = ports::scope(own, &self.namespace);
        self.observed
            .access
            .as_ref()
            .is_some_and(|access| access.allows(&subject, &ports::cluster_wide(cluster)))
    }
}
