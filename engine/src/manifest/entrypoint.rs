//! What a main container runs, resolved as Argo's emissary resolves it: every main container runs
//! through `flotilla-executor run -- COMMAND…`, so a template that leaves `command` out needs
//! its image's `ENTRYPOINT` (and `CMD`, when it gives no `args`) to be known.
//!
//! Argo's controller asks the image's registry, or its `images` configuration first. Flotilla
//! never contacts registries from the controller — it would need each tenant's pull secrets, in
//! every cluster, and a slow registry would hold pod creation — so it knows an image by Argo's
//! `images` setting (the controller's `workflow-controller-configmap`, as Argo reads it, through
//! [`crate::Observed::images`]; and [`crate::EngineConfig::images`]) and a few built-in entries (Argo's test images); a template whose image is known by
//! neither fails its node with a message naming `container.command`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// An image's `ENTRYPOINT` and `CMD`, as Argo's `images` configuration gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageEntrypoint {
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
}

/// Entries Flotilla knows without configuration: Argo's own test images, by the references its
/// examples use. `argosay:v2` is `FROM argosay:v1` with `ENTRYPOINT ["/argosay"]` (which clears
/// the inherited `CMD`); `argosay:v1` is Ubuntu with `CMD ["cowsay"]` and no entrypoint.
fn builtin(image: &str) -> Option<ImageEntrypoint> {
    let name = image
        .strip_prefix("docker.io/")
        .or_else(|| image.strip_prefix("quay.io/"))
        .unwrap_or(image);
    let strings = |s: &[&str]| s.iter().map(|s| s.to_string()).collect();
    match name {
        "argoproj/argosay:v2" => Some(ImageEntrypoint {
            entrypoint: strings(&["/argosay"]),
            cmd: Vec::new(),
        }),
        "argoproj/argosay:v1" => Some(ImageEntrypoint {
            entrypoint: Vec::new(),
            cmd: strings(&["cowsay"]),
        }),
        _ => None,
    }
}

/// What `main` runs, as Kubernetes would run it from the template and the image: the template's
/// `command` if it has one; else the image's entrypoint, with the template's `args` — or, when
/// the template has no `args` at all (an empty list counts as given), the image's `CMD`.
/// `images` (the controller ConfigMap's, then the engine configuration's) are keyed by the image
/// reference exactly as templates write it (Argo's rule); the first that knows the image wins,
/// and any configured entry wins over a built-in one. Returns the command, and the args to set where
/// the template set none.
pub(super) fn resolve(
    main: &Map<String, Value>,
    images: &[&BTreeMap<String, ImageEntrypoint>],
    template: &str,
    field: &str,
) -> Result<(Vec<String>, Option<Value>), String> {
    let command = strings(main.get("command"));
    if !command.is_empty() {
        return Ok((command, None));
    }
    let image = main
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let configured = images.iter().find_map(|map| map.get(image)).cloned();
    let Some(known) = configured.or_else(|| builtin(image)) else {
        return Err(format!(
            "template {template:?}: {field}.command is required for image {image:?}: Flotilla runs the command through its executor and does not look images up in registries, so it knows only the entrypoints of images it is told about; give the container's command"
        ));
    };
    let args = (!main.contains_key("args") && !known.cmd.is_empty()).then(|| json!(known.cmd));
    let runs_something =
        !known.entrypoint.is_empty() || args.is_some() || !strings(main.get("args")).is_empty();
    if !runs_something {
        return Err(format!(
            "template {template:?}: image {image:?} has no entrypoint or cmd, and the template gives neither {field}.command nor args"
        ));
    }
    Ok((known.entrypoint, args))
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn resolved(v: Value) -> Result<(Vec<String>, Option<Value>), String> {
        resolve(&container(v), &[], "t", "container")
    }

    #[test]
    fn a_command_is_kept_and_args_stay_as_written() {
        let (command, args) =
            resolved(json!({"image": "alpine", "command": ["sh", "-c"], "args": ["x"]})).unwrap();
        assert_eq!(command, ["sh", "-c"]);
        assert_eq!(args, None);
    }

    #[test]
    fn argosay_v2_runs_its_entrypoint_with_the_args() {
        let (command, args) =
            resolved(json!({"image": "argoproj/argosay:v2", "args": ["echo", "hi"]})).unwrap();
        assert_eq!(command, ["/argosay"]);
        assert_eq!(args, None);
        let (command, args) = resolved(json!({"image": "docker.io/argoproj/argosay:v2"})).unwrap();
        assert_eq!(command, ["/argosay"]);
        assert_eq!(args, None, "no CMD: /argosay alone");
    }

    #[test]
    fn argosay_v1_runs_its_cmd_or_the_args_in_its_place() {
        let (command, args) = resolved(json!({"image": "argoproj/argosay:v1"})).unwrap();
        assert!(command.is_empty());
        assert_eq!(args, Some(json!(["cowsay"])));
        let (command, args) =
            resolved(json!({"image": "argoproj/argosay:v1", "args": ["cowsay", "moo"]})).unwrap();
        assert!(command.is_empty());
        assert_eq!(args, None, "the template's args replace CMD");
    }

    #[test]
    fn configured_images_win_and_are_matched_exactly() {
        let images = BTreeMap::from([(
            "argoproj/argosay:v1".to_string(),
            ImageEntrypoint {
                entrypoint: vec!["/usr/games/cowsay".into()],
                cmd: Vec::new(),
            },
        )]);
        let main = container(json!({"image": "argoproj/argosay:v1"}));
        let (command, args) = resolve(&main, &[&images], "t", "container").unwrap();
        assert_eq!(command, ["/usr/games/cowsay"]);
        assert_eq!(args, None);
    }

    #[test]
    fn an_unknown_image_without_command_names_the_field() {
        let err = resolved(json!({"image": "example.com/tool:1.0", "args": ["run"]})).unwrap_err();
        assert!(
            err.contains("container.command is required for image \"example.com/tool:1.0\""),
            "{err}"
        );
        assert!(err.contains("give the container's command"), "{err}");
        // Another tag of a known image is another image.
        assert!(resolved(json!({"image": "argoproj/argosay:v3"})).is_err());
    }

    #[test]
    fn an_image_with_nothing_to_run_is_refused() {
        let images = BTreeMap::from([("empty:1".to_string(), ImageEntrypoint::default())]);
        let main = container(json!({"image": "empty:1", "args": []}));
        let err = resolve(&main, &[&images], "t", "container").unwrap_err();
        assert!(err.contains("has no entrypoint or cmd"), "{err}");
    }
}
