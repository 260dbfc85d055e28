//! The binary's contract outside of events: `vigil serve` starts, answers `/_health` and exits 0
//! on SIGTERM; the CLI prints DSNs and tokens alone on stdout; the web API takes those tokens
//! and refuses requests without one.

mod common;

use std::time::Duration;

use common::{Vigil, ADMIN_EMAIL};

#[test]
fn serve_answers_health_and_exits_zero_on_sigterm() {
    let mut vigil = Vigil::start();
    let health = vigil
        .http()
        .get(vigil.url("/_health"))
        .send()
        .expect("GET /_health");
    assert_eq!(health.status(), 200);

    let status = vigil.terminate(Duration::from_secs(20));
    assert!(
        status.success(),
        "SIGTERM should stop the server gracefully with exit 0, got {status}:\n{}",
        vigil.log()
    );
}

#[test]
fn project_create_prints_the_dsn_that_project_list_and_the_keys_api_show() {
    let vigil = Vigil::start();
    let dsn = vigil.create_project("checkout", "python");

    let listing = vigil.cli(&["project", "list"]);
    assert!(
        listing.contains("checkout") && listing.contains(&dsn.raw),
        "`vigil project list` does not show the project and its DSN:\n{listing}"
    );

    let keys = vigil
        .api_get("/api/0/projects/default/checkout/keys/", &[])
        .ok("GET the project's keys");
    let key = keys
        .as_array()
        .and_then(|keys| keys.first())
        .unwrap_or_else(|| panic!("the project has no key: {keys}"));
    assert_eq!(key["public"], dsn.public_key.as_str(), "{key}");
    assert_eq!(key["dsn"]["public"], dsn.raw.as_str(), "{key}");

    let projects = vigil
        .api_get("/api/0/projects/", &[])
        .ok("GET /api/0/projects/");
    let project = projects
        .as_array()
        .and_then(|list| list.iter().find(|p| p["slug"] == "checkout"))
        .unwrap_or_else(|| panic!("/api/0/projects/ lacks the project: {projects}"));
    assert_eq!(
        project["id"],
        dsn.project_id.as_str(),
        "project ids are strings: {project}"
    );
    assert_eq!(project["platform"], "python", "{project}");
    assert_eq!(project["organization"]["slug"], "default", "{project}");
}

#[test]
fn api_root_tells_sentry_cli_whose_token_it_is() {
    let vigil = Vigil::start();
    // sentry-cli's `info` reads `user` and `auth.scopes` from GET /api/0/ (trailing slash).
    let root = vigil.api_get("/api/0/", &[]).ok("GET /api/0/");
    assert_eq!(root["user"]["email"], ADMIN_EMAIL, "{root}");
    assert!(
        root["auth"]["scopes"]
            .as_array()
            .is_some_and(|scopes| scopes.iter().any(|s| s == "event:read")),
        "the token's scopes are missing: {root}"
    );
}

#[test]
fn web_api_refuses_requests_without_a_valid_token() {
    let vigil = Vigil::start();
    vigil.create_project("shop", "python");
    let path = "/api/0/projects/default/shop/issues/";

    let anonymous = vigil
        .http()
        .get(vigil.url(path))
        .send()
        .expect("GET without a token");
    assert_eq!(anonymous.status(), 401, "no token");

    let forged = format!("sntryu_{}", "0".repeat(64));
    let wrong = vigil
        .http()
        .get(vigil.url(path))
        .bearer_auth(forged)
        .send()
        .expect("GET with an unknown token");
    assert_eq!(wrong.status(), 401, "unknown token");
    let body = wrong.text().expect("read the refusal");
    assert!(
        !body.contains("\"shortId\""),
        "a refusal carried issues: {body}"
    );
}

/// A client that stops mid-request must not keep a stopping server alive: after SIGTERM the
/// server drains what it can, then exits within a bounded time, whatever clients do.
#[test]
fn sigterm_stops_the_server_even_while_a_client_holds_a_half_sent_request() {
    use std::io::Write;
    let mut vigil = Vigil::start();
    let mut stalled =
        std::net::TcpStream::connect(("127.0.0.1", vigil.port)).expect("connect to the server");
    stalled
        .write_all(b"POST /api/1/envelope/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"")
        .expect("send the start of a request");
    // The server must have taken the connection before it is told to stop.
    vigil
        .api_get("/api/0/projects/", &[])
        .ok("a request before SIGTERM");

    let status = vigil.terminate(Duration::from_secs(60));
    assert!(
        status.success(),
        "SIGTERM should end in exit 0, got {status}"
    );
    drop(stalled);
}

/// `vigil key rate-limit` sets what the keys API shows, and the server enforces it.
#[test]
fn key_rate_limit_from_the_cli_is_enforced() {
    let vigil = Vigil::start();
    let dsn = vigil.create_project("limited", "python");
    vigil.cli(&[
        "key",
        "rate-limit",
        &dsn.public_key,
        "--count",
        "1",
        "--window",
        "3600",
    ]);
    let keys = vigil
        .api_get("/api/0/projects/default/limited/keys/", &[])
        .ok("GET keys");
    assert_eq!(
        keys[0]["rateLimit"],
        serde_json::json!({"window": 3600, "count": 1})
    );
    let url = vigil.url(&format!("/api/{}/store/", dsn.project_id));
    let send = || {
        vigil
            .http()
            .post(&url)
            .header(
                "x-sentry-auth",
                format!("Sentry sentry_key={}, sentry_version=7", dsn.public_key),
            )
            .body(r#"{"message": "limited"}"#)
            .send()
            .expect("the server answers")
            .status()
            .as_u16()
    };
    assert_eq!(send(), 200);
    assert_eq!(send(), 429);
}
