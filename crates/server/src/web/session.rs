//! Who is looking at a page: the signed session cookie, and the CSRF token of its forms.
//!
//! Sessions are stateless cookies signed with HMAC-SHA256, not rows in the store. The signing
//! key is a secret kept in the store ([`vigil_store::Store::secret`], made by the first node that
//! asks), so every node behind a load balancer accepts the cookies of every other node without
//! a write per login or a read per request beyond the user itself. A cookie says
//! `user id . expiry . password fingerprint . nonce . MAC`: it expires on its own after
//! [`SESSION_TTL_SECS`], and changing the password (a new argon2id hash, hence a new
//! fingerprint) ends every session of that user at once, which is the revocation a stateless
//! session can offer. Logging out drops the cookie from the browser.
//!
//! CSRF: every form of a logged-in page carries a token bound to the session (an HMAC of the
//! session cookie under the same key), so a page on another site can neither read nor forge
//! it. The login form, which has no session yet, uses a double-submit cookie
//! ([`LOGIN_CSRF_COOKIE`]). Cookies are `HttpOnly; SameSite=Lax` (and `Secure` when the public
//! URL is https).

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use vigil_store::{Organization, User};

use super::error::WebError;
use crate::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "vigil_session";
/// The login form's double-submit CSRF cookie.
pub const LOGIN_CSRF_COOKIE: &str = "vigil_login_csrf";
/// How long a login lasts.
pub const SESSION_TTL_SECS: i64 = 14 * 86_400;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], message: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(message.as_bytes());
    mac
}

fn sign(secret: &[u8], message: &str) -> String {
    hex::encode(mac(secret, message).finalize().into_bytes())
}

/// Constant-time check of a hex MAC.
fn verify(secret: &[u8], message: &str, signature: &str) -> bool {
    hex::decode(signature)
        .ok()
        .is_some_and(|bytes| mac(secret, message).verify_slice(&bytes).is_ok())
}

/// Sixteen hex digits of the SHA-256 of the password hash: changes when the password does.
fn password_fingerprint(password_hash: &str) -> String {
    hex::encode(&Sha256::digest(password_hash.as_bytes())[..8])
}

/// A new session cookie value for `user`.
pub fn new_session(secret: &[u8], user: &User, now: i64) -> String {
    // The nonce makes each login its own session (and CSRF token), even two in one second.
    let body = format!(
        "{}.{}.{}.{}",
        user.id,
        now + SESSION_TTL_SECS,
        password_fingerprint(&user.password_hash),
        hex::encode(rand::random::<[u8; 8]>())
    );
    let signature = sign(secret, &format!("session|{body}"));
    format!("{body}.{signature}")
}

/// The user id and password fingerprint of a valid, unexpired session cookie.
fn open_session(secret: &[u8], value: &str, now: i64) -> Option<(i64, String)> {
    let (body, signature) = value.rsplit_once('.')?;
    if !verify(secret, &format!("session|{body}"), signature) {
        return None;
    }
    let mut parts = body.split('.');
    let user_id: i64 = parts.next()?.parse().ok()?;
    let expires: i64 = parts.next()?.parse().ok()?;
    let fingerprint = parts.next()?.to_string();
    (expires > now).then_some((user_id, fingerprint))
}

/// The CSRF token of a session's forms.
pub fn csrf_token(secret: &[u8], session: &str) -> String {
    sign(secret, &format!("csrf|{session}"))
}

/// Constant-time equality of two tokens (the double-submit check of the login form).
pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name` in the request headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value; `max_age` 0 deletes the cookie.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> String {
    let path = format!("{}/", state.config.path_prefix());
    let secure = if state.config.public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

/// A logged-in person looking at a page, with the organizations they may read.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: User,
    pub organizations: Vec<Organization>,
    /// The token every form of the page must send back as `csrf`.
    pub csrf: String,
}

impl Viewer {
    /// The organization by slug if the viewer may read it; 404 otherwise, as for one that does
    /// not exist.
    pub fn organization(&self, slug: &str) -> Result<Organization, WebError> {
        self.organizations
            .iter()
            .find(|org| org.slug == slug)
            .cloned()
            .ok_or(WebError::NotFound)
    }

    /// Rejects a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, token: &str) -> Result<(), WebError> {
        if tokens_equal(token, &self.csrf) {
            Ok(())
        } else {
            Err(WebError::Csrf)
        }
    }
}

/// Where a login should return to: only paths on this site.
pub fn safe_next(next: &str) -> Option<&str> {
    (next.starts_with('/') && !next.starts_with("//") && !next.contains('\\')).then_some(next)
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Viewer, Response> {
        match viewer(parts, state).await {
            Ok(Some(viewer)) => Ok(viewer),
            Ok(None) => {
                let next = return_path(parts, state);
                let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
                let login = format!("{}/auth/login/?next={next}", state.config.path_prefix());
                Err(Redirect::to(&login).into_response())
            }
            Err(err) => Err(err.into_response()),
        }
    }
}

/// Where to go after logging in: the page asked for, or, for a form whose session had expired
/// (a POST cannot be replayed by a redirect), the page the form was on.
fn return_path(parts: &Parts, state: &AppState) -> String {
    if parts.method == axum::http::Method::GET {
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map(|o| o.0.clone())
            .unwrap_or_else(|| parts.uri.clone());
        return uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
    }
    let base = state.config.base_url();
    parts
        .headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.strip_prefix(base.as_str()))
        .and_then(|rest| safe_next(rest).map(str::to_owned))
        .unwrap_or_else(|| format!("{}/", state.config.path_prefix()))
}

/// The viewer of a request with a valid session, if any.
pub async fn viewer(parts: &Parts, state: &AppState) -> Result<Option<Viewer>, WebError> {
    let Some(value) = cookie(&parts.headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let secret = state.web.secret(state.store.as_ref()).await?;
    let now = crate::time::unix_now() as i64;
    let Some((user_id, fingerprint)) = open_session(secret, value, now) else {
        return Ok(None);
    };
    let Some(user) = state.store.user_by_id(user_id).await? else {
        return Ok(None);
    };
    if !tokens_equal(&fingerprint, &password_fingerprint(&user.password_hash)) {
        return Ok(None);
    }
    let organizations = state.store.organizations_of_user(user.id).await?;
    Ok(Some(Viewer {
        csrf: csrf_token(secret, value),
        user,
        organizations,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(hash: &str) -> User {
        User {
            id: 7,
            email: "a@example.com".into(),
            password_hash: hash.into(),
            is_admin: false,
            date_created: 0.0,
        }
    }

    #[test]
    fn session_round_trips_until_it_expires() {
        let cookie = new_session(b"key", &user("h1"), 1000);
        let (id, fp) = open_session(b"key", &cookie, 1001).expect("valid");
        assert_eq!(id, 7);
        assert_eq!(fp, password_fingerprint("h1"));
        assert!(open_session(b"key", &cookie, 1000 + SESSION_TTL_SECS).is_none());
    }

    #[test]
    fn tampered_or_foreign_sessions_are_refused() {
        let cookie = new_session(b"key", &user("h1"), 1000);
        assert!(open_session(b"other key", &cookie, 1001).is_none());
        let forged = cookie.replacen("7.", "8.", 1);
        assert!(open_session(b"key", &forged, 1001).is_none());
        assert!(open_session(b"key", "garbage", 1001).is_none());
    }

    #[test]
    fn csrf_token_is_bound_to_the_session() {
        assert_ne!(csrf_token(b"k", "s1"), csrf_token(b"k", "s2"));
        assert!(tokens_equal("abc", "abc"));
        assert!(!tokens_equal("abc", "abd"));
        assert!(!tokens_equal("abc", "ab"));
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/organizations/x/"), Some("/organizations/x/"));
        assert_eq!(safe_next("//evil.example/"), None);
        assert_eq!(safe_next("https://evil.example/"), None);
        assert_eq!(safe_next("/\\evil.example"), None);
    }
}
