//! YAML a workflow writes (a resource template's manifest), read within bounds.
//!
//! serde_yaml caps alias *jumps* (a hundred per event of the document) but not what each jump
//! expands to: a manifest of nested anchors (a "billion laughs") fits in a workflow and expands
//! to gigabytes inside one reconcile, in the controller every tenant shares. Before serde_yaml
//! reads such YAML, [`within_budget`] walks it with serde-saphyr, whose budget counts what
//! aliases replay (events, nodes, depth, retained anchor copies), and refuses what exceeds it.

/// Why YAML was refused before it was read: which of the parser's budgets it exceeded, or
/// where it could not be read — never any of its content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("it expands beyond what one document may hold ({0})")]
    TooLarge(String),
    #[error("not valid YAML (line {line}, column {column})")]
    Invalid { line: u64, column: u64 },
    #[error("not valid YAML")]
    InvalidSomewhere,
}

/// Most parser events one text may produce, aliases replayed included: a manifest the API
/// server would store (1.5 MiB) of ordinary YAML stays well under it.
const MAX_EVENTS: usize = 400_000;
/// Most nodes (scalars, sequences, mappings), aliases replayed included.
const MAX_NODES: usize = 150_000;
/// Deepest nesting, as serde_yaml's own recursion limit.
const MAX_DEPTH: usize = 128;

/// Whether `text` (one or more YAML documents) can be read, and stays within the budget once
/// its aliases are expanded. Every node is visited — so every alias is replayed and charged —
/// and any value is accepted (non-finite floats, complex or repeated keys): the only errors
/// are the budget's and the parser's, and either refuses the text. A text this parser cannot
/// read is not handed to another that might expand it.
pub fn within_budget(text: &str) -> Result<(), Refused> {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = MAX_EVENTS;
    budget.max_nodes = MAX_NODES;
    budget.max_depth = MAX_DEPTH;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    // serde_yaml reads `.nan` and `1e999`: so must this check, or it stops before a bomb.
    options.non_finite_float_policy = serde_saphyr::NonFiniteFloatPolicy::PassThrough;
    // Nor do repeated keys or merge keys stop serde_yaml (it does not merge): every entry is
    // visited, as it visits them.
    options.merge_keys = serde_saphyr::options::MergeKeyPolicy::AsOrdinary;
    options.duplicate_keys = serde_saphyr::options::DuplicateKeyPolicy::PassThrough;
    match serde_saphyr::from_multiple_with_options::<Visited>(text, options) {
        Ok(_) => Ok(()),
        Err(e) => Err(match breach(&e) {
            Some(breach) => Refused::TooLarge(breach),
            None => match e.location() {
                Some(l) => Refused::Invalid {
                    line: l.line(),
                    column: l.column(),
                },
                None => Refused::InvalidSomewhere,
            },
        }),
    }
}

/// The budget (or alias replay limit) an error reports breached, through the wrappers that add
/// a location or a snippet.
fn breach(mut error: &serde_saphyr::Error) -> Option<String> {
    loop {
        match error {
            serde_saphyr::Error::Budget { breach, .. } => return Some(format!("{breach:?}")),
            serde_saphyr::Error::AliasReplayCounterOverflow { .. }
            | serde_saphyr::Error::AliasReplayLimitExceeded { .. }
            | serde_saphyr::Error::AliasExpansionLimitExceeded { .. }
            | serde_saphyr::Error::AliasReplayStackDepthExceeded { .. } => {
                return Some("alias replay limit".into());
            }
            serde_saphyr::Error::WithSnippet { error: inner, .. }
            | serde_saphyr::Error::AliasError { error: inner, .. } => error = inner,
            _ => return None,
        }
    }
}

/// A YAML node read for its shape only: every child visited, nothing kept.
struct Visited;

impl<'de> serde::Deserialize<'de> for Visited {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(VisitedVisitor)
    }
}

struct VisitedVisitor;

impl<'de> serde::de::Visitor<'de> for VisitedVisitor {
    type Value = Visited;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Visited, E> {
        Ok(Visited)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Visited, E> {
        Ok(Visited)
    }
    fn visit_i128<E>(self, _: i128) -> Result<Visited, E> {
        Ok(Visited)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Visited, E> {
        Ok(Visited)
    }
    fn visit_u128<E>(self, _: u128) -> Result<Visited, E> {
        Ok(Visited)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Visited, E> {
        Ok(Visited)
    }
    fn visit_str<E>(self, _: &str) -> Result<Visited, E> {
        Ok(Visited)
    }
    fn visit_bytes<E>(self, _: &[u8]) -> Result<Visited, E> {
        Ok(Visited)
    }
    fn visit_none<E>(self) -> Result<Visited, E> {
        Ok(Visited)
    }
    fn visit_unit<E>(self) -> Result<Visited, E> {
        Ok(Visited)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Visited, D::Error> {
        d.deserialize_any(VisitedVisitor)
    }
    fn visit_newtype_struct<D: serde::Deserializer<'de>>(self, d: D) -> Result<Visited, D::Error> {
        d.deserialize_any(VisitedVisitor)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Visited, A::Error> {
        while seq.next_element::<Visited>()?.is_some() {}
        Ok(Visited)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Visited, A::Error> {
        while map.next_entry::<Visited, Visited>()?.is_some() {}
        Ok(Visited)
    }
    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<Visited, A::Error> {
        use serde::de::VariantAccess as _;
        let (Visited, variant) = data.variant::<Visited>()?;
        variant.newtype_variant::<Visited>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bomb of `scalars` scalars under one anchor and as many aliases to it, after `prefix`.
    fn wide_bomb(prefix: &str, scalars: usize) -> String {
        let row = vec!["x"; scalars].join(", ");
        let aliases = vec!["*a"; scalars].join(", ");
        format!("{prefix}\nkind: ConfigMap\nbase: &a [{row}]\nbomb: [{aliases}]\n")
    }

    /// What serde-saphyr refuses to read into a typed value but serde_yaml reads: before any of
    /// them, a bomb must still be refused (a value type that rejects them let the check pass
    /// early and serde_yaml expand the rest).
    #[test]
    fn a_bomb_after_values_a_typed_reader_refuses_is_still_refused() {
        for prefix in ["nan: .nan", "big: 1e999", "? [k]\n: v", "dup: 1\ndup: 2"] {
            let err = within_budget(&wide_bomb(prefix, 2_000)).unwrap_err();
            assert!(matches!(err, Refused::TooLarge(_)), "{prefix:?}: {err}");
        }
        for prefix in ["nan: .nan", "big: 1e999", "? [k]\n: v", "dup: 1\ndup: 2"] {
            assert_eq!(
                within_budget(&format!("{prefix}\nkind: x\n")),
                Ok(()),
                "{prefix:?}"
            );
        }
    }

    /// Ten levels of ten aliases each: 10^10 scalars once expanded, from under a kilobyte.
    fn billion_laughs() -> String {
        let mut yaml = String::from(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
        );
        for level in 1..10 {
            let prev = format!("*l{}", level - 1);
            let row = [prev.as_str(); 10].join(", ");
            yaml.push_str(&format!("  l{level}: &l{level} [{row}]\n"));
        }
        yaml
    }

    #[test]
    fn an_alias_bomb_is_refused_before_it_expands() {
        let bomb = billion_laughs();
        assert!(bomb.len() < 1024, "{}", bomb.len());
        let err = within_budget(&bomb).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("it expands beyond what one document may hold ("),
            "{err}"
        );
        assert!(
            !err.to_string().contains("lol"),
            "never quotes the content: {err}"
        );
    }

    #[test]
    fn ordinary_yaml_with_a_few_aliases_passes() {
        let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, labels: &l {a: b}}\ndata: {copy: x}\nextra: *l\n---\nkind: Other\n";
        assert_eq!(within_budget(yaml), Ok(()));
        // What this parser cannot read is refused, saying where.
        assert!(matches!(
            within_budget("a: [unclosed"),
            Err(Refused::Invalid { line: 1, .. })
        ));
    }

    #[test]
    fn a_large_plain_manifest_passes() {
        let data: String = (0..20_000)
            .map(|i| format!("  key{i}: value{i}\n"))
            .collect();
        let yaml = format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\ndata:\n{data}");
        assert_eq!(within_budget(&yaml), Ok(()));
    }
}
