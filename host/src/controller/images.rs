//! Argo's `images` setting, from the controller's own `workflow-controller-configmap` (Argo's
//! name, so an Argo installation's setting carries over): the `ENTRYPOINT` and `CMD` of images
//! that templates run without a `command`. Read at start and on every change; a key that does
//! not parse keeps the last good setting, and says why in the log and in an event on the
//! ConfigMap.
//!
//! ```yaml
//! data:
//!   images: |
//!     example.com/tool:1.0:
//!       entrypoint: [/tool]
//!       cmd: [run]
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use tracing::{info, warn};

use super::{Context, events};
use flotilla_engine::ImageEntrypoint;

/// The controller's ConfigMap, as Argo names it.
pub const CONFIG_MAP: &str = "workflow-controller-configmap";
/// Its key holding the images (YAML).
const KEY: &str = "images";

/// Entrypoints by image reference, exactly as templates write it.
pub(crate) type Images = BTreeMap<String, ImageEntrypoint>;

/// The images `cm` sets (none when it or its key is absent); `Err` says what does not parse.
pub(super) fn parse(cm: Option<&ConfigMap>) -> Result<Images, String> {
    let Some(text) = cm.and_then(|cm| cm.data.as_ref()).and_then(|d| d.get(KEY)) else {
        return Ok(Images::new());
    };
    let refused = |e: &dyn std::fmt::Display| format!("ConfigMap {CONFIG_MAP} key {KEY}: {e}");
    flotilla_engine::bounded_yaml::within_budget(text).map_err(|e| refused(&e))?;
    let images: Option<Images> = serde_yaml::from_str(text).map_err(|e| refused(&e))?;
    Ok(images.unwrap_or_default())
}

/// Puts the images of `cm` (absent: none) in force for the next reconciles.
pub(super) async fn apply(ctx: &Context, cm: Option<&ConfigMap>) {
    match parse(cm) {
        Ok(images) => {
            info!(images = images.len(), "image entrypoints loaded");
            *ctx.images.write() = Arc::new(images);
        }
        Err(message) => {
            let message = format!("{message}; keeping the last good images");
            warn!(error = %message, "invalid images setting");
            if let Some(cm) = cm {
                events::warn_on(ctx, cm, "InvalidImages", &message).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_map(images: &str) -> ConfigMap {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": CONFIG_MAP, "namespace": "argo"},
            "data": {"images": images},
        }))
        .unwrap()
    }

    #[test]
    fn images_are_read_as_argo_writes_them() {
        let images = parse(Some(&config_map(
            "example.com/tool:1.0:\n  entrypoint: [/tool]\n  cmd: [run]\nbusybox:\n  cmd: [sh]\n",
        )))
        .unwrap();
        assert_eq!(images["example.com/tool:1.0"].entrypoint, ["/tool"]);
        assert_eq!(images["example.com/tool:1.0"].cmd, ["run"]);
        assert!(images["busybox"].entrypoint.is_empty());
        assert_eq!(parse(None), Ok(Images::new()));
        assert_eq!(parse(Some(&config_map(""))), Ok(Images::new()));
    }

    #[test]
    fn a_setting_that_does_not_parse_says_where() {
        let err = parse(Some(&config_map("busybox: [not, a, map]"))).unwrap_err();
        assert!(
            err.starts_with("ConfigMap workflow-controller-configmap key images: "),
            "{err}"
        );
        // A "billion laughs": ten levels of ten aliases each.
        let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for c in b'b'..=b'k' {
            let (prev, c) = ((c - 1) as char, c as char);
            let row = vec![format!("*{prev}"); 10].join(", ");
            laughs.push_str(&format!("{c}: &{c} [{row}]\n"));
        }
        assert!(parse(Some(&config_map(&laughs))).is_err());
    }
}
