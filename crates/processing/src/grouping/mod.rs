//! Grouping events into issues the way Sentry's `newstyle:2023-01-11` configuration does.
//!
//! An event yields several *variants*, each a tree of components ([`component`]): `app`
//! (only in-app frames count), `system` (every frame) and `default` (messages and security
//! reports), or, when the event says so, a `checksum` or a custom fingerprint. Strategies run
//! in Sentry's order of precedence — exception, threads, stack trace, template, CSP, message —
//! and the first one that contributes anything wins; the others are recorded but ignored. The
//! event's hashes are those of the contributing variants, `app` first; the first hash is the
//! issue.
//!
//! The hashes must be Sentry's own (MD5 of the contributing leaf values) so that a team can
//! import its history and keep its issues; `../../shared/conformance/grouping/` holds the
//! cases that pin this down.

pub mod component;
mod enhancers;
pub(crate) mod exception;
mod fingerprint;
mod frame;
mod function;
pub(crate) mod input;
mod message;
pub(crate) mod security;
mod stacktrace;

use crate::json::Json;
use component::{hash_values, Component};
use input::{EventView, StacktraceView};

/// Sentry's grouping configuration that Vigil reproduces.
pub const CONFIG_ID: &str = "newstyle:2023-01-11";

/// The hashes an event groups by, and which variant produced the first.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupingResult {
    /// Contributing variants' hashes, the one that decides the issue first.
    pub hashes: Vec<String>,
    /// `app`, `system`, `default`, `custom-fingerprint`, `checksum`, `hashed-checksum` or
    /// `fallback`.
    pub variant: String,
}

/// One grouping variant of an event, with the tree that produced it (for debugging and for
/// showing users why an event landed in its issue).
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub name: &'static str,
    /// `None` when the variant does not contribute.
    pub hash: Option<String>,
    /// The component tree of `app`/`system`/`default` variants (also when salted by a
    /// fingerprint).
    pub component: Option<Component>,
    /// The fingerprint values of custom and salted variants.
    pub fingerprint: Option<Vec<String>>,
}

/// Groups an event: its hashes and the variant of the first.
pub fn group_event(event: &Json<'_>) -> GroupingResult {
    group_view(&EventView::new(event))
}

/// [`group_event`] over an event already read, so that the pipeline reads it once and the
/// stack trace rules run once for grouping and the culprit together.
pub(crate) fn group_view(view: &EventView<'_>) -> GroupingResult {
    let variants = variants_of(view);
    let mut hashes: Vec<String> = Vec::new();
    let mut variant = None;
    for v in variants {
        if let Some(hash) = v.hash {
            variant.get_or_insert(v.name);
            if !hashes.contains(&hash) {
                hashes.push(hash);
            }
        }
    }
    GroupingResult {
        hashes,
        variant: variant.unwrap_or("fallback").to_owned(),
    }
}

/// Every variant of an event, in Sentry's order.
pub fn grouping_variants(event: &Json<'_>) -> Vec<Variant> {
    variants_of(&EventView::new(event))
}

fn variants_of(view: &EventView<'_>) -> Vec<Variant> {
    let event = view.raw;
    if let Some(variants) = checksum_variants(event) {
        return variants;
    }
    let trees = component_trees(view);
    let fingerprint = fingerprint::event_fingerprint(event);
    let defaults = fingerprint
        .iter()
        .filter(|e| fingerprint::is_default(e))
        .count();

    let mut variants: Vec<Variant> = Vec::new();
    if defaults == 0 {
        for (name, mut tree) in trees {
            tree.ignore("custom fingerprint takes precedence");
            variants.push(Variant {
                name,
                hash: None,
                component: Some(tree),
                fingerprint: None,
            });
        }
        let values = fingerprint::resolve(&fingerprint, view);
        let hash = Some(hash_values(&values));
        variants.push(Variant {
            name: "custom-fingerprint",
            hash,
            component: None,
            fingerprint: Some(values),
        });
    } else if defaults == 1 && fingerprint.len() == 1 {
        for (name, tree) in trees {
            variants.push(Variant {
                name,
                hash: tree.hash(),
                component: Some(tree),
                fingerprint: None,
            });
        }
    } else {
        // A hybrid fingerprint: the default values where `{{ default }}` stands, then the rest.
        let values = fingerprint::resolve(&fingerprint, view);
        for (name, tree) in trees {
            let hash = tree.contributes.then(|| {
                let defaults = tree.contributing_values();
                let salted = values.iter().flat_map(|entry| {
                    if fingerprint::is_default(entry) {
                        defaults.clone()
                    } else {
                        vec![entry.as_str()]
                    }
                });
                hash_values(salted)
            });
            variants.push(Variant {
                name,
                hash,
                component: Some(tree),
                fingerprint: Some(values.clone()),
            });
        }
    }
    if variants.iter().all(|v| v.hash.is_none()) {
        variants.push(Variant {
            name: "fallback",
            hash: Some(hash_values(Vec::<&str>::new())),
            component: None,
            fingerprint: None,
        });
    }
    variants
}

/// A client checksum replaces grouping: 32 lowercase hex digits are the hash as they are,
/// anything else is hashed.
fn checksum_variants(event: &Json<'_>) -> Option<Vec<Variant>> {
    let checksum = event
        .get("checksum")
        .and_then(Json::as_str)
        .filter(|c| !c.is_empty())?;
    let is_hash = checksum.len() == 32
        && checksum
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let raw = Variant {
        name: "checksum",
        hash: Some(checksum.to_owned()),
        component: None,
        fingerprint: None,
    };
    if is_hash {
        return Some(vec![raw]);
    }
    let hashed = Variant {
        name: "hashed-checksum",
        hash: Some(hash_values([checksum])),
        component: None,
        fingerprint: None,
    };
    // Longer raw values would not fit Sentry's hash column; it keeps them only hashed.
    Some(if checksum.chars().count() <= 32 {
        vec![hashed, raw]
    } else {
        vec![hashed]
    })
}

/// What one strategy produced: its name (for precedence hints) and a component per variant.
struct StrategyOutput {
    name: &'static str,
    variants: Vec<(&'static str, Component)>,
}

/// Runs the strategies and assembles one root component per variant (Sentry's
/// `_get_component_trees_for_variants`).
fn component_trees(view: &EventView<'_>) -> Vec<(&'static str, Component)> {
    let mut outputs: Vec<StrategyOutput> = Vec::new();
    if let Some(v) = exception::exception_variants(view) {
        outputs.push(stacktrace_like("exception", v.app, v.system));
    }
    if let Some((app, system)) = threads_variants(view) {
        outputs.push(stacktrace_like("threads", app, system));
    }
    if let Some(st) = &view.stacktrace {
        let v = stacktrace::stacktrace_variants(st, view.platform);
        outputs.push(stacktrace_like("stacktrace", v.app, Some(v.system)));
    }
    if let Some(template) = view.template {
        outputs.push(StrategyOutput {
            name: "template",
            variants: vec![("default", template_component(template))],
        });
    }
    if let Some((kind, report)) = view.certificate {
        outputs.push(StrategyOutput {
            name: kind.strategy(),
            variants: vec![("default", security::certificate_component(kind, report))],
        });
    }
    if let Some(csp) = view.csp {
        outputs.push(StrategyOutput {
            name: "csp",
            variants: vec![("default", security::csp_component(csp))],
        });
    }
    if let Some(entry) = &view.logentry {
        outputs.push(StrategyOutput {
            name: "message",
            variants: vec![("default", message::message_component(entry))],
        });
    }

    let mut winner: Option<(&'static str, String)> = None;
    let mut by_variant: Vec<(&'static str, Vec<Component>)> = Vec::new();
    for output in outputs {
        let contributing: Vec<&str> = {
            let mut names: Vec<&str> = output
                .variants
                .iter()
                .filter(|(_, c)| c.contributes)
                .map(|(n, _)| *n)
                .collect();
            names.sort_unstable();
            names
        };
        for (variant, mut component) in output.variants {
            match &winner {
                None if component.contributes => {
                    let who = if variant == "default" {
                        output.name.to_owned()
                    } else {
                        format!("{} of {}", output.name, contributing.join("/"))
                    };
                    let verb = if output.name.ends_with('s') {
                        "take"
                    } else {
                        "takes"
                    };
                    winner = Some((output.name, format!("{who} {verb} precedence")));
                }
                Some((name, hint)) if component.contributes && *name != output.name => {
                    component.ignore(hint.clone())
                }
                _ => {}
            }
            match by_variant.iter_mut().find(|(n, _)| *n == variant) {
                Some((_, list)) => list.push(component),
                None => by_variant.push((variant, vec![component])),
            }
        }
    }
    by_variant
        .into_iter()
        .map(|(name, components)| {
            let mut root = Component::parent(name, components);
            if !root.contributes {
                root.hint = winner.as_ref().map(|(_, hint)| hint.clone());
            }
            (name, root)
        })
        .collect()
}

/// The variant bookkeeping shared by the exception, threads and stack trace strategies:
/// `system` is dropped when it hashes like `app`, and a variant without a contributing stack
/// trace yields to one that has it.
fn stacktrace_like(
    name: &'static str,
    app: Component,
    system: Option<Component>,
) -> StrategyOutput {
    let mut variants = vec![("app", app)];
    if let Some(mut system) = system {
        if system.contributes && variants[0].1.contributes && same_values(&system, &variants[0].1) {
            system.ignore("ignored because hash matches app variant");
        }
        variants.push(("system", system));
    }
    let with_stacktrace: Vec<&'static str> = variants
        .iter()
        .filter(|(_, c)| has_contributing_stacktrace_below(c))
        .map(|(n, _)| *n)
        .collect();
    if !with_stacktrace.is_empty() && variants.len() > 1 {
        let who = match with_stacktrace.as_slice() {
            [one] => format!("the {one} variant does"),
            _ => "others do".to_owned(),
        };
        for (n, c) in variants.iter_mut() {
            if !with_stacktrace.contains(n) {
                c.ignore(format!("ignored because this variant does not have a contributing stacktrace, but {who}"));
            }
        }
    }
    StrategyOutput { name, variants }
}

/// Whether two contributing components hash alike: their contributing values concatenate to
/// the same bytes. Comparing the bytes spares two MD5 runs over the whole stack trace.
fn same_values(a: &Component, b: &Component) -> bool {
    let (a, b) = (a.contributing_values(), b.contributing_values());
    a.iter()
        .flat_map(|v| v.bytes())
        .eq(b.iter().flat_map(|v| v.bytes()))
}

/// Whether a contributing `stacktrace` hangs below `c` through contributing components only.
fn has_contributing_stacktrace_below(c: &Component) -> bool {
    c.children()
        .filter(|child| child.contributes)
        .any(|child| child.id == "stacktrace" || has_contributing_stacktrace_below(child))
}

/// The thread that crashed (else the current one, else the only one) groups like a stack
/// trace; with no such single thread, threads do not contribute.
fn threads_variants(view: &EventView<'_>) -> Option<(Component, Option<Component>)> {
    if view.threads.is_empty() {
        return None;
    }
    let flagged = |key: &str| -> Vec<&Json<'_>> {
        view.threads
            .iter()
            .copied()
            .filter(|t| t.get(key).and_then(Json::as_bool) == Some(true))
            .collect()
    };
    let (crashed, current) = (flagged("crashed"), flagged("current"));
    let thread = [
        crashed.as_slice(),
        current.as_slice(),
        view.threads.as_slice(),
    ]
    .into_iter()
    .find_map(|set| match set {
        [only] => Some(*only),
        _ => None,
    });
    let Some(thread) = thread else {
        let mut c = Component::empty("threads");
        c.hint = Some(format!(
            "ignored because it contains neither a single thread nor multiple threads with exactly one crashing or current thread; instead contains {} crashing, {} current, and {} total threads",
            crashed.len(),
            current.len(),
            view.threads.len()
        ));
        return Some((c, None));
    };
    let Some(st) = thread
        .get("stacktrace")
        .filter(|s| s.as_object().is_some_and(|o| !o.is_empty()))
    else {
        let mut c = Component::empty("threads");
        c.hint = Some("ignored because thread has no stacktrace".into());
        return Some((c, None));
    };
    let v = stacktrace::stacktrace_variants(&StacktraceView::new(st), view.platform);
    Some((
        Component::parent("threads", vec![v.app]),
        Some(Component::parent("threads", vec![v.system])),
    ))
}

/// A template error (Django templates) groups by template file and line.
fn template_component(template: &Json<'_>) -> Component {
    let filename = match template.get("filename").and_then(Json::as_str) {
        Some(f) => Component::leaf("filename", f.rsplit('/').next().unwrap_or(f)),
        None => Component::empty("filename"),
    };
    let line = match template.get("context_line").and_then(Json::as_str) {
        Some(l) => Component::leaf("context-line", l),
        None => Component::empty("context-line"),
    };
    Component::parent("template", vec![filename, line])
}

/// The index of the exception that names the issue (see [`exception::main_exception_index`]).
pub(crate) fn main_exception_index(view: &EventView<'_>) -> Option<usize> {
    exception::main_exception_index(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `serde_json::json!` as a [`Json`] tree.
    macro_rules! json {
        ($($t:tt)+) => {
            crate::json::Json::from(serde_json::json!($($t)+))
        };
    }

    #[test]
    fn exception_without_stacktrace_groups_by_type_and_value() {
        let r = group_event(&json!({"exception": {"type": "ValueError", "value": "hello world"}}));
        assert_eq!(r.hashes[0], "b23ee1963904c2ca87b145febf94b66c");
        assert_eq!(r.variant, "app");
    }

    #[test]
    fn nothing_to_group_by_falls_back() {
        for event in [
            json!({}),
            json!(null),
            json!([1, 2]),
            json!({"stacktrace": {"frames": []}}),
        ] {
            let r = group_event(&event);
            assert_eq!(r.hashes, vec!["d41d8cd98f00b204e9800998ecf8427e"]);
            assert_eq!(r.variant, "fallback");
        }
    }

    #[test]
    fn custom_fingerprint_replaces_default() {
        let r = group_event(&json!({"fingerprint": ["a", "b"], "message": "x"}));
        assert_eq!(r.variant, "custom-fingerprint");
        assert_eq!(r.hashes, vec![hash_values(["a", "b"])]);
    }

    #[test]
    fn message_event_groups_by_default_variant() {
        let a = group_event(&json!({"message": "Inventory below threshold for sku 8812"}));
        let b = group_event(&json!({"message": "Inventory below threshold for sku 9921"}));
        assert_eq!(a.variant, "default");
        assert_eq!(a.hashes, b.hashes);
    }

    #[test]
    fn exception_takes_precedence_over_message() {
        let r = group_event(
            &json!({"message": "m", "exception": {"values": [{"type": "E", "value": "v"}]}}),
        );
        assert_eq!(r.variant, "app");
        assert_eq!(r.hashes, vec![hash_values(["E", "v"])]);
    }

    #[test]
    fn non_hex_checksum_is_hashed() {
        let r = group_event(&json!({"checksum": "abc"}));
        assert_eq!(r.variant, "hashed-checksum");
        assert_eq!(r.hashes, vec![hash_values(["abc"]), "abc".to_owned()]);
    }

    #[test]
    fn single_crashed_thread_groups_by_its_stack() {
        let event = json!({"platform": "native", "threads": {"values": [
            {"id": 1, "crashed": true, "stacktrace": {"frames": [{"function": "crash_here", "in_app": true}]}},
            {"id": 2, "stacktrace": {"frames": [{"function": "idle", "in_app": true}]}}]}});
        let r = group_event(&event);
        assert_eq!(r.hashes[0], hash_values(["crash_here"]));
    }
}
