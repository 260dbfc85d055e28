//! `GET /api/0/`: who the token belongs to; the first thing `sentry-cli info` asks.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::auth::MaybeCaller;
use super::error::ApiError;
use crate::serialize::iso;
use crate::AppState;

pub async fn index(
    State(_state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
) -> Result<Json<Value>, ApiError> {
    let Some(caller) = caller else {
        return Ok(Json(json!({"version": "0", "auth": null, "user": null})));
    };
    let user = &caller.user;
    Ok(Json(json!({
        "version": "0",
        "auth": {"scopes": caller.token.scopes},
        "user": {
            "id": user.id.to_string(),
            "email": user.email,
            "username": user.email,
            "name": user.email,
            "isActive": true,
            "isSuperuser": user.is_admin,
            "isStaff": user.is_admin,
            "dateJoined": iso(user.date_created),
            "has2fa": false,
        },
    })))
}
