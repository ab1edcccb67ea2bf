//! The extension points: what a key of the `flotilla-plugins` ConfigMap names, and the world a
//! component for it must provide. Parsed once, from the key; everything after matches on
//! [`ExtensionPoint`], never on the key's text.

use std::fmt;

use super::World;

/// Where a plugin plugs in. Ordered as the ConfigMap's keys sort (credential providers, naming,
/// placement): plugins load, and their events are recorded, in that order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExtensionPoint {
    /// `credentials.<kind>`: the provider for registry entries of that kind.
    Credentials { kind: String },
    /// `naming`: what a pod is called.
    Naming,
    /// `placement`: where a pod runs.
    Placement,
}

impl ExtensionPoint {
    /// What a key that names no extension point is told.
    pub const EXPECTED: &'static str = "placement, naming, credentials.<kind>";

    /// The point a ConfigMap key names: `placement`, `naming`, `credentials.<kind>` (a kind
    /// that is not empty).
    pub fn parse(key: &str) -> Option<ExtensionPoint> {
        match key {
            "placement" => Some(ExtensionPoint::Placement),
            "naming" => Some(ExtensionPoint::Naming),
            _ => key
                .strip_prefix("credentials.")
                .filter(|kind| !kind.is_empty())
                .map(|kind| ExtensionPoint::Credentials { kind: kind.into() }),
        }
    }

    /// The provider's point for registry entries of `kind`.
    pub fn credentials(kind: &str) -> ExtensionPoint {
        ExtensionPoint::Credentials { kind: kind.into() }
    }

    /// The world a component for this point provides.
    pub fn world(&self) -> World {
        match self {
            ExtensionPoint::Placement => World::PlacementPolicy,
            ExtensionPoint::Naming => World::NamingPolicy,
            ExtensionPoint::Credentials { .. } => World::CredentialProvider,
        }
    }
}

/// The ConfigMap key.
impl fmt::Display for ExtensionPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtensionPoint::Placement => f.write_str("placement"),
            ExtensionPoint::Naming => f.write_str("naming"),
            ExtensionPoint::Credentials { kind } => write!(f, "credentials.{kind}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_to_points_and_back() {
        for key in ["placement", "naming", "credentials.eks", "credentials.a.b"] {
            let point = ExtensionPoint::parse(key).expect(key);
            assert_eq!(point.to_string(), key);
        }
        assert_eq!(
            ExtensionPoint::parse("credentials.eks"),
            Some(ExtensionPoint::credentials("eks"))
        );
        for key in ["placment", "credentials.", "credentials", "Naming", ""] {
            assert_eq!(ExtensionPoint::parse(key), None, "{key:?}");
        }
        assert_eq!(
            ExtensionPoint::credentials("x").world(),
            World::CredentialProvider
        );
    }
}
