//! What the scenarios submit, and what the plain client sends in their place: the very pod
//! manifests the controller creates for them (the engine is pure, so they can be computed here),
//! encoded before the clock starts.

use anyhow::{Context as _, Result};
use flotilla_engine::workflow::{Workflow, labels};
use flotilla_engine::{CreatorProof, EngineConfig, PodAction, PodIdentity};

/// The label the plain client's objects carry instead of the controller's: no controller
/// touches them.
pub const RAW: &str = "bench.flotilla.dev/raw";

/// The image the benchmark's pods run (Argo's test image, as in Argo's own examples).
const IMAGE: &str = "argoproj/argosay:v2";

/// One workflow fanning out into `pods` pods (`withSequence`).
pub fn fan_out(name: &str, pods: u32) -> Result<Workflow> {
    parse(&format!(
        "metadata: {{name: {name}}}\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    steps:\n    - - {{name: fan, template: say, withSequence: {{count: \"{pods}\"}}}}\n  - name: say\n    container: {{image: {IMAGE}}}\n"
    ))
}

/// A workflow of one pod.
pub fn one_pod(name: &str) -> Result<Workflow> {
    parse(&format!(
        "metadata: {{name: {name}}}\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    container: {{image: {IMAGE}}}\n"
    ))
}

fn parse(yaml: &str) -> Result<Workflow> {
    serde_yaml::from_str(yaml).context("the benchmark's workflow")
}

/// The pod manifests the controller creates first for `wf` in `namespace` with `engine`.
pub fn manifests(wf: &Workflow, namespace: &str, engine: &EngineConfig) -> Vec<serde_json::Value> {
    let mut wf = wf.clone();
    wf.metadata.namespace = Some(namespace.into());
    wf.metadata.uid = Some("00000000-0000-4000-8000-000000000000".into());
    let engine = EngineConfig {
        max_pod_creates_per_reconcile: usize::MAX,
        creator_proof: Some(std::sync::Arc::new(SameLengthProof)),
        ..engine.clone()
    };
    flotilla_engine::reconcile(&wf, &Default::default(), &engine, jiff::Timestamp::now())
        .pods
        .into_iter()
        .filter_map(|action| match action {
            PodAction::Create { pod, .. } => Some(pod.to_value()),
            _ => None,
        })
        .collect()
}

/// Stands in for the controller's creator proof, which the plain client cannot make: a value of
/// the same length (an HMAC-SHA256 in unpadded base64url), so that its pods are the size of the
/// controller's.
#[derive(Debug)]
struct SameLengthProof;

impl CreatorProof for SameLengthProof {
    fn prove(&self, _: &PodIdentity<'_>) -> String {
        "A".repeat(43)
    }
}

/// A controller manifest as the plain client sends it, encoded: same size and shape, but
/// labelled `RAW=group` in place of the controller's labels (so no controller touches it) and
/// owned by nothing.
pub fn raw_pod(manifest: &serde_json::Value, group: &str) -> Result<Vec<u8>> {
    let mut m = manifest.clone();
    if let Some(map) = m["metadata"]["labels"].as_object_mut() {
        map.remove(labels::WORKFLOW);
        map.remove(labels::CONTROLLER_INSTANCE_ID);
        map.insert(RAW.into(), group.into());
    }
    if let Some(meta) = m["metadata"].as_object_mut() {
        meta.remove("ownerReferences");
    }
    Ok(serde_json::to_vec(&m)?)
}

/// `wf` as the plain client sends it, encoded: labelled `RAW=group` and with an instance ID no
/// controller serves.
pub fn raw_workflow(wf: &Workflow, group: &str) -> Result<Vec<u8>> {
    let mut wf = wf.clone();
    let map = wf.metadata.labels.get_or_insert_with(Default::default);
    map.insert(RAW.into(), group.into());
    map.insert(
        labels::CONTROLLER_INSTANCE_ID.into(),
        format!("{group}-nobody"),
    );
    Ok(serde_json::to_vec(&wf)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_client_sends_the_controllers_manifests_relabelled() {
        let engine = EngineConfig {
            instance_id: Some("bench-1".into()),
            ..EngineConfig::default()
        };
        let manifests = manifests(&fan_out("fan", 5).unwrap(), "ns", &engine);
        assert_eq!(manifests.len(), 5);
        let labels_of = |m: &serde_json::Value| m["metadata"]["labels"].clone();
        assert_eq!(labels_of(&manifests[0])[labels::WORKFLOW], "fan");
        assert_eq!(
            labels_of(&manifests[0])[labels::CONTROLLER_INSTANCE_ID],
            "bench-1"
        );

        let raw: serde_json::Value =
            serde_json::from_slice(&raw_pod(&manifests[0], "r0").unwrap()).unwrap();
        assert_eq!(labels_of(&raw)[RAW], "r0");
        assert!(labels_of(&raw).get(labels::WORKFLOW).is_none());
        assert!(
            labels_of(&raw)
                .get(labels::CONTROLLER_INSTANCE_ID)
                .is_none()
        );
        assert!(raw["metadata"].get("ownerReferences").is_none());
        assert_eq!(raw["spec"], manifests[0]["spec"]);
        assert_eq!(raw["metadata"]["namespace"], "ns");
        // As long as the controller's: its creator proof, stood in for.
        let proof = &manifests[0]["metadata"]["labels"][labels::CREATOR_PROOF];
        let proof = proof
            .as_str()
            .or(manifests[0]["metadata"]["annotations"][labels::CREATOR_PROOF].as_str());
        assert_eq!(
            proof.map(str::len),
            Some(43),
            "{:#}",
            manifests[0]["metadata"]
        );

        let one = manifests_of_one_pod();
        assert_eq!(one.len(), 1);
    }

    fn manifests_of_one_pod() -> Vec<serde_json::Value> {
        manifests(&one_pod("w").unwrap(), "ns", &EngineConfig::default())
    }

    #[test]
    fn the_plain_clients_workflows_name_an_instance_no_controller_serves() {
        let raw: serde_json::Value =
            serde_json::from_slice(&raw_workflow(&one_pod("w").unwrap(), "g").unwrap()).unwrap();
        assert_eq!(raw["kind"], "Workflow");
        assert_eq!(
            raw["metadata"]["labels"][labels::CONTROLLER_INSTANCE_ID],
            "g-nobody"
        );
        assert_eq!(raw["metadata"]["labels"][RAW], "g");
    }
}
