//! Other clusters: where their credentials come from (`registry`, `rest_config`), what of the
//! local machine those may use (`local_access`), and how one is enrolled (`enroll`).

pub mod enroll;
pub mod load;
pub mod local_access;
pub mod provided;
pub mod registry;
pub mod rest_config;

pub use local_access::LocalAccess;
pub use registry::{
    Credentials, Entry, LookupError, PROFILE_LABEL, Profile, REST_CONFIG_SECRET, Registry,
};
pub use rest_config::{RestConfig, RestConfigError};
