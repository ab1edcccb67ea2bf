//! The WebAssembly plugin host: components for `wit/plugins.wit`'s worlds, loaded with
//! wasmtime, run sandboxed — WASI with nothing granted (no files, sockets or environment), a
//! memory cap and bounds on instances, tables and memories, and a deadline per call that binds
//! the guest's code (epochs) and its waits in WASI alike. The bindings stay private behind
//! [`NamingPlugin`], [`PlacementPlugin`] and [`CredentialPlugin`]; a trap, timeout or limit breach discards the
//! instance and comes back as a [`PluginError`], never a panic, and the next call starts fresh.

mod active;
mod bounds;
mod cache;
mod calls;
mod fetch;
mod output;
mod runtime;
pub mod settings;
mod try_out;
mod waits;

pub use active::{Active, Installed, digest};
pub use calls::{Auth, ClusterCredentials, CredentialPlugin, NamingPlugin, PlacementPlugin};
pub use fetch::{FetchError, fetch, system_roots};
pub use runtime::{
    Grants, Limits, PluginError, PluginHost, WIT_VERSION, World, outside_async, validate,
};
pub use try_out::{TryError, try_out};

pub use flotilla_engine::ports::{ClusterState, Place, TemplateInfo};
