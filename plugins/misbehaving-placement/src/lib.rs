//! A placement policy that does what its config says, for testing the host: `loop` (never
//! returns), `trap` (panics), `sleep:<milliseconds>` (sleeps that long, then answers as with no
//! config), `cluster:<name>` (that cluster, whatever the template asks or the
//! clusters are, in the template's namespace else the workflow's), `place:<cluster>/<namespace>`
//! (exactly that place; either part may be empty, e.g. `place:/kube-system`) — so the host can
//! check that its authorization policy still applies to a plugin's answer. Anything else is the
//! explicit placement (the template's cluster, which must be known, else the controller's own).

use flotilla_plugin_sdk::v0_1_0::placement::{self, *};

struct MisbehavingPlacement;

impl Guest for MisbehavingPlacement {
    fn place(
        template: TemplateInfo,
        clusters: Vec<ClusterState>,
        config: String,
    ) -> Result<Place, PluginError> {
        answer(&template, &clusters, &config).map_err(|message| PluginError { message })
    }
}

placement::export!(MisbehavingPlacement);

fn answer(
    template: &TemplateInfo,
    clusters: &[ClusterState],
    config: &str,
) -> Result<Place, String> {
    let requested = &template.requested;
    let namespace = if requested.namespace.is_empty() {
        template.workflow_namespace.clone()
    } else {
        requested.namespace.clone()
    };
    if config == "loop" {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
    if config == "trap" {
        panic!("this plugin traps on purpose");
    }
    if let Some(ms) = config.strip_prefix("sleep:") {
        let ms = ms
            .parse()
            .map_err(|e| format!("config {config:?}: milliseconds: {e}"))?;
        std::thread::sleep(std::time::Duration::from_millis(ms));
        return answer(template, clusters, "");
    }
    if let Some(cluster) = config.strip_prefix("cluster:") {
        return Ok(Place {
            cluster: cluster.to_string(),
            namespace,
        });
    }
    if let Some(place) = config.strip_prefix("place:") {
        let Some((cluster, namespace)) = place.split_once('/') else {
            return Err(format!(
                "config {config:?}: expected place:<cluster>/<namespace>"
            ));
        };
        return Ok(Place {
            cluster: cluster.to_string(),
            namespace: namespace.to_string(),
        });
    }
    if !requested.cluster.is_empty() && !clusters.iter().any(|c| c.name == requested.cluster) {
        return Err(format!(
            "cluster {:?} is not one the controller knows",
            requested.cluster
        ));
    }
    Ok(Place {
        cluster: requested.cluster.clone(),
        namespace,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use placement::testing::{cluster, template};

    fn at(t: &TemplateInfo, config: &str) -> Result<(String, String), String> {
        let known = [cluster("known", &[], true, 0, 0)];
        answer(t, &known, config).map(|p| (p.cluster, p.namespace))
    }

    #[test]
    fn fixed_places_ignore_the_template_and_the_clusters() {
        let t = template("known", "ns");
        assert_eq!(
            at(&t, "cluster:elsewhere"),
            Ok(("elsewhere".into(), "ns".into()))
        );
        assert_eq!(
            at(&template("", ""), "cluster:x"),
            Ok(("x".into(), "argo".into()))
        );
        assert_eq!(
            at(&t, "place:x/kube-system"),
            Ok(("x".into(), "kube-system".into()))
        );
        assert_eq!(
            at(&t, "place:/kube-system"),
            Ok(("".into(), "kube-system".into()))
        );
        assert_eq!(
            at(&t, "place:x"),
            Err(r#"config "place:x": expected place:<cluster>/<namespace>"#.into())
        );
    }

    #[test]
    fn otherwise_explicit() {
        assert_eq!(
            at(&template("known", ""), ""),
            Ok(("known".into(), "argo".into()))
        );
        assert_eq!(
            at(&template("unknown", ""), "anything"),
            Err(r#"cluster "unknown" is not one the controller knows"#.into())
        );
    }
}
