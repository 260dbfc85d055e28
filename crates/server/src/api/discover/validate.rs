//! `GET /api/0/organizations/{org}/events/validate/`: whether a Discover query would run,
//! each part judged apart (Sentry's shape, 200 when valid and 400 with the same body when not)
//! so a client such as Sentry's MCP server can fix the part that is wrong. Vigil judges every
//! dataset it answers by the same parsers `events/` runs, not only Sentry's RPC datasets.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::super::access::OrgAccess;
use super::super::error::ApiError;
use super::{alias, dataset_of, errors, fields, search, spans, Common, Dataset};
use crate::query::{self, QueryPairs};
use crate::AppState;

/// Sentry's attribute types of a meta type.
fn attr_type(meta_type: &str) -> &'static str {
    match meta_type {
        "integer" | "number" | "duration" | "percentage" | "rate" => "number",
        "boolean" => "boolean",
        _ => "string",
    }
}

/// The message of a refusal, without the JSON around it.
fn reason(error: &ApiError) -> String {
    match error {
        ApiError::BadField { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

fn entry(name: &str, checked: &Result<&'static str, String>) -> Value {
    match checked {
        Ok(kind) => {
            json!({"name": name, "valid": true, "attrType": attr_type(kind), "error": null})
        }
        Err(error) => json!({"name": name, "valid": false, "attrType": null, "error": error}),
    }
}

/// `GET /api/0/organizations/{org}/events/validate/`.
pub async fn validate_events(
    State(state): State<AppState>,
    OrgAccess { org, .. }: OrgAccess,
    QueryPairs(params): QueryPairs,
) -> Result<Response, ApiError> {
    let mut valid = true;
    let dataset_name = query::first(&params, "dataset")
        .unwrap_or("discover")
        .to_owned();
    let mut body = json!({
        "valid": true,
        "projects": [],
        "dataset": [],
        "environment": [],
        "field": [],
        "query": {"valid": true, "error": null, "fields": []},
        "orderby": [],
    });
    let dataset = match dataset_of(&params) {
        Ok(dataset) => {
            body["dataset"] = json!([{"name": dataset_name, "valid": true, "error": null}]);
            dataset
        }
        Err(error) => {
            body["valid"] = json!(false);
            body["dataset"] =
                json!([{"name": dataset_name, "valid": false, "error": reason(&error)}]);
            return Ok((StatusCode::BAD_REQUEST, Json(body)).into_response());
        }
    };
    let common = match Common::from_params(&state, org, &params).await {
        Ok(common) => common,
        Err(ApiError::Forbidden) => {
            body["valid"] = json!(false);
            body["projects"] = json!([{"valid": false, "error": "You do not have access to one or more of the projects"}]);
            return Ok((StatusCode::BAD_REQUEST, Json(body)).into_response());
        }
        Err(other) => return Err(other),
    };

    // Fields, each judged by the dataset's own parser.
    let names = query::all(&params, "field");
    let mut checked: Vec<(String, Result<&'static str, String>)> = Vec::new();
    let mut error_fields = Vec::new();
    for name in &names {
        let result = match dataset {
            Dataset::Errors => match errors::Field::parse(&state, &common, name).await {
                Ok(field) => {
                    let kind = field.meta_type(false);
                    error_fields.push(field);
                    Ok(kind)
                }
                Err(error) => Err(reason(&error)),
            },
            Dataset::Spans => spans::Field::parse(name)
                .map(|f| f.meta_type())
                .map_err(|e| reason(&e)),
            Dataset::Transactions => fields::Field::parse(name).map(|f| f.meta_type()),
        };
        checked.push((name.to_string(), result));
    }
    if dataset == Dataset::Errors
        && error_fields.len() == names.len()
        && error_fields.iter().any(errors::Field::is_aggregate)
    {
        if let Err(error) = errors::grouping(&error_fields) {
            // The first column that cannot be grouped is the one named in the reason.
            let message = reason(&error);
            if let Some((_, result)) = checked
                .iter_mut()
                .find(|(name, _)| message.contains(&format!(" {name} ")))
            {
                *result = Err(message);
            }
        }
    }
    for (name, result) in &checked {
        valid &= result.is_ok();
        if let Some(list) = body["field"].as_array_mut() {
            list.push(entry(name, result));
        }
    }

    // The query, by the parser `events/` runs.
    let query_text = query::first(&params, "query").unwrap_or("");
    let query_result = match dataset {
        Dataset::Errors => errors::conditions(&state, &common, query_text)
            .await
            .map(|_| ())
            .map_err(|e| reason(&e)),
        Dataset::Spans => spans::span_query(&common, query_text)
            .map(|_| ())
            .map_err(|e| reason(&e)),
        Dataset::Transactions => search::parse_filters(query_text).map(|_| ()),
    };
    if let Err(error) = query_result {
        valid = false;
        body["query"]["valid"] = json!(false);
        body["query"]["error"] = json!(error);
    }

    // Each sort must be a selected field (Sentry's `sort`, or the older `orderby`).
    let mut orderby = query::all(&params, "sort");
    if orderby.is_empty() {
        orderby = query::all(&params, "orderby");
    }
    for sort in orderby.into_iter().filter(|s| !s.is_empty()) {
        let bare = sort.trim_start_matches('-');
        let selected = checked
            .iter()
            .find(|(name, _)| name == bare || alias(name) == bare);
        let value = match selected {
            Some((_, Ok(kind))) => {
                json!({"name": sort, "valid": true, "attrType": attr_type(kind), "error": null})
            }
            Some((_, Err(_))) | None => {
                valid = false;
                json!({"name": sort, "valid": false, "attrType": null, "error": "Orderby must also be a selected field"})
            }
        };
        if let Some(list) = body["orderby"].as_array_mut() {
            list.push(value);
        }
    }

    body["valid"] = json!(valid);
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((status, Json(body)).into_response())
}
