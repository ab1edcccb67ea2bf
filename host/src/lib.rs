//! Flotilla: Argo Workflows-compatible workflows whose templates run in several Kubernetes
//! clusters and namespaces, with WebAssembly plugins for credentials and placement.
//!
//! The crate holds the controller, its CLI and the plugin host: everything that talks to an API
//! server or runs a plugin. What a workflow means — its types and Argo's semantics, as pure
//! decisions — is the `flotilla-engine` crate. The Kubernetes API simulator (`flotilla-sim`) is
//! used only by the sandbox (`flotilla dev`, the `dev` feature), `flotilla sim …` and tests.

pub mod app;
pub mod authz;
pub mod bench;
pub mod cli;
pub mod clusters;
pub mod commands;
pub mod controller;
pub mod credentials;
pub mod expressions;
mod health;
pub mod leader;
pub mod logs;
pub mod manifests;
pub mod metrics;
mod panics;
pub mod plugins;
#[cfg(feature = "dev")]
pub mod sandbox;
