//! Flotilla's end-to-end suite, one module per area. Each test starts its own simulated clusters
//! (or, with `FLOTILLA_E2E_KUBECONFIG`, takes its turn on the real ones: see `Env::start`).

mod argo_parity;
mod cleanup;
mod crds;
mod kubectl;
mod lifecycle;
mod multicluster;
mod plugins;
mod resources;
mod trust;
mod trust_credentials;
mod trust_decode;
mod trust_outputs;
mod trust_resources;
mod workflows;
