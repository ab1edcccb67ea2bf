//! `docs/argo-compatibility.md`'s feature table says what the validator refuses: its refused
//! rows are exactly the validator's refusals, and each one really is refused.

use std::collections::BTreeSet;

use super::{check, main_with};
use crate::validate::kind::Kind;
use crate::validate::semantic::refused_fields;

const DOC: &str = include_str!("../../../../docs/argo-compatibility.md");

/// The backticked names in the first column of the table's `refused` rows.
fn refused_rows() -> BTreeSet<String> {
    DOC.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            (cells.len() > 3 && cells[2] == "refused").then(|| cells[1].to_string())
        })
        .flat_map(|feature| {
            feature
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_tables_refused_rows_are_what_the_validator_refuses() {
    let code: BTreeSet<String> = refused_fields().into_iter().collect();
    assert_eq!(refused_rows(), code);
}

/// A workflow setting `field` (as the table names it), for the validator to refuse.
fn setting(field: &str) -> String {
    let with_steps = |step_field: &str| {
        main_with(&format!(
            "steps:\n- - name: a\n    template: hello\n    {step_field}\n"
        ))
    };
    match field.split_once('.') {
        Some(("spec", "retryStrategy.expression")) => format!(
            "retryStrategy: {{expression: 'true'}}\n{}",
            main_with("container: {image: alpine}")
        ),
        Some(("spec", "retryStrategy.affinity")) => format!(
            "retryStrategy: {{affinity: {{nodeAntiAffinity: {{}}}}}}\n{}",
            main_with("container: {image: alpine}")
        ),
        Some(("spec", f)) => format!(
            "{f}: {{set: true}}\n{}",
            main_with("container: {image: alpine}")
        ),
        Some(("template", "podSpecPatch")) => {
            main_with("container: {image: alpine}\npodSpecPatch: '{}'")
        }
        Some(("template", "retryStrategy.expression")) => {
            main_with("container: {image: alpine}\nretryStrategy: {expression: 'true'}")
        }
        Some(("template", "retryStrategy.affinity")) => main_with(
            "container: {image: alpine}\nretryStrategy: {affinity: {nodeAntiAffinity: {}}}",
        ),
        // A template type Flotilla cannot run is the template's only type.
        Some(("template", f)) if Kind::UNSUPPORTED.iter().any(|k| k.field() == f) => {
            main_with(&format!("{f}: {{set: true}}"))
        }
        Some(("template", f)) => {
            main_with(&format!("container: {{image: alpine}}\n{f}: {{set: true}}"))
        }
        Some(("step", f)) => with_steps(&format!("{f}: {{set: true}}")),
        _ => panic!("no setting for the refused row {field}"),
    }
}

#[test]
fn every_refused_row_is_refused_naming_its_field() {
    for field in refused_rows() {
        let named = field
            .rsplit('.')
            .next()
            .unwrap_or(&field)
            .trim_start_matches("{{");
        let spec = setting(&field);
        match check(&spec) {
            Err(message) => assert!(
                message.contains(named) || message.contains("expressions"),
                "{field}: {message}"
            ),
            Ok(v) => panic!("{field} was not refused ({:?}):\n{spec}", v.warnings),
        }
    }
}
