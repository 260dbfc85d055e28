//! Taking the parts of an event that have the shape Sentry's schema gives them: an object or a
//! list field, the objects of a list, an interface of `values`. What has another shape is noted
//! as invalid (see [`EventErrors`]) and dropped, the way Relay's typed schema refuses it, so that
//! every normalization step repairs a wrong shape the same way.

use crate::json::{Json, Object};

use super::errors::EventErrors;
use super::limits::dispose;
use super::value::join;

/// Takes `key` off `map` when it holds an object. Missing or null gives `None`; any other value
/// is noted as invalid at `name` and dropped, and also gives `None`.
pub(crate) fn take_object<'a>(
    map: &mut Object<'a>,
    key: &str,
    name: &str,
    errors: &mut EventErrors,
) -> Option<Object<'a>> {
    match take_if(map, key, name, errors, Json::is_object)? {
        Json::Object(object) => Some(object),
        _ => None,
    }
}

/// Takes `key` off `map` when it holds an array, as [`take_object`] does an object.
pub(crate) fn take_array<'a>(
    map: &mut Object<'a>,
    key: &str,
    name: &str,
    errors: &mut EventErrors,
) -> Option<Vec<Json<'a>>> {
    match take_if(map, key, name, errors, Json::is_array)? {
        Json::Array(items) => Some(items),
        _ => None,
    }
}

fn take_if<'a>(
    map: &mut Object<'a>,
    key: &str,
    name: &str,
    errors: &mut EventErrors,
    fits: fn(&Json<'a>) -> bool,
) -> Option<Json<'a>> {
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
pub(crate) fn for_each_object<'a>(
    items: Vec<Json<'a>>,
    list: &str,
    errors: &mut EventErrors,
    mut each: impl FnMut(Object<'a>, &str, &mut EventErrors),
) {
    for (i, item) in items.into_iter().enumerate() {
        let path = format!("{list}.{i}");
        match item {
            Json::Object(object) => each(object, &path, errors),
            Json::Null => {}
            other => errors.discard(&path, other),
        }
    }
}

/// Removes `key` from `map` when its value does not fit, noting it as invalid at `{path}.{key}`.
pub(crate) fn drop_unless<'a>(
    map: &mut Object<'a>,
    key: &str,
    path: &str,
    errors: &mut EventErrors,
    fits: impl Fn(&Json<'a>) -> bool,
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
pub(crate) fn normalize_values<'a>(
    event: &mut Object<'a>,
    key: &'static str,
    errors: &mut EventErrors,
    mut each: impl FnMut(&mut Object<'a>, &str, &mut EventErrors) -> bool,
) {
    let Some(mut container) = take_object(event, key, key, errors) else {
        return;
    };
    let list = join(key, "values");
    let values = take_array(&mut container, "values", &list, errors).unwrap_or_default();
    let mut kept = Vec::with_capacity(values.len());
    for_each_object(values, &list, errors, |mut item, path, errors| {
        if each(&mut item, path, errors) {
            kept.push(Json::Object(item));
        } else {
            dispose(Json::Object(item));
        }
    });
    if !kept.is_empty() {
        container.insert("values", Json::Array(kept));
        event.insert(key, Json::Object(container));
    }
}
