//! Size and depth limits: how deep an event may nest, how big a databag may be, how long a
//! string may run.
//!
//! Two different failures are prevented here. First, the stack: every other step walks the
//! event recursively, and so do `serde_json`'s serializer and `Drop`, so an event nested
//! thousands of levels deep would crash the worker. [`cap_depth`] runs before anything else and
//! cuts such subtrees away without recursing into them. Second, storage: Relay bounds free-form
//! "databags" (`extra`, frame `vars`, request bodies …) by depth and size (`BagSize` in
//! relay-event-schema) and long strings by `MaxChars`; [`trim_databag`] and [`trim_string`]
//! apply the same bounds, so a runaway `extra` does not fill the database.

use crate::json::{Json, Object, Str};

use super::errors::EventErrors;

/// How deep any part of an event may nest. Above what real SDKs send (a stack frame's `vars`
/// sits at depth 7, databags are cut at 7 below their root) and below `serde_json`'s parse limit
/// of 128, so a stored event can always be read back.
pub(crate) const MAX_EVENT_DEPTH: usize = 64;

/// The depth and size budget of one databag (Relay's `BagSize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BagSize {
    /// Levels below the databag's root; a container that would reach this depth is stored as
    /// its JSON text instead.
    pub max_depth: usize,
    /// Approximate serialized bytes.
    pub max_bytes: usize,
}

impl BagSize {
    /// A budget of `max_depth` levels and about `max_bytes` serialized bytes.
    const fn new(max_depth: usize, max_bytes: usize) -> BagSize {
        BagSize {
            max_depth,
            max_bytes,
        }
    }
}

/// `query_string`.
pub(crate) const SMALL: BagSize = BagSize::new(3, 1024);
/// Frame `vars`, `logentry.params`, cookies, breadcrumb `data`, `user.data`.
pub(crate) const MEDIUM: BagSize = BagSize::new(5, 2048);
/// Request `data`, `headers`, `env`; `modules`.
pub(crate) const LARGE: BagSize = BagSize::new(7, 8192);
/// One value of `extra`.
pub(crate) const EXTRA_VALUE: BagSize = BagSize::new(7, 16_384);
/// All of `extra`.
pub(crate) const EXTRA_TOTAL: BagSize = BagSize::new(7, 262_144);

/// Drops a value without recursion. [`Json`]'s own `Drop` recurses once per level,
/// which overflows the stack for a value nested tens of thousands of levels deep.
pub(crate) fn dispose(value: Json<'_>) {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Json::Array(items) => stack.extend(items),
            Json::Object(map) => stack.extend(map.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

/// Cuts every container deeper than [`MAX_EVENT_DEPTH`] out of the event, noting each cut.
///
/// The walk recurses at most `MAX_EVENT_DEPTH` levels, and what is cut is disposed of
/// iteratively, so this is safe on any input.
pub(crate) fn cap_depth(event: &mut Object<'_>, errors: &mut EventErrors) {
    let mut path = String::new();
    for (key, value) in event.iter_mut() {
        // Events are almost never too deep: a walk that only counts levels finds that out
        // without writing a path for every container on the way.
        if !too_deep(value, MAX_EVENT_DEPTH - 1) {
            continue;
        }
        path.clear();
        path.push_str(key);
        cap_value(value, MAX_EVENT_DEPTH - 1, &mut path, errors);
    }
}

/// Whether [`cap_value`] would cut anything out of `value` given `levels_left`.
fn too_deep(value: &Json<'_>, levels_left: usize) -> bool {
    let is_container = |v: &Json<'_>| matches!(v, Json::Array(_) | Json::Object(_));
    levels_left == 0
        || match value {
            Json::Array(items) => items
                .iter()
                .any(|item| is_container(item) && too_deep(item, levels_left - 1)),
            Json::Object(map) => map
                .values()
                .any(|item| is_container(item) && too_deep(item, levels_left - 1)),
            _ => false,
        }
}

/// `path` is a reused buffer holding the dotted path of `value`, so that walking a large event
/// allocates nothing unless something is cut.
fn cap_value<'a>(
    value: &mut Json<'a>,
    levels_left: usize,
    path: &mut String,
    errors: &mut EventErrors,
) {
    if levels_left == 0 {
        errors.invalid(path, None);
        dispose(std::mem::take(value));
        return;
    }
    let len = path.len();
    let mut descend = |child: &mut Json<'a>, segment: &dyn std::fmt::Display| {
        if matches!(child, Json::Array(_) | Json::Object(_)) {
            use std::fmt::Write;
            let _ = write!(path, ".{segment}");
            cap_value(child, levels_left - 1, path, errors);
            path.truncate(len);
        }
    };
    match value {
        Json::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                descend(item, &i);
            }
        }
        Json::Object(map) => {
            for (k, item) in map.iter_mut() {
                descend(item, &k);
            }
        }
        _ => {}
    }
}

/// Bounds a databag the way Relay's `TrimmingProcessor` does: strings are cut to the bytes
/// left, containers one level above the depth limit become their JSON text, and once the budget
/// is spent the remaining items are dropped.
///
/// Returns `false` when the whole bag has to go (a budget of nothing).
pub(crate) fn trim_databag(value: &mut Json<'_>, bag: BagSize) -> bool {
    let mut budget = bag.max_bytes;
    trim_bag_value(value, bag.max_depth, &mut budget)
}

/// Like [`trim_databag`] but for each value of an object under one shared total as well, as
/// `extra` is limited: each value on its own (`per_value`) and all of them together (`total`).
pub(crate) fn trim_databag_entries(map: &mut Object<'_>, per_value: BagSize, total: BagSize) {
    let mut total_left = total.max_bytes;
    // One pass in order: the object can hold thousands of keys, and a lookup per key would
    // scan it each time.
    map.retain(|key, value| {
        if total_left == 0 {
            dispose(value.take());
            return false;
        }
        // The value sits one level below the object, so the outer depth limit leaves it one
        // level less than its own.
        let depth = per_value.max_depth.min(total.max_depth.saturating_sub(1));
        let mut budget = per_value.max_bytes.min(total_left);
        let keep = trim_bag_value(value, depth, &mut budget);
        if keep {
            total_left =
                total_left.saturating_sub(flat_size(value).max(deep_size(value)) + key.len() + 1);
        } else {
            dispose(value.take());
        }
        keep
    });
}

fn trim_bag_value(value: &mut Json<'_>, depth_left: usize, budget: &mut usize) -> bool {
    if *budget == 0 || depth_left == 0 {
        return false;
    }
    if depth_left == 1 && matches!(value, Json::Array(_) | Json::Object(_)) {
        // One level above the limit a structure is kept as text, as Relay does, so the data is
        // still readable but no longer nests.
        let text = String::from_utf8(value.to_json_vec()).unwrap_or_default();
        *value = Json::from(text);
    }
    match value {
        Json::String(s) => {
            trim_str(s, *budget);
        }
        Json::Array(items) => {
            let mut kept = Vec::with_capacity(items.len());
            for mut item in std::mem::take(items) {
                if *budget == 0 {
                    dispose(item);
                    continue;
                }
                if trim_bag_value(&mut item, depth_left - 1, budget) {
                    *budget = budget.saturating_sub(flat_size(&item) + 1);
                    kept.push(item);
                } else {
                    dispose(item);
                }
            }
            *items = kept;
        }
        Json::Object(map) => {
            map.retain(|key, item| {
                if *budget == 0 {
                    dispose(item.take());
                    return false;
                }
                if trim_bag_value(item, depth_left - 1, budget) {
                    *budget = budget.saturating_sub(flat_size(item) + key.len() + 1);
                    true
                } else {
                    dispose(item.take());
                    false
                }
            });
        }
        Json::Null | Json::Bool(_) | Json::Number(_) => {}
    }
    true
}

/// The bytes a value takes at its own level, not counting what it contains (children are
/// charged as they are visited, like Relay's `estimate_size_flat`).
fn flat_size(value: &Json<'_>) -> usize {
    match value {
        Json::Null => 4,
        Json::Bool(b) => {
            if *b {
                4
            } else {
                5
            }
        }
        Json::Number(n) => n.to_string().len(),
        Json::String(s) => s.len() + 2,
        Json::Array(_) | Json::Object(_) => 2,
    }
}

/// The bytes of a whole (already trimmed, so shallow) value.
fn deep_size(value: &Json<'_>) -> usize {
    match value {
        Json::Array(items) => 2 + items.iter().map(|v| deep_size(v) + 1).sum::<usize>(),
        Json::Object(map) => {
            2 + map
                .iter()
                .map(|(k, v)| k.len() + 3 + deep_size(v))
                .sum::<usize>()
        }
        other => flat_size(other),
    }
}

/// Cuts a string to `max` characters, ending it with `...` as Relay marks trimmed strings.
pub(crate) fn trim_to_chars(s: &mut String, max: usize) {
    if s.len() <= max || s.chars().count() <= max {
        return;
    }
    let keep = max.saturating_sub(3);
    let cut = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
    s.truncate(cut);
    s.push_str(&"..."[..max.min(3)]);
}

/// [`trim_to_chars`] for a string of the tree, copied only when it is cut.
pub(crate) fn trim_str(s: &mut Str<'_>, max: usize) {
    if s.len() <= max || s.chars().count() <= max {
        return;
    }
    trim_to_chars(s.to_mut(), max);
}

/// Trims a string field with a soft limit and an allowance (Relay's `MaxChars`): strings up to
/// `max + allowance` characters are kept whole, longer ones are cut to `max`.
pub(crate) fn trim_string(value: &mut Json<'_>, max: usize, allowance: usize) {
    if let Json::String(s) = value {
        if s.len() > max + allowance && s.chars().count() > max + allowance {
            trim_str(s, max);
        }
    }
}

/// Trims the string under `key` of an object, if there is one.
pub(crate) fn trim_field(map: &mut Object<'_>, key: &str, max: usize, allowance: usize) {
    if let Some(value) = map.get_mut(key) {
        trim_string(value, max, allowance);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn nested(depth: usize) -> Json<'static> {
        let mut v = Json::from("bottom");
        for i in 0..depth {
            let mut map = Object::new();
            map.insert(format!("key{}", i + 1), v);
            v = Json::Object(map);
        }
        v
    }

    #[test]
    fn deep_containers_are_cut_without_recursion() {
        let mut deep = Json::from(0);
        for _ in 0..100_000 {
            deep = Json::Array(vec![deep]);
        }
        let mut event = Object::new();
        event.insert("extra", deep);
        let mut errors = EventErrors::default();
        cap_depth(&mut event, &mut errors);
        assert_eq!(errors.entries().len(), 1);
        // Dropping what is left must not overflow either: it is at most MAX_EVENT_DEPTH deep.
        let mut depth = 0;
        let mut cursor = &event["extra"];
        while let Some(inner) = cursor.get(0) {
            depth += 1;
            cursor = inner;
        }
        assert_eq!(depth, MAX_EVENT_DEPTH - 1);
        assert!(cursor.is_null());
    }

    #[test]
    fn shallow_events_are_untouched() {
        let mut event = Json::from(json!({"a": {"b": [1, 2, {"c": null}]}}))
            .as_object()
            .cloned()
            .unwrap_or_default();
        let before = event.clone();
        let mut errors = EventErrors::default();
        cap_depth(&mut event, &mut errors);
        assert_eq!(event, before);
        assert!(errors.entries().is_empty());
    }

    #[test]
    fn databag_keeps_structure_until_one_above_the_limit() {
        // Relay's own case: extra value nested 8 deep keeps 5 levels, then JSON text.
        let mut extra =
            Json::from(json!({"key_1": "value 1", "key_2": nested(8), "key_3": nested(5)}))
                .as_object()
                .cloned()
                .unwrap_or_default();
        trim_databag_entries(&mut extra, EXTRA_VALUE, EXTRA_TOTAL);
        assert_eq!(
            extra["key_2"]["key8"]["key7"]["key6"]["key5"]["key4"],
            json!(r#"{"key3":{"key2":{"key1":"bottom"}}}"#)
        );
        assert_eq!(extra["key_3"], nested(5));
    }

    #[test]
    fn databag_stops_when_the_budget_is_spent() {
        let mut bag = Json::from(json!({"a": "x".repeat(1500), "b": "y".repeat(1500), "c": "z"}));
        assert!(trim_databag(&mut bag, MEDIUM));
        let a = bag["a"].as_str().map(str::len);
        assert_eq!(a, Some(1500));
        let b = bag["b"].as_str().map(str::len).unwrap_or(0);
        assert!(b < 600 && bag["b"].as_str().is_some_and(|s| s.ends_with("...")));
        assert!(bag.get("c").is_none());
    }

    #[test]
    fn strings_are_cut_with_an_ellipsis() {
        let mut s = "This is my long string I want to have trimmed!".to_owned();
        trim_to_chars(&mut s, 20);
        assert_eq!(s, "This is my long s...");
        let mut v = Json::from("é".repeat(300));
        trim_string(&mut v, 200, 0);
        assert_eq!(v.as_str().map(|s| s.chars().count()), Some(200));
        let mut short = Json::from("x".repeat(210));
        trim_string(&mut short, 200, 20);
        assert_eq!(short.as_str().map(str::len), Some(210));
    }
}
