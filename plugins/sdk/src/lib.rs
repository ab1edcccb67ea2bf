//! The guest side of Flotilla's plugin API: bindings for every released version of the
//! `flotilla:plugins` package (`wit/flotilla-plugins@<version>/`), one module per version and
//! in it one module per world. A plugin picks the version it is written against and the world
//! it provides, implements that world's `Guest` and exports it:
//!
//! ```ignore
//! use flotilla_plugin_sdk::v0_2_0::placement::{self, ClusterState, Guest, PlacementDecision,
//!     PluginError, TemplateInfo};
//!
//! struct Mine;
//! impl Guest for Mine {
//!     fn place(t: TemplateInfo, all: Vec<ClusterState>, config: String)
//!         -> Result<PlacementDecision, PluginError> { … }
//! }
//! placement::export!(Mine);
//! ```
//!
//! The component's exports then say that version — from 0.2.0 its interface names it
//! (`flotilla:plugins/placement@0.2.0`); a 0.1.0 world exports its function bare (`place`) —
//! which is how the host knows which contract the plugin keeps. A released version's module never
//! changes; a new version is a new module beside it (see docs/plugins.md).
//!
//! Each world's bindings carry only its imports until its `export!` is used, so a plugin
//! that links this crate exports exactly the one world it implements.

/// One world's bindings, as a module named for the interface it exports: its `Guest` trait,
/// the package's types, the `log` import and `export!`. `$world` is an SDK-local world that
/// includes the package's (wit-bindgen names a world's export macro after the world, and two
/// versions' worlds share names).
macro_rules! world {
    // 0.1.0: the world exports its function bare, so `Guest` is the world's own.
    (bare $interface:ident, $package:literal, $world:literal, $bindings:literal) => {
        world!(@bindings $interface, $package, $world, $bindings);
    };
    ($interface:ident, $package:literal, $world:literal, $bindings:literal) => {
        world!(@bindings $interface, $package, $world, $bindings,
            self::exports::flotilla::plugins::$interface::Guest);
    };
    (@bindings $interface:ident, $package:literal, $world:literal, $bindings:literal $(, $guest:path)?) => {
        // Generated: a bare `provide` export's wrapper takes its five arguments lowered to nine.
        #[allow(clippy::too_many_arguments)]
        pub mod $interface {
            wit_bindgen::generate!({
                path: $package,
                inline: $world,
                generate_all,
                pub_export_macro: true,
                default_bindings_module: $bindings,
                additional_derives: [PartialEq],
            });

            $(pub use $guest;)?
            pub use self::flotilla::plugins::log;
            pub use self::flotilla::plugins::types::*;

            /// Inputs for a plugin's unit tests, so each plugin states only what its case changes.
            pub mod testing {
                use super::{ClusterState, Place, TemplateInfo};

                /// A cluster as the host describes it to a placement policy.
                pub fn cluster(
                    name: &str,
                    labels: &[(&str, &str)],
                    healthy: bool,
                    pending: u32,
                    running: u32,
                ) -> ClusterState {
                    ClusterState {
                        name: name.into(),
                        labels: labels
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                        healthy,
                        pending_pods: pending,
                        running_pods: running,
                    }
                }

                /// Template `a` of workflow `argo/wf` (node `wf.a`), asking for `cluster` and
                /// `namespace`, without annotations.
                pub fn template(cluster: &str, namespace: &str) -> TemplateInfo {
                    TemplateInfo {
                        workflow: "wf".into(),
                        workflow_namespace: "argo".into(),
                        node_name: "wf.a".into(),
                        template_name: "a".into(),
                        requested: Place {
                            cluster: cluster.into(),
                            namespace: namespace.into(),
                        },
                        annotations: Vec::new(),
                    }
                }
            }
        }
    };
}

/// `flotilla:plugins@0.1.0` (`wit/flotilla-plugins@0.1.0/`): the first contract — placement,
/// naming and credential providers, each world exporting its one function bare.
pub mod v0_1_0 {
    world! { bare naming, "../../wit/flotilla-plugins@0.1.0", "package flotilla:sdk; world naming-policy-v010 { include flotilla:plugins/naming-policy@0.1.0; }", "flotilla_plugin_sdk::v0_1_0::naming" }
    world! { bare placement, "../../wit/flotilla-plugins@0.1.0", "package flotilla:sdk; world placement-policy-v010 { include flotilla:plugins/placement-policy@0.1.0; }", "flotilla_plugin_sdk::v0_1_0::placement" }
    world! { bare credentials, "../../wit/flotilla-plugins@0.1.0", "package flotilla:sdk; world credential-provider-v010 { include flotilla:plugins/credential-provider@0.1.0; }", "flotilla_plugin_sdk::v0_1_0::credentials" }
}

/// `flotilla:plugins@0.2.0` (`wit/flotilla-plugins@0.2.0/`): 0.1.0, and a placement policy may
/// say why it chose a place (`placement::PlacementDecision::reason`).
pub mod v0_2_0 {
    world! { naming, "../../wit/flotilla-plugins@0.2.0", "package flotilla:sdk; world naming-policy-v020 { include flotilla:plugins/naming-policy@0.2.0; }", "flotilla_plugin_sdk::v0_2_0::naming" }
    world! { placement, "../../wit/flotilla-plugins@0.2.0", "package flotilla:sdk; world placement-policy-v020 { include flotilla:plugins/placement-policy@0.2.0; }", "flotilla_plugin_sdk::v0_2_0::placement" }
    world! { credentials, "../../wit/flotilla-plugins@0.2.0", "package flotilla:sdk; world credential-provider-v020 { include flotilla:plugins/credential-provider@0.2.0; }", "flotilla_plugin_sdk::v0_2_0::credentials" }
}
