//! Argo's v2 pod names: `<workflow>-<template>-<fnv32a(node name)>`, the prefix cut so the name
//! fits in 253 characters; the workflow's own name for a single-pod workflow.

// The generated bindings' functions take one argument per flattened field.
#![allow(clippy::too_many_arguments)]

wit_bindgen::generate!({ path: "../../wit", world: "naming-policy" });

struct Argo;

/// Longest prefix: the 253-character limit, less the hash (at most 10 digits) and its dash.
const MAX_PREFIX: usize = 253 - 10 - 1;

fn fnv32a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

impl Guest for Argo {
    fn pod_name(template: TemplateInfo, _config: String) -> Result<String, PluginError> {
        if template.workflow == template.node_name {
            return Ok(template.workflow);
        }
        let mut prefix = if template.template_name.is_empty() {
            template.workflow.clone()
        } else {
            format!("{}-{}", template.workflow, template.template_name)
        };
        if prefix.len() > MAX_PREFIX {
            let mut cut = MAX_PREFIX;
            while !prefix.is_char_boundary(cut) {
                cut -= 1;
            }
            prefix.truncate(cut);
        }
        Ok(format!("{prefix}-{}", fnv32a(&template.node_name)))
    }
}

export!(Argo);
