//! A Kubernetes API server simulator for Flotilla's sandbox (`flotilla dev`) and tests.
//!
//! It serves the real Kubernetes REST protocol on loopback — discovery, CRUD with optimistic
//! concurrency, patches, finalizers, status subresources, list/watch with resourceVersions and
//! `410 Gone`, RBAC — backed by memory, so kube-rs and `kubectl` drive it unchanged. A simulated
//! kubelet runs pods by emulating a few images. Production controller code never depends on this
//! crate; only the sandbox, `flotilla sim …` and tests do.

mod admission;
mod api;
mod authn;
mod builtin;
mod cluster;
mod codec;
mod controllers;
mod crd;
mod discovery;
mod events;
mod faults;
mod fieldmanager;
pub mod kubeconfig;
pub mod kubelet;
pub mod logs;
mod openapi;
mod patch;
mod protobuf;
mod rbac;
mod request_info;
mod resources;
mod schema;
mod selector;
mod server;
mod status;
mod store;
mod table;
mod tls;
mod validation;

pub use authn::Token;
pub use cluster::{ClusterConfig, FaultHandle, SimCluster, StartError};
pub use tls::TlsError;
