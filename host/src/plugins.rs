//! The WebAssembly plugin host: components for the worlds of `flotilla:plugins` — every
//! released version side by side (`wit/flotilla-plugins@<version>/`, one private module each in
//! `wit`) — loaded with wasmtime and run sandboxed: WASI with nothing granted (no files, sockets
//! or environment), a memory cap and bounds on instances, tables and memories, and a deadline
//! per call that binds the guest's code (epochs) and its waits in WASI alike. The rest of the
//! host sees [`NamingPlugin`], [`PlacementPlugin`] and [`CredentialPlugin`] and the host's own
//! types, whatever version a component was built against; a trap, timeout or limit breach
//! discards the instance and comes back as a [`PluginError`], never a panic, and the next call
//! starts fresh.

mod active;
pub(crate) mod bounds;
mod cache;
mod calls;
mod fetch;
mod output;
mod point;
mod runtime;
pub mod settings;
mod try_out;
mod waits;
mod warm;
mod wit;

pub use active::{Active, digest};
pub use calls::{CredentialPlugin, NamingPlugin, PlacementPlugin};
pub use fetch::{FetchError, fetch, system_roots};
pub use point::ExtensionPoint;
pub use runtime::{Grants, Limits, PluginError, PluginHost, Provides, World, validate};
pub use try_out::{TryError, try_out};
pub use warm::outside_async;
pub use wit::{PlacementDecision, WitVersion};

pub use flotilla_engine::ports::{ClusterState, Place, TemplateInfo};
