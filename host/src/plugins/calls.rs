//! The three kinds of loaded plugin and their one call each: the bindings' types stay in here,
//! the callers see [`TemplateInfo`], [`Place`], [`ClusterState`] and [`ClusterCredentials`].

use secrecy::SecretString;

use super::runtime::{
    Grants, Limits, PluginError, PluginHost, State, Warm, World, credentials, naming, placement,
    types,
};
use super::{ClusterState, Place, TemplateInfo};

impl PluginHost {
    /// Loads a naming policy: its store's randomness and clocks are fixed.
    pub fn naming(
        &self,
        plugin: &str,
        bytes: &[u8],
        limits: Limits,
    ) -> Result<NamingPlugin, PluginError> {
        let component = self.compile(plugin, bytes)?;
        let pre = self.check_world(plugin, &component, World::NamingPolicy, |l, c| {
            naming::NamingPolicyPre::new(l.instantiate_pre(c)?)
        })?;
        let grants = Grants {
            deterministic: true,
            ..Grants::default()
        };
        Ok(NamingPlugin {
            pre,
            warm: Warm::new(self, plugin, limits, grants),
        })
    }

    /// Loads a placement policy.
    pub fn placement(
        &self,
        plugin: &str,
        bytes: &[u8],
        limits: Limits,
    ) -> Result<PlacementPlugin, PluginError> {
        let component = self.compile(plugin, bytes)?;
        let pre = self.check_world(plugin, &component, World::PlacementPolicy, |l, c| {
            placement::PlacementPolicyPre::new(l.instantiate_pre(c)?)
        })?;
        Ok(PlacementPlugin {
            pre,
            warm: Warm::new(self, plugin, limits, Grants::default()),
        })
    }

    /// Loads a credential provider, with what it is granted (directories it may read).
    pub fn credentials(
        &self,
        plugin: &str,
        bytes: &[u8],
        limits: Limits,
        grants: Grants,
    ) -> Result<CredentialPlugin, PluginError> {
        let component = self.compile(plugin, bytes)?;
        let pre = self.check_world(plugin, &component, World::CredentialProvider, |l, c| {
            credentials::CredentialProviderPre::new(l.instantiate_pre(c)?)
        })?;
        Ok(CredentialPlugin {
            pre,
            warm: Warm::new(self, plugin, limits, grants),
        })
    }
}

fn to_wit(t: &TemplateInfo) -> types::TemplateInfo {
    types::TemplateInfo {
        workflow: t.workflow.clone(),
        workflow_namespace: t.workflow_namespace.clone(),
        node_name: t.node_name.clone(),
        template_name: t.template_name.clone(),
        requested: types::Place {
            cluster: t.cluster.clone(),
            namespace: t.namespace.clone(),
        },
        annotations: t.annotations.clone(),
    }
}

macro_rules! named_debug {
    ($ty:ident) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("name", &self.warm.name)
                    .finish()
            }
        }
    };
}

/// A loaded naming policy.
pub struct NamingPlugin {
    pre: naming::NamingPolicyPre<State>,
    warm: Warm<naming::NamingPolicy>,
}
named_debug!(NamingPlugin);

impl NamingPlugin {
    /// The pod name for a node placed at `place`, checked: a DNS-1123 subdomain of at most
    /// 253 characters.
    pub fn pod_name(
        &self,
        template: &TemplateInfo,
        place: &Place,
        config: &str,
    ) -> Result<String, PluginError> {
        let template = to_wit(template);
        let place = types::Place {
            cluster: place.cluster.clone(),
            namespace: place.namespace.clone(),
        };
        let answer = self.warm.call(
            |store| self.pre.instantiate(store),
            |instance, store| instance.call_pod_name(store, &template, &place, config),
        )?;
        let name = answer.map_err(|e| self.warm.refused(e))?;
        if let Some(problem) = flotilla_engine::naming::dns_subdomain_error(&name) {
            return Err(self.warm.invalid("pod name", name, problem));
        }
        Ok(name)
    }

    /// Drops the warm instance: the next call instantiates afresh (benchmarks measure
    /// instantiation with it).
    pub fn discard_instance(&self) {
        self.warm.discard();
    }

    /// Checks the policy is deterministic with `config`: one node named twice by the warm
    /// instance and once by a fresh one must get one name. A plugin that counts, or keeps any
    /// other state between calls, fails this (randomness and clocks are already fixed).
    pub fn check_deterministic(&self, config: &str) -> Result<(), PluginError> {
        let template = TemplateInfo {
            workflow: "flotilla-probe".into(),
            workflow_namespace: "default".into(),
            node_name: "flotilla-probe[0].step(1:probe)".into(),
            template_name: "probe".into(),
            ..TemplateInfo::default()
        };
        let place = Place {
            cluster: String::new(),
            namespace: "default".into(),
        };
        let name = || match self.pod_name(&template, &place, config) {
            Ok(name) => Ok(name),
            // A refusal of the probe's node is an answer too; it must be the same each time.
            Err(PluginError::Refused { message, .. }) => Ok(format!("refused: {message}")),
            Err(e) => Err(e),
        };
        let first = name()?;
        let second = name()?;
        self.warm.discard();
        let fresh = name()?;
        if first == second && second == fresh {
            return Ok(());
        }
        Err(self.warm.invalid(
            "pod name",
            second.clone(),
            format!(
                "not deterministic: the same node was named {first:?}, then {second:?}, then (by a fresh instance) {fresh:?}; pod names must depend only on the node, or a restarted controller would create pods twice"
            ),
        ))
    }
}

/// A loaded placement policy.
pub struct PlacementPlugin {
    pre: placement::PlacementPolicyPre<State>,
    warm: Warm<placement::PlacementPolicy>,
}
named_debug!(PlacementPlugin);

impl PlacementPlugin {
    /// Where the node's pod goes. The caller still checks authorization on the answer.
    pub fn place(
        &self,
        template: &TemplateInfo,
        clusters: &[ClusterState],
        config: &str,
    ) -> Result<Place, PluginError> {
        let template = to_wit(template);
        let clusters: Vec<types::ClusterState> = clusters
            .iter()
            .map(|c| types::ClusterState {
                name: c.name.clone(),
                labels: c.labels.clone(),
                healthy: c.healthy,
                pending_pods: c.pending_pods,
                running_pods: c.running_pods,
            })
            .collect();
        let answer = self.warm.call(
            |store| self.pre.instantiate(store),
            |instance, store| instance.call_place(store, &template, &clusters, config),
        )?;
        let place = answer.map_err(|e| self.warm.refused(e))?;
        Ok(Place {
            cluster: place.cluster,
            namespace: place.namespace,
        })
    }
}

/// How a provider's credentials authenticate. `Debug` never shows a secret.
#[derive(Clone)]
pub enum Auth {
    None,
    BearerToken(SecretString),
    ClientCertificate {
        cert_pem: String,
        key_pem: SecretString,
    },
    Basic {
        username: String,
        password: SecretString,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::None => "None",
            Auth::BearerToken(_) => "BearerToken(<redacted>)",
            Auth::ClientCertificate { .. } => "ClientCertificate(<redacted>)",
            Auth::Basic { .. } => "Basic(<redacted>)",
        })
    }
}

/// Credentials for one cluster, as a provider returned them.
#[derive(Debug, Clone)]
pub struct ClusterCredentials {
    /// `https://host:port`.
    pub server: String,
    /// PEM; empty: the system's roots.
    pub ca_pem: String,
    pub insecure: bool,
    pub server_name: String,
    pub auth: Auth,
    /// Seconds since the Unix epoch; `None`: they do not expire.
    pub expires_at: Option<u64>,
}

/// A loaded credential provider.
pub struct CredentialPlugin {
    pre: credentials::CredentialProviderPre<State>,
    warm: Warm<credentials::CredentialProvider>,
}
named_debug!(CredentialPlugin);

impl CredentialPlugin {
    /// Credentials for `cluster` from its registry entry (`kind`, the Secret value `entry`),
    /// at `now` (seconds since the Unix epoch).
    pub fn provide(
        &self,
        cluster: &str,
        kind: &str,
        entry: &[u8],
        config: &str,
        now: u64,
    ) -> Result<ClusterCredentials, PluginError> {
        let answer = self.warm.call(
            |store| self.pre.instantiate(store),
            |instance, store| instance.call_provide(store, cluster, kind, entry, config, now),
        )?;
        let c = answer.map_err(|e| self.warm.refused(e))?;
        let invalid =
            |value: &str, problem: &str| self.warm.invalid("server", value.into(), problem.into());
        match c.server.parse::<http::Uri>() {
            Ok(uri) if uri.scheme_str() == Some("https") && uri.host().is_some() => {}
            Ok(_) => return Err(invalid(&c.server, "not an https:// URL with a host")),
            Err(e) => return Err(invalid(&c.server, &e.to_string())),
        }
        let auth = match c.auth {
            types::Auth::None => Auth::None,
            types::Auth::BearerToken(token) => Auth::BearerToken(token.into()),
            types::Auth::ClientCertificate((cert_pem, key)) => Auth::ClientCertificate {
                cert_pem,
                key_pem: key.into(),
            },
            types::Auth::Basic((username, password)) => Auth::Basic {
                username,
                password: password.into(),
            },
        };
        Ok(ClusterCredentials {
            server: c.server,
            ca_pem: c.ca_pem,
            insecure: c.insecure,
            server_name: c.server_name,
            auth,
            expires_at: (c.expires_at != 0).then_some(c.expires_at),
        })
    }
}
