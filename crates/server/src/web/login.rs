//! Logging in and out, and the front page that sends a visitor where they belong.

use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

use super::error::WebError;
use super::layout::{page, Shell};
use super::session::{
    self, cookie, new_session, safe_next, set_cookie, tokens_equal, Viewer, LOGIN_CSRF_COOKIE,
    SESSION_COOKIE, SESSION_TTL_SECS,
};
use crate::accounts::verify_password;
use crate::AppState;

/// A hash of a random password, verified when the e-mail is unknown so that a wrong address
/// takes as long as a wrong password (no telling which addresses have accounts).
fn dummy_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        crate::accounts::hash_password(&hex::encode(rand::random::<[u8; 16]>())).unwrap_or_default()
    })
    .clone()
}

#[derive(Debug, Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

/// `GET /`: the first organization's issues, or the login form.
pub async fn index(viewer: Viewer, State(state): State<AppState>) -> Response {
    let prefix = state.config.path_prefix();
    match viewer.organizations.first() {
        Some(org) => Redirect::to(&format!("{prefix}/organizations/{}/issues/", org.slug)).into_response(),
        None => page(
            Shell { title: "No organization", prefix: &prefix, viewer: Some(&viewer), org: None, refresh_secs: None },
            html! {
                h1 { "No organization yet" }
                p { "You are not a member of any organization. Ask an administrator to add you, or create a project with "
                    code { "vigil project create SLUG" } "." }
            },
        )
        .into_response(),
    }
}

/// `GET /auth/login/`.
pub async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<NextParam>,
) -> Response {
    render_login(
        &state,
        &headers,
        params.next.as_deref(),
        None,
        StatusCode::OK,
    )
}

fn render_login(
    state: &AppState,
    headers: &HeaderMap,
    next: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let prefix = state.config.path_prefix();
    // The double-submit token: kept when the browser has one, so two open tabs both work.
    let token = cookie(headers, LOGIN_CSRF_COOKIE)
        .filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned)
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 16]>()));
    let next = next.and_then(safe_next).unwrap_or("");
    let body = html! {
        section.login {
            h1 { "Log in to Vigil" }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form method="post" action={ (prefix) "/auth/login/" } {
                input type="hidden" name="csrf" value=(token);
                input type="hidden" name="next" value=(next);
                label { "E-mail" input type="email" name="email" autocomplete="username" required autofocus; }
                label { "Password" input type="password" name="password" autocomplete="current-password" required; }
                button.primary type="submit" { "Log in" }
            }
        }
    };
    let html = page(
        Shell {
            title: "Log in",
            prefix: &prefix,
            viewer: None,
            org: None,
            refresh_secs: None,
        },
        body,
    );
    let set = set_cookie(state, LOGIN_CSRF_COOKIE, &token, 3600);
    (status, [(header::SET_COOKIE, set)], html).into_response()
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// `POST /auth/login/`.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let cookie_token = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if cookie_token.is_empty() || !tokens_equal(cookie_token, &form.csrf) {
        return Err(WebError::Csrf);
    }
    let next = safe_next(&form.next);
    let email = form.email.trim();
    if let Some(wait) = state.web.lockout.locked_for(email, Instant::now()) {
        tracing::warn!(email, "login refused: too many failed attempts");
        let message = format!(
            "Too many failed attempts. Try again in {} seconds.",
            wait.as_secs().max(1)
        );
        return Ok(render_login(
            &state,
            &headers,
            next,
            Some(&message),
            StatusCode::TOO_MANY_REQUESTS,
        ));
    }
    let user = state.store.user_by_email(email).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let password = form.password;
    // argon2id is deliberately slow: off the async runtime, and a few at a time. The semaphore
    // is never closed, so the permit is always granted eventually.
    let _permit = state.web.password_checks.acquire().await;
    let matches = tokio::task::spawn_blocking(move || {
        verify_password(&password, &hash.unwrap_or_else(dummy_hash))
    })
    .await
    .unwrap_or(false);
    let user = match user {
        Some(user) if matches => user,
        _ => {
            state.web.lockout.fail(email, Instant::now());
            tracing::info!(email, "login failed");
            return Ok(render_login(
                &state,
                &headers,
                next,
                Some("Wrong e-mail or password."),
                StatusCode::UNAUTHORIZED,
            ));
        }
    };
    state.web.lockout.succeed(email);
    let secret = state.web.secret(state.store.as_ref()).await?;
    let value = new_session(secret, &user, crate::time::unix_now() as i64);
    tracing::info!(user_id = user.id, "logged in");
    let prefix = state.config.path_prefix();
    let target = next
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{prefix}/"));
    let mut response = Redirect::to(&target).into_response();
    let headers = response.headers_mut();
    for set in [
        set_cookie(&state, SESSION_COOKIE, &value, SESSION_TTL_SECS),
        set_cookie(&state, LOGIN_CSRF_COOKIE, "", 0),
    ] {
        if let Ok(value) = set.parse() {
            headers.append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /auth/logout/`.
pub async fn logout(
    viewer: Viewer,
    State(state): State<AppState>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let prefix = state.config.path_prefix();
    let clear = session::set_cookie(&state, SESSION_COOKIE, "", 0);
    Ok((
        [(header::SET_COOKIE, clear)],
        Redirect::to(&format!("{prefix}/auth/login/")),
    )
        .into_response())
}
