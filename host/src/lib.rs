//! Flotilla: Argo Workflows-compatible workflows whose templates run in several Kubernetes
//! clusters and namespaces, with WebAssembly plugins for credentials and placement.
//!
//! The crate holds the controller, its CLI and the plugin host. The Kubernetes API simulator
//! (`flotilla-sim`) is used only by the sandbox (`flotilla dev`), `flotilla sim …` and tests.

pub mod app;
pub mod authz;
pub mod bounded_yaml;
pub mod cli;
pub mod clusters;
pub mod commands;
pub mod controller;
pub mod credentials;
pub mod engine;
pub mod executor;
pub mod logs;
pub mod manifests;
pub mod merge_patch;
pub mod metrics;
pub mod naming;
pub mod plugins;
pub mod policy;
pub mod resource_target;
#[cfg(feature = "dev")]
pub mod sandbox;
pub mod workflow;
