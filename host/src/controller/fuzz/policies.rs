//! The authorization ConfigMap (`model.conf`, `policy.csv`) and the checks made against it.

use proptest::prelude::*;
use proptest::sample::select;

use super::{config, name, runtime};
use crate::authz::{self, Authorizer};

/// Matchers an operator might write: the design's, and casbin's other built-in functions (some
/// of which panic on input they cannot parse: `regexMatch` on a bad pattern, `ipMatch` on
/// anything but an address).
const MATCHERS: &[&str] = &[
    "r.sub == r.obj || keyMatch(r.sub, p.sub) && keyMatch(r.obj, p.obj)",
    "keyMatch2(r.sub, p.sub) && keyMatch2(r.obj, p.obj)",
    "keyMatch3(r.sub, p.sub) && keyMatch3(r.obj, p.obj)",
    "regexMatch(r.sub, p.sub) && regexMatch(r.obj, p.obj)",
    "globMatch(r.sub, p.sub) && globMatch(r.obj, p.obj)",
    "ipMatch(r.obj, p.obj)",
    "r.sub == p.sub && r.obj == p.obj",
    "r.sub == p.sub &&",
    "keyMatch(r.sub)",
    "r.act == p.act",
];

/// A `model.conf`: the default, one with another matcher, or a mangled one.
fn model() -> BoxedStrategy<Option<String>> {
    let with_matcher = select(MATCHERS).prop_map(|m| {
        let default = authz::DEFAULT_MODEL;
        let head = default.split("[matchers]").next().unwrap_or(default);
        format!("{head}[matchers]\nm = {m}\n")
    });
    let mangled =
        (any::<prop::sample::Index>(), "\\PC{0,8}", 0usize..20).prop_map(|(at, insert, remove)| {
            let mut text = authz::DEFAULT_MODEL.to_string();
            let mut at = at.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let mut end = (at + remove).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.replace_range(at..end, &insert);
            text
        });
    prop_oneof![
        3 => Just(None),
        3 => with_matcher.prop_map(Some),
        2 => mangled.prop_map(Some),
        1 => "\\PC{0,40}".prop_map(Some),
    ]
    .boxed()
}

/// A subject or object pattern of a policy line.
fn pattern() -> BoxedStrategy<String> {
    prop_oneof![
        3 => (name(), name()).prop_map(|(c, n)| authz::scope(&c, &n)),
        2 => name().prop_map(|c| authz::cluster_wide(&c)),
        1 => select(&["*", "cluster-*", "*:*", ":", "(", "[", "*)", "\\", "10.0.0.0/8", "::1"][..])
            .prop_map(String::from),
        1 => name(),
    ]
    .boxed()
}

/// One line of `policy.csv`: mostly `p, SUB, OBJ`, sometimes not.
fn line() -> BoxedStrategy<String> {
    prop_oneof![
        6 => (pattern(), pattern()).prop_map(|(s, o)| format!("p, {s}, {o}")),
        1 => Just("# a comment".to_string()),
        1 => Just(String::new()),
        1 => (pattern(), pattern(), pattern()).prop_map(|(a, b, c)| format!("p, {a}, {b}, {c}")),
        1 => (pattern(), pattern()).prop_map(|(s, o)| format!("g, {s}, {o}")),
        1 => "\\PC{0,30}",
    ]
    .boxed()
}

/// A `policy.csv`, absent or of a few lines.
pub(super) fn policy() -> BoxedStrategy<Option<String>> {
    prop::option::weighted(
        0.9,
        prop::collection::vec(line(), 0..6).prop_map(|l| l.join("\n")),
    )
    .boxed()
}

/// A request as the controller makes it: `<cluster>:<namespace>` on both sides.
fn request() -> BoxedStrategy<(String, String)> {
    let scope = || (name(), name()).prop_map(|(c, n)| authz::scope(&c, &n));
    prop_oneof![
        4 => (scope(), scope()),
        1 => (name(), name()).prop_map(|(c, n)| (authz::scope(&c, &n), authz::cluster_wide(&c))),
        1 => scope().prop_map(|s| (s.clone(), s)),
    ]
    .boxed()
}

/// A model and policy as an operator (or whoever may edit the ConfigMap) writes them.
pub(super) fn authorizer(model: Option<&str>, policy: Option<&str>) -> Option<Authorizer> {
    runtime().block_on(Authorizer::new(model, policy)).ok()
}

proptest! {
    #![proptest_config(config(1024))]

    /// Loading never panics; what cannot be loaded names the ConfigMap key at fault.
    #[test]
    fn a_model_and_policy_load_or_name_the_key(model in model(), policy in policy()) {
        match runtime().block_on(Authorizer::new(model.as_deref(), policy.as_deref())) {
            Ok(_) => {}
            Err(e) => {
                let text = e.to_string();
                let named = [authz::MODEL_KEY, authz::POLICY_KEY]
                    .iter()
                    .any(|key| text.starts_with(&format!("ConfigMap {} key {key}: ", authz::CONFIG_MAP)));
                prop_assert!(named, "{text}");
            }
        }
    }

    /// A check never panics (a panic inside casbin denies), answers the same when asked again
    /// (from the cache) and from a fresh load; the design's model always allows a workflow its
    /// own place.
    #[test]
    fn checks_never_panic_and_answer_the_same(
        model in model(),
        policy in policy(),
        requests in prop::collection::vec(request(), 1..8),
    ) {
        let Some(a) = authorizer(model.as_deref(), policy.as_deref()) else {
            return Ok(());
        };
        let first: Vec<bool> = requests.iter().map(|(s, o)| a.allows(s, o)).collect();
        let again: Vec<bool> = requests.iter().map(|(s, o)| a.allows(s, o)).collect();
        prop_assert_eq!(&first, &again);
        let fresh = authorizer(model.as_deref(), policy.as_deref());
        prop_assert!(fresh.is_some(), "the same ConfigMap loaded once and not twice");
        if let Some(fresh) = fresh {
            let answers: Vec<bool> = requests.iter().map(|(s, o)| fresh.allows(s, o)).collect();
            prop_assert_eq!(&first, &answers);
        }
        if model.is_none() {
            for ((s, o), allowed) in requests.iter().zip(&first) {
                prop_assert!(s != o || *allowed, "{s:?} denied its own place");
            }
        }
    }
}
