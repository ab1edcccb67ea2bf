//! Other clusters: where their credentials come from (`registry`, `rest_config`, and
//! `provider` for entries a credential provider reads), what of the local machine those may use
//! (`local_access`), and how one is enrolled (`enroll`).

pub mod enroll;
pub mod load;
pub mod local_access;
pub mod provided;
pub mod provider;
pub mod registry;
pub mod rest_config;

pub use local_access::LocalAccess;
pub use provider::{
    Auth, ClusterCredentials, CredentialProvider, CredentialProviders, CredentialRequest,
    FixedCredentials, ProviderError,
};
pub use registry::{
    Credentials, Entry, LookupError, PROFILE_LABEL, Profile, REST_CONFIG_SECRET, Registry,
};
pub use rest_config::{RestConfig, RestConfigError};
