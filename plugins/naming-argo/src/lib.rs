//! Argo's v2 pod names: `<workflow>-<template>-<fnv32a(node name)>`, the prefix cut so the name
//! fits in 253 characters; the workflow's own name for a single-pod workflow. The place is not
//! part of the name.

use flotilla_plugin_sdk::v0_1_0::naming::{self, *};

struct Argo;

impl Guest for Argo {
    fn pod_name(
        template: TemplateInfo,
        _place: Place,
        _config: String,
    ) -> Result<String, PluginError> {
        Ok(flotilla_names::pod_name(
            &template.workflow,
            &template.node_name,
            &template.template_name,
        ))
    }
}

naming::export!(Argo);
