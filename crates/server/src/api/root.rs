//! `GET /api/0/`: who the token belongs to; the first thing `sentry-cli info` asks. And
//! `GET /api/0/auth/`: the signed-in user as Sentry's `DetailedSelfUserSerializer` shows it
//! (the MCP server's `whoami`).

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::auth::{Caller, MaybeCaller};
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
    Ok(Json(json!({
        "version": "0",
        "auth": {"scopes": caller.token.scopes},
        "user": user_json(&caller.user),
    })))
}

/// `GET /api/0/auth/`: the caller's user. Vigil has no display names: the email stands for
/// the name and the username, as it does for a Sentry user who never set one.
pub async fn current_user(caller: Caller) -> Json<Value> {
    let user = &caller.user;
    let mut body = user_json(user);
    if let Value::Object(fields) = &mut body {
        fields.extend([
            ("hasPasswordAuth".into(), json!(true)),
            ("isManaged".into(), json!(false)),
            ("lastLogin".into(), Value::Null),
            ("lastActive".into(), Value::Null),
            (
                "emails".into(),
                json!([{"id": user.id.to_string(), "email": user.email, "is_verified": true}]),
            ),
            (
                "avatar".into(),
                json!({"avatarType": "letter_avatar", "avatarUuid": null, "avatarUrl": null}),
            ),
            ("identities".into(), json!([])),
            ("authenticators".into(), json!([])),
            ("permissions".into(), json!([])),
            ("experiments".into(), json!({})),
            ("flags".into(), json!({"newsletter_consent_prompt": false})),
            ("canReset2fa".into(), json!(false)),
        ]);
    }
    Json(body)
}

/// A user as Sentry's `UserSerializer` shows one.
pub fn user_json(user: &vigil_store::User) -> Value {
    json!({
        "id": user.id.to_string(),
        "email": user.email,
        "username": user.email,
        "name": user.email,
        "avatarUrl": null,
        "isActive": true,
        "isSuperuser": user.is_admin,
        "isStaff": user.is_admin,
        "dateJoined": iso(user.date_created),
        "has2fa": false,
    })
}
