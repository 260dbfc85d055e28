//! A project's inbound filters, as Sentry's `/filters/` endpoints show and toggle them
//! (`ProjectFiltersEndpoint`, `ProjectFilterDetailsEndpoint`). The custom filters (error
//! messages, releases, IP addresses) and the generic ones are the project's `options`, changed
//! through the project endpoint (`projects.rs`).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};
use vigil_store::{InboundFilters, LegacyBrowsers, LEGACY_BROWSER_SUBFILTERS};

use super::access::ProjectAccess;
use super::error::ApiError;
use super::performance_settings::WRITE_SCOPES;
use crate::AppState;

/// Sentry's filter specs: id, name and description, in Sentry's registration order.
const SPECS: [(&str, &str, &str); 5] = [
    (
        "localhost",
        "Filter out events coming from localhost",
        "This applies to both IPv4 (``127.0.0.1``) and IPv6 (``::1``) addresses.",
    ),
    (
        "browser-extensions",
        "Filter out errors known to be caused by browser extensions",
        "Certain browser extensions will inject inline scripts and are known to cause errors.",
    ),
    (
        "legacy-browsers",
        "Filter out known errors from legacy browsers",
        "Older browsers often give less accurate information, and while they may report valid \
         issues, the context to understand them is incorrect or missing.",
    ),
    (
        "web-crawlers",
        "Filter out known web crawlers",
        "Some crawlers may execute pages in incompatible ways which then cause errors that are \
         unlikely to be seen by a normal user.",
    ),
    (
        "filtered-transaction",
        "Filter out health check transactions",
        "Filter transactions that match most common naming patterns for health checks.",
    ),
];

/// The five filters as Sentry's list answers them, sorted by name; `active` is a boolean, or
/// the subfilter list for legacy browsers.
pub fn filter_list(filters: &InboundFilters) -> Vec<Value> {
    let mut list: Vec<Value> = SPECS
        .iter()
        .map(|(id, name, description)| {
            let active = match *id {
                "legacy-browsers" => filters.legacy_browsers.to_json(),
                other => filters.is_active(other).unwrap_or(false).into(),
            };
            json!({
                "id": id,
                "active": active,
                "description": description,
                "name": name,
                "hello": format!("{id} - {name}"),
            })
        })
        .collect();
    list.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    list
}

/// `GET /api/0/projects/{org}/{project}/filters/`.
pub async fn list_filters(
    State(state): State<AppState>,
    ProjectAccess { project, .. }: ProjectAccess,
) -> Result<Json<Vec<Value>>, ApiError> {
    let filters = state.store.inbound_filters(project.id).await?;
    Ok(Json(filter_list(&filters)))
}

/// `PUT /api/0/projects/{org}/{project}/filters/{filter_id}/`: `{"active": bool}`, or for
/// `legacy-browsers` `{"subfilters": [...]}` too; 204 as Sentry answers. An unknown filter is a
/// 404; a field of the wrong type, an unknown subfilter or a field Sentry's serializer does not
/// have is a 400 naming it.
pub async fn update_filter(
    State(state): State<AppState>,
    ProjectAccess {
        caller, project, ..
    }: ProjectAccess,
    Path((_, _, filter_id)): Path<(String, String, String)>,
    body: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    caller.require_scope(WRITE_SCOPES)?;
    if !SPECS.iter().any(|(id, _, _)| *id == filter_id) {
        return Err(ApiError::NotFound);
    }
    let Json(body) = body.map_err(|_| {
        ApiError::bad_field(
            "detail",
            "The body must be a JSON object such as {\"active\": true}",
        )
    })?;
    let mut filters = state.store.inbound_filters(project.id).await?;
    apply(&mut filters, &filter_id, &body)?;
    state.set_inbound_filters(project.id, &filters).await?;
    tracing::info!(project_id = project.id, filter = %filter_id, "inbound filter changed");
    Ok(StatusCode::NO_CONTENT)
}

/// Sets filter `id` from `body` as Sentry's `set_filter_state` does: `active` wins; for legacy
/// browsers a non-empty `subfilters` list is kept sorted, and neither (or an empty list) turns
/// the filter off.
fn apply(
    filters: &mut InboundFilters,
    id: &str,
    body: &Map<String, Value>,
) -> Result<(), ApiError> {
    let legacy = id == "legacy-browsers";
    if let Some(field) = body
        .keys()
        .find(|k| !(k.as_str() == "active" || (legacy && k.as_str() == "subfilters")))
    {
        let accepted = if legacy {
            "active, subfilters"
        } else {
            "active"
        };
        return Err(ApiError::bad_field(
            field,
            format!("This filter has no such field; it accepts {accepted}."),
        ));
    }
    let active = match body.get("active") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::Null) => {
            return Err(ApiError::bad_field("active", "This field may not be null."))
        }
        Some(_) => return Err(ApiError::bad_field("active", "Must be a valid boolean.")),
    };
    let subfilters = match body.get("subfilters") {
        None => None,
        Some(Value::Array(items)) => {
            let mut list = Vec::with_capacity(items.len());
            for item in items {
                match item.as_str() {
                    Some(s) if LEGACY_BROWSER_SUBFILTERS.contains(&s) => list.push(s.to_owned()),
                    _ => {
                        return Err(ApiError::bad_field(
                            "subfilters",
                            format!(
                                "\"{}\" is not a valid choice.",
                                item.as_str().unwrap_or(&item.to_string())
                            ),
                        ))
                    }
                }
            }
            Some(list)
        }
        Some(_) => {
            return Err(ApiError::bad_field(
                "subfilters",
                "Expected a list of items but got type \"str\".",
            ))
        }
    };
    if legacy {
        filters.legacy_browsers = match (active, subfilters) {
            (Some(true), _) => LegacyBrowsers::Default,
            (Some(false), _) => LegacyBrowsers::Off,
            (None, Some(list)) => LegacyBrowsers::only(list),
            (None, None) => LegacyBrowsers::Off,
        };
    } else {
        filters.set_active(id, active.unwrap_or(false));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn toggles_follow_sentrys_set_filter_state() {
        let mut f = InboundFilters::none();
        apply(&mut f, "localhost", &body(json!({"active": true}))).expect("ok");
        assert!(f.localhost);
        apply(&mut f, "localhost", &body(json!({}))).expect("ok");
        assert!(
            !f.localhost,
            "an empty body turns a filter off, as in Sentry"
        );
        apply(
            &mut f,
            "legacy-browsers",
            &body(json!({"subfilters": ["safari", "ie", "ie"]})),
        )
        .expect("ok");
        assert_eq!(f.legacy_browsers, LegacyBrowsers::only(["ie", "safari"]));
        apply(&mut f, "legacy-browsers", &body(json!({"active": true}))).expect("ok");
        assert_eq!(f.legacy_browsers, LegacyBrowsers::Default);
        apply(&mut f, "legacy-browsers", &body(json!({"subfilters": []}))).expect("ok");
        assert_eq!(f.legacy_browsers, LegacyBrowsers::Off);
    }

    #[test]
    fn bad_bodies_name_the_field() {
        let mut f = InboundFilters::none();
        let field = |r: Result<(), ApiError>| match r {
            Err(ApiError::BadField { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(apply(&mut f, "localhost", &body(json!({"active": "yes"})))),
            "active"
        );
        assert_eq!(
            field(apply(&mut f, "localhost", &body(json!({"subfilters": []})))),
            "subfilters"
        );
        assert_eq!(
            field(apply(
                &mut f,
                "legacy-browsers",
                &body(json!({"subfilters": ["netscape"]}))
            )),
            "subfilters"
        );
        assert_eq!(
            field(apply(
                &mut f,
                "web-crawlers",
                &body(json!({"enabled": true}))
            )),
            "enabled"
        );
        assert_eq!(f, InboundFilters::none());
    }

    #[test]
    fn the_list_is_sorted_by_name_with_legacy_browsers_as_a_list() {
        let list = filter_list(&InboundFilters::default());
        let ids: Vec<&str> = list.iter().filter_map(|f| f["id"].as_str()).collect();
        assert_eq!(
            ids,
            [
                "browser-extensions",
                "localhost",
                "filtered-transaction",
                "legacy-browsers",
                "web-crawlers"
            ]
        );
        assert_eq!(list[3]["active"].as_array().map(Vec::len), Some(8));
        assert_eq!(list[1]["active"], json!(false));
        assert_eq!(
            list[4]["hello"],
            json!("web-crawlers - Filter out known web crawlers")
        );
    }
}
