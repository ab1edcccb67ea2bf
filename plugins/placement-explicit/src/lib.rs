//! The default placement: exactly where the template (or, failing that, the workflow) says.
//! An empty cluster is the controller's own; an empty namespace, the workflow's.

use flotilla_plugin_sdk::v0_1_0::placement::{
    self, ClusterState, Guest, Place, PluginError, TemplateInfo,
    log::{self, Level},
};

struct Explicit;

impl Guest for Explicit {
    fn place(
        template: TemplateInfo,
        clusters: Vec<ClusterState>,
        _config: String,
    ) -> Result<Place, PluginError> {
        let requested = template.requested;
        if !requested.cluster.is_empty() && !clusters.iter().any(|c| c.name == requested.cluster) {
            return Err(PluginError {
                message: format!(
                    "cluster {:?} is not one the controller knows",
                    requested.cluster
                ),
            });
        }
        let namespace = if requested.namespace.is_empty() {
            template.workflow_namespace
        } else {
            requested.namespace
        };
        if log::enabled(Level::Debug) {
            log::write(
                Level::Debug,
                &format!(
                    "{} goes to {:?}/{namespace}",
                    template.node_name, requested.cluster
                ),
            );
        }
        Ok(Place {
            cluster: requested.cluster,
            namespace,
        })
    }
}

placement::export!(Explicit);
