//! Failover placement (the example of docs/plugins.md): the template's cluster while it is
//! healthy, else the healthy cluster with the fewest pending pods; the template's namespace,
//! else the workflow's.

use flotilla_plugin_sdk::v0_1_0::placement::{self, *};

struct Failover;

impl Guest for Failover {
    fn place(t: TemplateInfo, all: Vec<ClusterState>, _: String) -> Result<Place, PluginError> {
        let healthy = all.iter().filter(|c| c.healthy);
        let asked = healthy.clone().find(|c| c.name == t.requested.cluster);
        let Some(to) = asked.or_else(|| healthy.min_by_key(|c| (c.pending_pods, &c.name))) else {
            let message = "no cluster is healthy".to_string();
            return Err(PluginError { message });
        };
        let (cluster, namespace) = match t.requested.namespace.is_empty() {
            true => (to.name.clone(), t.workflow_namespace),
            false => (to.name.clone(), t.requested.namespace),
        };
        Ok(Place { cluster, namespace })
    }
}

placement::export!(Failover);
