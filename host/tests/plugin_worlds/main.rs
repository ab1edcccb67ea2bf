//! The guest plugins in `plugins/` (built by `bash plugins/build.sh`) through the host's real
//! API, world by world: naming-cluster-prefixed, the two placement policies, the three
//! credential providers (secrets never shown), plugins put in force with `Active` from
//! `flotilla-plugins` settings, `validate`, `try_out`, the disk cache, calls made from inside
//! both kinds of Tokio runtime, and components of two WIT versions in one host.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use flotilla::clusters::{Auth, ClusterCredentials, CredentialProviders, CredentialRequest};
use flotilla::plugins::settings::{FailurePolicy, PointSettings, Settings, Source};
use flotilla::plugins::{
    Active, ClusterState, CredentialPlugin, ExtensionPoint, Grants, Limits, Place, PluginError,
    PluginHost, Provides, TemplateInfo, WitVersion, World, digest, validate,
};
use flotilla_engine::naming::{PodNameFormat, dns_subdomain_error};

mod active;
#[path = "../common/mod.rs"]
mod common;
mod credentials;
mod policies;
mod tools;
mod versions;

pub(crate) use common::component;
#[allow(unused_imports)]
use {active::*, credentials::*, policies::*, tools::*};

/// The default memory cap with a deadline no loaded test machine reaches: these tests are
/// about answers, not time (the misbehaving plugins' timeouts are tested in `plugins.rs`).
pub(crate) fn limits() -> Limits {
    Limits {
        deadline: Duration::from_secs(2),
        ..Limits::default()
    }
}

pub(crate) fn node(workflow: &str, node_name: &str, template: &str) -> TemplateInfo {
    TemplateInfo {
        workflow: workflow.into(),
        workflow_namespace: "argo".into(),
        node_name: node_name.into(),
        template_name: template.into(),
        ..TemplateInfo::default()
    }
}

pub(crate) fn at(cluster: &str) -> Place {
    Place {
        cluster: cluster.into(),
        namespace: "argo".into(),
    }
}

pub(crate) fn refused(plugin: &str, message: &str) -> PluginError {
    PluginError::Refused {
        plugin: plugin.into(),
        message: message.into(),
    }
}

/// Argo's hash of `node_name` (the decimal FNV-1a that ends a v2 pod name).
pub(crate) fn argo_hash(node_name: &str) -> String {
    let id = flotilla_engine::naming::node_id("x", node_name);
    id.strip_prefix("x-")
        .unwrap_or_else(|| panic!("node id {id:?} of {node_name:?}"))
        .to_string()
}
