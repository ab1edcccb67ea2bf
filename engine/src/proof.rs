//! The controller's proof that it made a pod. Pod names are deterministic and every label is
//! readable by anyone who may list pods, so anyone who may create pods in a namespace a workflow
//! uses can make a look-alike of the workflow's next pod; what they cannot make is a MAC under a
//! key only the controller holds. The engine stamps it on each pod it builds; the key (and the
//! check) stay with the controller.

/// What a pod's proof is made of: where it is, and the workflow and node it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodIdentity<'a> {
    pub workflow_uid: &'a str,
    pub node_id: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
}

/// Makes the proof stamped on a pod (the annotation [`crate::workflow::labels::CREATOR_PROOF`]).
/// Pure: the same identity always gets the same proof, so a recreated manifest is the same.
pub trait CreatorProof: Send + Sync + std::fmt::Debug {
    fn prove(&self, pod: &PodIdentity<'_>) -> String;
}
