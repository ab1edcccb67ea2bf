//! Argo's `AnyString`: parameter values written as strings, numbers or booleans in YAML are all
//! strings to the engine (`value: 3` and `value: "3"` are the same parameter).

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AnyString(pub String);

impl AnyString {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AnyString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for AnyString {
    fn from(s: &str) -> Self {
        AnyString(s.to_string())
    }
}

impl From<String> for AnyString {
    fn from(s: String) -> Self {
        AnyString(s)
    }
}

impl Serialize for AnyString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AnyString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = AnyString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AnyString, E> {
                Ok(AnyString(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<AnyString, E> {
                Ok(AnyString(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<AnyString, E> {
                Ok(AnyString(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<AnyString, E> {
                Ok(AnyString(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<AnyString, E> {
                Ok(AnyString(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<AnyString, E> {
                Ok(AnyString(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_booleans_are_strings() {
        let v: Vec<AnyString> = serde_json::from_str(r#"["a", 3, 2.5, true]"#).unwrap();
        assert_eq!(
            v.iter().map(AnyString::as_str).collect::<Vec<_>>(),
            ["a", "3", "2.5", "true"]
        );
        assert_eq!(
            serde_json::to_string(&AnyString::from("3")).unwrap(),
            r#""3""#
        );
        assert!(serde_json::from_str::<AnyString>("{}").is_err());
    }
}
