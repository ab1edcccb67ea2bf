//! naming-argo built against a copy of the WIT whose package is `flotilla:plugins@0.2.0`
//! (`wit/plugins.wit` beside this crate; otherwise identical to the repository's): a component
//! for a world version the host does not have, so the host's test can check that it refuses to
//! load it. Its answers are naming-argo's.
//!
//! It calls the `log` import (at debug level, when enabled), so the component imports
//! `flotilla:plugins/log@0.2.0` — a function the host cannot link. An import of `types` alone
//! carries no function, and the world's export (`pod-name`) has no version in its name: without
//! this, nothing in the component would stop a 0.1.0 host from running it.

// The generated bindings' functions take one argument per flattened field.
#![allow(clippy::too_many_arguments)]

wit_bindgen::generate!({ path: "wit", world: "naming-policy" });

use flotilla::plugins::log::{self, Level};

struct ArgoV2;

impl Guest for ArgoV2 {
    fn pod_name(
        template: TemplateInfo,
        _place: Place,
        _config: String,
    ) -> Result<String, PluginError> {
        let name = argo_names::pod_name(
            &template.workflow,
            &template.node_name,
            &template.template_name,
        );
        if log::enabled(Level::Debug) {
            log::write(
                Level::Debug,
                &format!("{} is named {name}", template.node_name),
            );
        }
        Ok(name)
    }
}

export!(ArgoV2);
