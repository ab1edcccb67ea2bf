//! YAML a workflow writes (a resource template's manifest), read within bounds.
//!
//! serde_yaml caps alias *jumps* (a hundred per event of the document) but not what each jump
//! expands to: a manifest of nested anchors (a "billion laughs") fits in a workflow and expands
//! to gigabytes inside one reconcile, in the controller every tenant shares. Before serde_yaml
//! reads such YAML, [`within_budget`] walks it with serde-saphyr, whose budget counts what
//! aliases replay (events, nodes, depth, retained anchor copies), and refuses what exceeds it.

/// Why YAML was refused before it was read: which of the parser's budgets it exceeded, never
/// any of its content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("it expands beyond what one document may hold ({0})")]
pub struct TooLarge(String);

/// Most parser events one text may produce, aliases replayed included: a manifest the API
/// server would store (1.5 MiB) of ordinary YAML stays well under it.
const MAX_EVENTS: usize = 400_000;
/// Most nodes (scalars, sequences, mappings), aliases replayed included: what the values read
/// may hold at most (some tens of MB).
const MAX_NODES: usize = 150_000;

/// Whether `text` (one or more YAML documents) stays within the budget once its aliases are
/// expanded. Only a budget breach is an error here: whether the text is valid YAML at all is
/// for its reader to say, in its own words.
pub fn within_budget(text: &str) -> Result<(), TooLarge> {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = MAX_EVENTS;
    budget.max_nodes = MAX_NODES;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    // Read into values, as serde_yaml will: skipping a node would not replay its aliases.
    match serde_saphyr::from_multiple_with_options::<serde_json::Value>(text, options) {
        Err(e) => match breach(&e) {
            Some(breach) => Err(TooLarge(format!("{breach:?}"))),
            None => Ok(()),
        },
        Ok(_) => Ok(()),
    }
}

/// The budget breach behind an error, through the wrappers that add a location or a snippet.
fn breach(mut error: &serde_saphyr::Error) -> Option<&serde_saphyr::budget::BudgetBreach> {
    loop {
        match error {
            serde_saphyr::Error::Budget { breach, .. } => return Some(breach),
            serde_saphyr::Error::WithSnippet { error: inner, .. }
            | serde_saphyr::Error::AliasError { error: inner, .. } => error = inner,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // Not valid YAML is not this check's to report.
        assert_eq!(within_budget("a: [unclosed"), Ok(()));
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
