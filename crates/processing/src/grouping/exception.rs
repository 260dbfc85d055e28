//! Exception components (Sentry's `single-exception:v1` and `chained-exception:v1`).
//!
//! An exception groups by its stack trace and type; its value only counts when there is no
//! contributing stack trace (a message that embeds an id must not split the issue). Several
//! exceptions form a chain whose members all count, except that exception groups
//! (`mechanism.is_exception_group`) are reduced to their distinct leaf exceptions, as Sentry's
//! RFC 79 describes.

use std::collections::{HashMap, HashSet};

use super::component::Component;
use super::input::{EventView, ExceptionView};
use super::message::normalize_message_for_grouping;
use super::stacktrace::stacktrace_variants;
use crate::json::Json;

/// One exception (or chain) as the `app` and `system` variants see it. `system` is absent when
/// no exception has a stack trace: then only the `app` variant exists, as in Sentry.
#[derive(Debug, Clone)]
pub struct ExceptionVariants {
    pub app: Component,
    pub system: Option<Component>,
}

/// The exception strategy's components for an event with exceptions.
pub fn exception_variants(view: &EventView<'_>) -> Option<ExceptionVariants> {
    if view.exceptions.is_empty() {
        return None;
    }
    let components = all_exceptions(view);
    let selected = select_exceptions(view, Some(&components)).indices;
    if let [only] = selected.as_slice() {
        return components.into_iter().nth(*only);
    }
    let app = Component::parent(
        "chained-exception",
        selected
            .iter()
            .map(|i| components[*i].app.clone())
            .collect(),
    );
    let systems: Vec<Component> = selected
        .iter()
        .filter_map(|i| components[*i].system.clone())
        .collect();
    let system = (!systems.is_empty()).then(|| Component::parent("chained-exception", systems));
    Some(ExceptionVariants { app, system })
}

/// The index of the exception that names the issue: the single distinct leaf of an exception
/// group when there is one (Sentry's `main_exception_id`), else the last exception.
pub fn main_exception_index(view: &EventView<'_>) -> Option<usize> {
    let last = view.exceptions.len().checked_sub(1)?;
    let main_id = select_exceptions(view, None).main_exception_id;
    Some(
        main_id
            .and_then(|id| {
                view.exceptions
                    .iter()
                    .position(|e| e.mechanism_id("exception_id") == Some(id))
            })
            .unwrap_or(last),
    )
}

/// Every exception's components, in the chain's order.
fn all_exceptions(view: &EventView<'_>) -> Vec<ExceptionVariants> {
    view.exceptions
        .iter()
        .map(|e| single_exception(e, view.platform))
        .collect()
}

fn single_exception(exception: &ExceptionView<'_>, platform: Option<&str>) -> ExceptionVariants {
    let mut ty = match &exception.ty {
        Some(t) => Component::leaf("type", t.as_ref()),
        None => Component::empty("type"),
    };
    if exception.mechanism_flag("synthetic") {
        // A synthetic exception's type is made up by the SDK to carry a stack trace.
        ty.ignore("ignored because exception is synthetic");
    }
    let ns_error = exception
        .mechanism
        .and_then(|m| m.get("meta"))
        .and_then(|meta| meta.get("ns_error"))
        .map(|ns| {
            let text = |v: Option<&Json<'_>>| match v {
                Some(Json::String(s)) => s.as_ref().to_owned(),
                Some(Json::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            let mut c = Component::leaf("ns-error", text(ns.get("domain")));
            c.values
                .push(super::component::Node::Value(text(ns.get("code"))));
            c.contributes = c
                .values
                .iter()
                .any(|v| !matches!(v, super::component::Node::Value(s) if s.is_empty()));
            c
        });

    let stacktraces = exception
        .stacktrace
        .as_ref()
        .map(|st| stacktrace_variants(st, platform));
    // Both variants start from the same value component: parameterizing it is a dozen regex
    // searches, done once.
    let value_component = match exception.value.as_deref() {
        Some(raw) => {
            let normalized = normalize_message_for_grouping(raw);
            if normalized.is_empty() {
                Component::empty("value")
            } else if normalized != raw {
                Component::leaf("value", normalized).with_hint("stripped event-specific values")
            } else {
                Component::leaf("value", normalized)
            }
        }
        None => Component::empty("value"),
    };
    let build = |stacktrace: Component| {
        let mut value = value_component.clone();
        if stacktrace.contributes && value.contributes {
            value.ignore("ignored because stacktrace takes precedence");
        }
        if ns_error.as_ref().is_some_and(|n| n.contributes) && value.contributes {
            value.ignore("ignored because ns-error info takes precedence");
        }
        // newstyle:2023-01-11 keeps the legacy order: stack trace, type, ns-error, value.
        let mut children = vec![stacktrace, ty.clone()];
        children.extend(ns_error.clone());
        children.push(value);
        Component::parent("exception", children)
    };
    match stacktraces {
        Some(st) => ExceptionVariants {
            app: build(st.app),
            system: Some(build(st.system)),
        },
        None => ExceptionVariants {
            app: build(Component::empty("stacktrace")),
            system: None,
        },
    }
}

/// Which exceptions of the chain take part, and which one names the issue.
struct Selection {
    indices: Vec<usize>,
    main_exception_id: Option<i64>,
}

#[derive(Default)]
struct Node {
    exception: Option<usize>,
    children: Vec<usize>,
}

/// Sentry's `filter_exceptions_for_exception_groups`: when the mechanisms describe a tree
/// rooted at `exception_id` 0, keep one of each distinct top-level (non-group) exception plus
/// the root group — or, when there is only one distinct one, that exception and its first
/// descendants. Any inconsistency in the tree keeps the chain as it is. `components` are the
/// exceptions' components when the caller has them; they are built here only when needed.
fn select_exceptions(view: &EventView<'_>, components: Option<&[ExceptionVariants]>) -> Selection {
    let excs = &view.exceptions;
    let all = Selection {
        indices: (0..excs.len()).collect(),
        main_exception_id: None,
    };
    if excs.len() <= 1 {
        return all;
    }
    // Python SDK 3 changed how it reports groups; Sentry keeps old hashes by not filtering.
    let sdk_version = view
        .raw
        .get("sdk")
        .and_then(|s| s.get("version"))
        .and_then(Json::as_str)
        .unwrap_or("");
    if view.platform == Some("python") && sdk_version.starts_with('3') {
        return all;
    }

    let mut tree: HashMap<i64, Node> = HashMap::new();
    let mut seen = HashSet::new();
    for (idx, exc) in excs.iter().enumerate().rev() {
        let id = exc.mechanism_id("exception_id");
        let parent = exc.mechanism_id("parent_id");
        let Some(id) = id.filter(|id| Some(*id) != parent && !seen.contains(id)) else {
            return all;
        };
        seen.insert(id);
        tree.entry(id).or_default().exception = Some(idx);
        if let Some(parent) = parent {
            tree.entry(parent).or_default().children.push(idx);
        }
    }
    let children = |idx: usize| -> &[usize] {
        excs[idx]
            .mechanism_id("exception_id")
            .and_then(|id| tree.get(&id))
            .map(|n| n.children.as_slice())
            .unwrap_or(&[])
    };
    let Some(root) = tree.get(&0).and_then(|n| n.exception) else {
        return all;
    };

    // Leaves under groups; a cycle in broken data would recurse forever, so stop at the chain's
    // length (Sentry catches its own recursion error and keeps the chain).
    fn top_level(
        idx: usize,
        depth: usize,
        excs: &[ExceptionView<'_>],
        children: &dyn Fn(usize) -> Vec<usize>,
        out: &mut Vec<usize>,
    ) -> bool {
        if depth > excs.len() {
            return false;
        }
        if excs[idx].mechanism_flag("is_exception_group") {
            children(idx)
                .into_iter()
                .all(|c| top_level(c, depth + 1, excs, children, out))
        } else {
            out.push(idx);
            true
        }
    }
    let children_owned = |idx: usize| children(idx).to_vec();
    let mut leaves = Vec::new();
    if !top_level(root, 0, excs, &children_owned, &mut leaves) || leaves.is_empty() {
        return all;
    }
    let type_key = |i: &usize| excs[*i].ty.as_deref().unwrap_or("None");
    leaves.sort_by_key(|i| std::cmp::Reverse(type_key(i)));

    // One of each run of identical exceptions (Python's `itertools.groupby` on the hash).
    let built;
    let components = match components {
        Some(c) => c,
        None => {
            built = all_exceptions(view);
            &built
        }
    };
    let key = |i: usize| {
        let c = &components[i];
        format!(
            "{}{}",
            c.app.render(),
            c.system.as_ref().map(Component::render).unwrap_or_default()
        )
    };
    let mut distinct: Vec<usize> = Vec::new();
    for idx in leaves {
        if distinct.last().is_none_or(|last| key(*last) != key(idx)) {
            distinct.push(idx);
        }
    }

    if let [main] = distinct.as_slice() {
        let mut path = vec![*main];
        let mut current = *main;
        while let Some(first) = children(current).first().copied() {
            if path.len() > excs.len() {
                return all;
            }
            path.push(first);
            current = first;
        }
        return Selection {
            indices: path,
            main_exception_id: excs[*main].mechanism_id("exception_id"),
        };
    }
    distinct.push(root);
    Selection {
        indices: distinct,
        main_exception_id: None,
    }
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

    fn hash_values(event: Json<'_>) -> Vec<String> {
        let view = EventView::new(&event);
        let v = exception_variants(&view).expect("the test event has exceptions");
        v.app
            .contributing_values()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn value_counts_without_stacktrace() {
        assert_eq!(
            hash_values(json!({"exception": {"type": "ValueError", "value": "bad 42"}})),
            vec!["ValueError", "bad <int>"]
        );
    }

    #[test]
    fn value_yields_to_stacktrace() {
        let e = json!({"platform": "python", "exception": {"values": [{"type": "E", "value": "v",
            "stacktrace": {"frames": [{"module": "m", "function": "f", "in_app": true}]}}]}});
        assert_eq!(hash_values(e), vec!["m", "f", "E"]);
    }

    #[test]
    fn group_of_identical_leaves_reduces_to_one() {
        let leaf = |id: i64| json!({"type": "Da", "value": "x", "mechanism": {"type": "chained", "exception_id": id, "parent_id": 0}});
        let e = json!({"exception": {"values": [leaf(2), leaf(1),
            {"type": "Group", "value": "g", "mechanism": {"type": "generic", "is_exception_group": true, "exception_id": 0}}]}});
        assert_eq!(hash_values(e.clone()), vec!["Da", "x"]);
        let view = EventView::new(&e);
        assert_eq!(main_exception_index(&view), Some(1));
    }

    #[test]
    fn broken_tree_keeps_the_chain() {
        let e = json!({"exception": {"values": [
            {"type": "A", "value": "a", "mechanism": {"type": "x", "exception_id": 1, "parent_id": 1}},
            {"type": "B", "value": "b", "mechanism": {"type": "x", "exception_id": 0, "is_exception_group": true}}]}});
        assert_eq!(hash_values(e), vec!["A", "a", "B", "b"]);
    }

    #[test]
    fn cycle_keeps_the_chain() {
        let e = json!({"exception": {"values": [
            {"type": "A", "value": "a", "mechanism": {"type": "x", "exception_id": 1, "parent_id": 2, "is_exception_group": true}},
            {"type": "B", "value": "b", "mechanism": {"type": "x", "exception_id": 2, "parent_id": 1, "is_exception_group": true}},
            {"type": "C", "value": "c", "mechanism": {"type": "x", "exception_id": 0, "is_exception_group": true}}]}});
        assert_eq!(hash_values(e).len(), 6);
    }
}
