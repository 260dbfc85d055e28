//! The web UI as a browser drives it, for the tests of the pages: GET a page, POST a form with
//! its cookie, read the CSRF token a page carries, log in through the login form. One client,
//! so that every page test logs in and posts forms the way a browser does, the same way.

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};

use super::{Harness, ADMIN_EMAIL, PASSWORD};

/// What a page answered.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// Where a redirect sends the browser; empty when it is none.
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The value a `Set-Cookie` of this answer gives `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| {
                v.split(';')
                    .next()
                    .and_then(|pair| pair.split_once('='))
                    .filter(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            })
    }

    /// The whole `Set-Cookie` header that sets `name`, attributes included.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&prefix))
            .map(str::to_string)
    }
}

/// The router's answer to `request`, as a page.
pub async fn fetch(h: &Harness, request: Request<Body>) -> Page {
    let (status, headers, bytes) = h.respond(request).await;
    Page {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// GETs `path`, logged in with `session` if there is one.
pub async fn get(h: &Harness, path: &str, session: Option<&str>) -> Page {
    let mut request = Request::get(path);
    if let Some(session) = session {
        request = request.header(header::COOKIE, format!("vigil_session={session}"));
    }
    fetch(h, request.body(Body::empty()).expect("request")).await
}

/// GETs `path` logged in with `session`.
pub async fn get_as(h: &Harness, path: &str, session: &str) -> Page {
    get(h, path, Some(session)).await
}

/// POSTs `form` to `path` with the `Cookie` header `cookie`.
pub async fn post(h: &Harness, path: &str, cookie: &str, form: &[(&str, &str)]) -> Page {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let request = Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .expect("request");
    fetch(h, request).await
}

/// POSTs `form` to `path` logged in with `session`.
pub async fn post_as(h: &Harness, path: &str, session: &str, form: &[(&str, &str)]) -> Page {
    post(h, path, &format!("vigil_session={session}"), form).await
}

/// The value of the hidden `csrf` input of a page.
pub fn csrf_of(body: &str) -> String {
    let at = body
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no csrf field in {body}"));
    let rest = &body[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').expect("closing quote")].to_string()
}

/// Logs in through the form; returns the answer to the POST.
pub async fn login_answer(h: &Harness, email: &str, password: &str, next: &str) -> Page {
    let form = get(h, "/auth/login/", None).await;
    assert_eq!(form.status, StatusCode::OK);
    let token = form.cookie("vigil_login_csrf").expect("login csrf cookie");
    post(
        h,
        "/auth/login/",
        &format!("vigil_login_csrf={token}"),
        &[
            ("csrf", &token),
            ("email", email),
            ("password", password),
            ("next", next),
        ],
    )
    .await
}

/// Logs `email` in with [`PASSWORD`]; returns the session cookie's value.
pub async fn login_as(h: &Harness, email: &str) -> String {
    let answer = login_answer(h, email, PASSWORD, "").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    answer.cookie("vigil_session").expect("session cookie")
}

/// A browser logged in: its session, and the harness it talks to.
pub struct Session<'h> {
    h: &'h Harness,
    /// The value of the `vigil_session` cookie.
    pub id: String,
}

impl<'h> Session<'h> {
    /// The session whose cookie value is `id`.
    pub fn new(h: &'h Harness, id: String) -> Session<'h> {
        Session { h, id }
    }

    /// Logs `email` in with [`PASSWORD`] through the form.
    pub async fn login(h: &'h Harness, email: &str) -> Session<'h> {
        Session::new(h, login_as(h, email).await)
    }

    /// Logs the harness's admin in through the form.
    pub async fn admin(h: &'h Harness) -> Session<'h> {
        Session::login(h, ADMIN_EMAIL).await
    }

    /// GETs `path` in this session.
    pub async fn get(&self, path: &str) -> Page {
        get_as(self.h, path, &self.id).await
    }

    /// GETs `path` in this session and checks that the page is shown (200; the body is in the
    /// failure message).
    pub async fn shown(&self, path: &str) -> Page {
        let page = self.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        page
    }

    /// POSTs `form` to `path` in this session.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        post_as(self.h, path, &self.id, form).await
    }
}

/// Logs the harness's admin in; returns the session cookie's value.
pub async fn login(h: &Harness) -> String {
    login_as(h, ADMIN_EMAIL).await
}
