//! Taking the parts of an event that have the shape Sentry's schema gives them: an object or a
//! list field, the objects of a list, an interface of `values`. What has another shape is noted
//! as invalid (see [`EventErrors`]) and dropped, the way Relay's typed schema refuses it, so that
//! every normalization step repairs a wrong shape the same way.

use serde_json::{Map, Value};

use super::errors::EventErrors;
use super::limits::dispose;
use super::value::join;

/// Takes `key` off `map` when it holds an object. Missing or null gives `None`; any other value
/// is noted as invalid at `name` and dropped, and also gives `None`.
pub(crate) fn take_object(
    map: &mut Map<String, Value>,
    key: &str,
    name: &str,
    errors: &mut EventErrors,
) -> Option<Map<String, Value>> {
    match take_if(map, key, name, errors, Value::is_object)? {
        Value::Object(object) => Some(object),
        _ => None,
    }
}

/// Takes `key` off `map` when it holds an array, as [`take_object`] does an object.
pub(crate) fn take_array(
    map: &mut Map<String, Value>,
    key: &str,
    name: &str,
    errors: &mut EventErrors,
) -> Option<Vec<Value>> {
    match take_if(map, key, name, errors, Value::is_array)? {
        Value::Array(items) => Some(items),
        _ => None,
    }
}

fn take_if(
    map: &mut Map<String, Value>,
    key: &str,
    name: &str,
    errors: &mut EventErrors,
    fits: fn(&Value) -> bool,
) -> Option<Value> {
    let value = map.shift_remove(key)?;
    if fits(&value) {
        return Some(value);
    }
    if !value.is_null() {
        errors.discard(name, value);
    }
    None
}

/// Hands each object of a list to `each` with its path (`{list}.{index}`); nulls are skipped,
/// and any other item is noted as invalid and dropped.
pub(crate) fn for_each_object(
    items: Vec<Value>,
    list: &str,
    errors: &mut EventErrors,
    mut each: impl FnMut(Map<String, Value>, &str, &mut EventErrors),
) {
    for (i, item) in items.into_iter().enumerate() {
        let path = format!("{list}.{i}");
        match item {
            Value::Object(object) => each(object, &path, errors),
            Value::Null => {}
            other => errors.discard(&path, other),
        }
    }
}

/// Removes `key` from `map` when its value does not fit, noting it as invalid at `{path}.{key}`.
pub(crate) fn drop_unless(
    map: &mut Map<String, Value>,
    key: &str,
    path: &str,
    errors: &mut EventErrors,
    fits: impl Fn(&Value) -> bool,
) {
    if map.get(key).is_some_and(|v| !fits(v)) {
        if let Some(v) = map.shift_remove(key) {
            errors.discard(&join(path, key), v);
        }
    }
}

/// Normalizes an interface of Sentry's `{"values": [...]}` shape (`exception`, `breadcrumbs`):
/// each object of its list goes through `each`, which says whether to keep it; the interface
/// is dropped when nothing is kept.
pub(crate) fn normalize_values(
    event: &mut Map<String, Value>,
    key: &str,
    errors: &mut EventErrors,
    mut each: impl FnMut(&mut Map<String, Value>, &str, &mut EventErrors) -> bool,
) {
    let Some(mut container) = take_object(event, key, key, errors) else {
        return;
    };
    let list = join(key, "values");
    let values = take_array(&mut container, "values", &list, errors).unwrap_or_default();
    let mut kept = Vec::with_capacity(values.len());
    for_each_object(values, &list, errors, |mut item, path, errors| {
        if each(&mut item, path, errors) {
            kept.push(Value::Object(item));
        } else {
            dispose(Value::Object(item));
        }
    });
    if !kept.is_empty() {
        container.insert("values".into(), Value::Array(kept));
        event.insert(key.to_owned(), Value::Object(container));
    }
}
