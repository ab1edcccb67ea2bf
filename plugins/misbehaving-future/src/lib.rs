//! A naming policy built against a copy of the WIT whose package is `flotilla:plugins@99.0.0`
//! (`wit/plugins.wit` beside this crate; otherwise `wit/flotilla-plugins@0.1.0`): a component
//! for a version no host provides, so the host's tests can check that it is refused by the
//! version its exports name (`flotilla:plugins/naming@99.0.0`). It is never called.
//!
//! The one plugin that calls `generate!` itself: `flotilla-plugin-sdk` only has released
//! versions.

// The generated bindings' functions take one argument per flattened field.
#![allow(clippy::too_many_arguments)]

wit_bindgen::generate!({ path: "wit", world: "naming-policy" });

use exports::flotilla::plugins::naming::{Guest, Place, PluginError, TemplateInfo};

struct ArgoFuture;

impl Guest for ArgoFuture {
    fn pod_name(_: TemplateInfo, _: Place, _: String) -> Result<String, PluginError> {
        Ok("from-the-future".into())
    }
}

export!(ArgoFuture);
