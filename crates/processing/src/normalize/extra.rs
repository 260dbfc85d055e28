//! `modules` and `extra`: the free-form databags at the top of an event.
//!
//! `extra` holds whatever the application attached, so it is where runaway sizes come from;
//! Relay bounds each value (depth 7, 16 KiB) and the whole (256 KiB), and `modules` (package
//! versions) as a large databag. Both must be objects.

use crate::json::{Json, Object};

use super::errors::{drop_invalid, EventErrors};
use super::limits;

/// `modules` (package → version strings) and `extra` (free-form) must be objects; both are
/// databags with size limits.
pub(crate) fn normalize_extra_and_modules(event: &mut Object<'_>, errors: &mut EventErrors) {
    if let Some(raw) = event.get_mut("modules") {
        match raw {
            Json::Object(modules) => {
                // One pass: `modules` can list thousands of packages.
                modules.retain(|key, v| {
                    let keep = v.is_string();
                    if !keep {
                        errors.invalid(&format!("modules.{key}"), Some(v));
                    }
                    keep
                });
                if !limits::trim_databag(raw, limits::LARGE) {
                    event.shift_remove("modules");
                }
            }
            _ => drop_invalid(event, "modules", errors),
        }
    }
    match event.get_mut("extra") {
        Some(Json::Object(extra)) => {
            limits::trim_databag_entries(extra, limits::EXTRA_VALUE, limits::EXTRA_TOTAL);
        }
        Some(_) => drop_invalid(event, "extra", errors),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::normalize::errors::run_step;

    #[test]
    fn module_versions_must_be_strings() {
        let (out, notes) = run_step(
            json!({"modules": {"django": "5.2", "bad": 5}}),
            normalize_extra_and_modules,
        );
        assert_eq!(
            (out, notes.len()),
            (json!({"modules": {"django": "5.2"}}), 1)
        );
    }

    #[test]
    fn extra_must_be_an_object() {
        let (out, notes) = run_step(
            json!({"extra": [1, 2], "modules": "django"}),
            normalize_extra_and_modules,
        );
        assert_eq!((out, notes.len()), (json!({}), 2));
        let (out, _) = run_step(
            json!({"extra": {"a": {"b": 1}}}),
            normalize_extra_and_modules,
        );
        assert_eq!(out, json!({"extra": {"a": {"b": 1}}}));
    }
}
