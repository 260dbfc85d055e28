//! The end-to-end proof that default data scrubbing keeps secrets out of what Vigil serves and
//! stores: a Django view (`tests/python/secrets_app.py`, the real `sentry-sdk` with
//! `send_default_pii=True` and the SDK's own scrubber off) fails with a secret in each place an
//! SDK puts one (a frame's locals, the `Authorization` header, the `sessionid` and
//! `user_session` cookies, the query string, the form body, extras, a breadcrumb's data), and
//!
//! - no API answer (event, issue, its events and latest event, its tags, the issue list) and no
//!   web page (issue, event, its events, the issue list) holds any of them, nor any file under
//!   the data dir after a clean shutdown, the ingest queue's segments (`queue/*.log`) included:
//!   the envelope as the SDK sent it is erased from the log once its event is stored;
//! - `[Filtered]` stands where they were, and the event's `_meta` says which rule removed them;
//! - what Sentry keeps is kept: the user's e-mail, ordinary extras, the server name;
//! - with the project's `dataScrubber` off, the next event keeps them (the setting applies, and
//!   the SDK did send every secret), while an advanced rule set through the API
//!   (`relayPiiConfig`: remove `extra.order_id`) still removes the order id, `_meta` naming it
//!   `project:0`.
//!
//! On SQLite and on PostgreSQL (`VIGIL_TEST_DATABASE_URL`), from one test body; on PostgreSQL
//! the data dir holds no database file to scan. Also: the alert email of the new issue (the
//! default rule, delivered to a real SMTP server, `tests/python/smtp_server.py`) holds none of
//! the secrets.

mod common;

use std::path::Path;
use std::time::Duration;

use common::backend::{test_on_both_backends, Backend, Server};
use common::python::{python_script, run_python};
use common::{entry, poll, tags, Dsn, Vigil};
use serde_json::{json, Value};

const TITLE: &str = "ZeroDivisionError: division by zero";
const CARD: &str = "4111 1111 1111 1111";

/// Every secret `secrets_app.py` plants in a run with `tag`, by where it is planted.
fn secrets(tag: &str) -> Vec<(&'static str, String)> {
    [
        "LOCAL", "BEARER", "SID", "COOKIE", "QS", "FORM", "EXTRA", "CRUMB",
    ]
    .into_iter()
    .map(|kind| (kind, format!("PLANTED-{kind}-7f3a{tag}")))
    .collect()
}

/// Runs the Django view once with `tag` in its secrets; asserts it failed with a 500.
fn send_secrets(dsn: &Dsn, tag: &str) {
    let results = run_python("secrets_app.py", &[&dsn.raw, tag]);
    assert_eq!(results, [json!({"status": 500})], "secrets_app.py answered");
}

/// Panics when `text` (what `what` answered) holds any of `secrets`.
#[track_caller]
fn assert_no_secret(what: &str, text: &str, secrets: &[(&str, String)]) {
    for (kind, secret) in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "{what} holds the {kind} secret {secret:?}:\n{text}"
        );
    }
}

/// The issue of `TITLE` once it has `count` events.
fn wait_for_issue(vigil: &Vigil, count: &str) -> Value {
    let list = vigil.api_poll(
        &format!("issue {TITLE:?} with {count} events"),
        "/api/0/projects/default/shop/issues/",
        &[("query", "is:unresolved")],
        |list| {
            list.as_array()
                .is_some_and(|l| l.iter().any(|i| i["title"] == TITLE && i["count"] == count))
        },
    );
    list.as_array()
        .and_then(|l| l.iter().find(|i| i["title"] == TITLE))
        .cloned()
        .expect("the poll returned the issue")
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the data dir") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The value at the JSON pointer, or a panic that shows the event.
#[track_caller]
fn at<'a>(event: &'a Value, pointer: &str) -> &'a Value {
    event
        .pointer(pointer)
        .unwrap_or_else(|| panic!("the event has no {pointer}: {event}"))
}

/// A `[key, value]` list (headers, cookies, query string) as pairs.
fn pairs(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a [key, value] list: {list}"))
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap_or_default().to_string(),
                pair[1].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The index of `key` in a `[key, value]` list.
fn position(list: &Value, key: &str) -> usize {
    pairs(list)
        .iter()
        .position(|(k, _)| k.eq_ignore_ascii_case(key))
        .unwrap_or_else(|| panic!("no {key} in {list}"))
}

fn pair_value(list: &Value, key: &str) -> String {
    pairs(list)
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {key} in {list}"))
}

/// The index of the frame of `fail_with_secrets` in the exception's stack trace.
fn view_frame_index(event: &Value) -> usize {
    let exception = entry(event, "exception").expect("an exception entry");
    at(exception, "/values/0/stacktrace/frames")
        .as_array()
        .expect("frames")
        .iter()
        .position(|f| f["function"] == "fail_with_secrets")
        .unwrap_or_else(|| panic!("no frame of fail_with_secrets: {exception}"))
}

/// The `vars` of the frame of `fail_with_secrets`.
fn view_frame_vars(event: &Value) -> &Value {
    let exception = entry(event, "exception").expect("an exception entry");
    let frames = at(exception, "/values/0/stacktrace/frames")
        .as_array()
        .expect("frames");
    let frame = frames
        .iter()
        .find(|f| f["function"] == "fail_with_secrets")
        .unwrap_or_else(|| panic!("no frame of fail_with_secrets: {exception}"));
    &frame["vars"]
}

fn auth_crumb(event: &Value) -> &Value {
    let crumbs = entry(event, "breadcrumbs").expect("a breadcrumbs entry");
    crumbs["values"]
        .as_array()
        .expect("breadcrumb values")
        .iter()
        .find(|c| c["category"] == "auth")
        .unwrap_or_else(|| panic!("no auth breadcrumb: {crumbs}"))
}

test_on_both_backends!(
    scrubbing_keeps_secrets_out,
    default_scrubbing_keeps_every_planted_secret_out_of_api_pages_and_data_files,
    on_postgres_default_scrubbing_keeps_every_planted_secret_out_of_api_pages_and_data_files
);

fn scrubbing_keeps_secrets_out(backend: Backend) {
    let mut server = Server::start(backend);
    let vigil = &mut server.vigil;
    let dsn = vigil.create_project("shop", "python");
    let planted = secrets("1");
    let mut planted_and_card = planted.clone();
    planted_and_card.push(("card", CARD.to_string()));

    send_secrets(&dsn, "1");
    let issue = wait_for_issue(vigil, "1");
    let issue_id = issue["id"].as_str().expect("issue id").to_string();
    vigil.settle();

    // The API: the issue list, the issue, its events and its latest event, the event by id.
    let list = vigil.api_get("/api/0/projects/default/shop/issues/", &[]);
    assert_no_secret("the issue list", &list.body.to_string(), &planted_and_card);
    let issue_json = vigil
        .api_get(&format!("/api/0/issues/{issue_id}/"), &[])
        .ok("GET the issue");
    assert_no_secret("the issue", &issue_json.to_string(), &planted_and_card);
    let events = vigil
        .api_get(&format!("/api/0/issues/{issue_id}/events/"), &[])
        .ok("GET the issue's events");
    assert_no_secret("the issue's events", &events.to_string(), &planted_and_card);
    let latest = vigil
        .api_get(&format!("/api/0/issues/{issue_id}/events/latest/"), &[])
        .ok("GET the latest event");
    assert_no_secret("the latest event", &latest.to_string(), &planted_and_card);
    let event_id = latest["eventID"].as_str().expect("eventID").to_string();
    let event = vigil
        .api_get(
            &format!("/api/0/projects/default/shop/events/{event_id}/"),
            &[],
        )
        .ok("GET the event");
    assert_no_secret("the event", &event.to_string(), &planted_and_card);
    let tag_values = vigil
        .api_get(&format!("/api/0/issues/{issue_id}/tags/"), &[])
        .ok("GET the issue's tags");
    assert_no_secret(
        "the issue's tags",
        &tag_values.to_string(),
        &planted_and_card,
    );

    // `[Filtered]` where the secrets were.
    let filtered = json!("[Filtered]");
    assert_eq!(at(&event, "/context/db_password"), &filtered, "extra");
    assert_eq!(view_frame_vars(&event)["password"], filtered, "the local");
    assert_eq!(
        auth_crumb(&event)["data"]["auth_token"],
        filtered,
        "breadcrumb"
    );
    let request = entry(&event, "request").expect("a request entry");
    assert_eq!(
        pair_value(&request["headers"], "Authorization"),
        "[Filtered]",
        "the Authorization header: {request}"
    );
    let cookies = &request["cookies"];
    assert_eq!(pair_value(cookies, "sessionid"), "[Filtered]", "{request}");
    assert_eq!(
        pair_value(cookies, "user_session"),
        "[Filtered]",
        "{request}"
    );
    assert_eq!(pair_value(cookies, "theme"), "dark", "{request}");
    let query = request["query"].to_string();
    assert!(query.contains("[Filtered]"), "query string: {request}");
    assert!(query.contains("page"), "query string: {request}");
    assert_eq!(
        request["data"]["password"], filtered,
        "form body: {request}"
    );
    assert_eq!(request["data"]["quantity"], "3", "form body: {request}");
    assert!(
        at(&event, "/context/payment_note")
            .as_str()
            .is_some_and(|note| note.contains("[Filtered]")),
        "the card number in an extra: {event}"
    );

    // `_meta` says which rule removed the extra.
    let meta = &event["_meta"];
    assert_eq!(
        meta.pointer("/extra/db_password//rem/0/0"),
        Some(&json!("@password:filter")),
        "_meta of extra.db_password: {meta}"
    );
    let frame = view_frame_index(&event);
    for (pointer, rule) in [
        ("/request/data/password", "@password:filter"),
        ("/breadcrumbs/values/0/data/auth_token", "@password:filter"),
        ("/extra/payment_note", "@creditcard:filter"),
        (
            &format!("/exception/values/0/stacktrace/frames/{frame}/vars/password"),
            "@password:filter",
        ),
    ] {
        assert_eq!(
            meta.pointer(&format!("{pointer}//rem/0/0")),
            Some(&json!(rule)),
            "_meta of {pointer}: {meta}"
        );
    }
    // Headers and cookies are `[name, value]` lists: `_meta` names the value by index.
    let header = position(&request["headers"], "Authorization");
    let cookie = position(cookies, "user_session");
    for (pointer, rule) in [
        (format!("/request/headers/{header}/1"), "@bearer:filter"),
        (format!("/request/cookies/{cookie}/1"), "@anything:filter"),
    ] {
        assert_eq!(
            meta.pointer(&format!("{pointer}//rem/0/0")),
            Some(&json!(rule)),
            "_meta of {pointer}: {meta}"
        );
    }
    eprintln!("_meta of the scrubbed event: {meta}");

    // What Sentry keeps.
    assert_eq!(
        event["user"]["email"], "buyer@example.com",
        "user: {}",
        event["user"]
    );
    assert_eq!(at(&event, "/context/order_id"), "ORDER-1234", "extra");
    assert!(
        tags(&event).contains(&("server_name".into(), "web-7.shop.internal".into())),
        "server_name tag: {}",
        event["tags"]
    );
    assert_eq!(event["title"], TITLE);

    // The web pages of the issue and of its events.
    let cookie = vigil.web_login();
    for path in [
        format!("/organizations/default/issues/{issue_id}/"),
        format!("/organizations/default/issues/{issue_id}/?event={event_id}"),
        format!("/organizations/default/issues/{issue_id}/events/"),
        "/organizations/default/issues/".to_string(),
    ] {
        let html = vigil.web_page(&cookie, &path);
        assert!(
            html.contains("ZeroDivisionError"),
            "{path} does not show the issue:\n{html}"
        );
        assert_no_secret(&format!("the page {path}"), &html, &planted_and_card);
        if path.contains("?event=") {
            // The page says which rule scrubbed a value, as Sentry's does on hover.
            for rule in ["@bearer:filter", "@password:filter"] {
                let mark = format!("by the data-scrubbing rule {rule}");
                assert!(
                    html.contains(&mark),
                    "{path} does not show {mark:?}:\n{html}"
                );
            }
        }
    }

    // Every file of the data dir after a clean shutdown (SQLite: the database and its WAL, and
    // on both backends the ingest queue's segments). Events are compressed in the database, so
    // this proves most for its plain columns (titles, tags, search text). The queue's segments
    // held the envelope as the SDK sent it until the event was stored.
    let status = vigil.terminate(Duration::from_secs(30));
    assert!(status.success(), "`vigil serve` exited with {status}");
    let mut scanned = Vec::new();
    // The control: the scan does see the database's plain columns (the title, the server_name
    // tag, the user's e-mail), so that a secret in one of them would be found.
    let plain = [TITLE, "web-7.shop.internal", "buyer@example.com"];
    let mut seen = [false; 3];
    for file in files_under(vigil.data_dir()) {
        if file.ends_with("serve.stderr.log") {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("read {file:?}: {e}"));
        let text = String::from_utf8_lossy(&bytes);
        assert_no_secret(&format!("the file {}", file.display()), &text, &planted);
        for (i, survivor) in plain.iter().enumerate() {
            seen[i] |= text.contains(survivor);
        }
        scanned.push(format!("{} ({} bytes)", file.display(), bytes.len()));
    }
    eprintln!("scanned {} files: {scanned:#?}", scanned.len());
    if matches!(backend, Backend::Sqlite) {
        assert_eq!(
            seen, [true; 3],
            "the database files do not show {plain:?} in plain text: {scanned:#?}"
        );
    }
    vigil.restart();

    // With `dataScrubber` off, the next event keeps what the SDK sent, but for what the
    // project's advanced rule removes: `[Remove] [Anything] from [extra.order_id]`.
    let changed = vigil
        .api_put(
            "/api/0/projects/default/shop/",
            &json!({"dataScrubber": false, "relayPiiConfig": ORDER_ID_RULE}),
        )
        .ok("PUT dataScrubber false");
    assert_eq!(changed["dataScrubber"], false, "{changed}");
    assert_eq!(changed["relayPiiConfig"], ORDER_ID_RULE, "{changed}");
    send_secrets(&dsn, "2");
    wait_for_issue(vigil, "2");
    let latest = vigil
        .api_get(&format!("/api/0/issues/{issue_id}/events/latest/"), &[])
        .ok("GET the latest event");
    let unscrubbed = latest["eventID"].as_str().expect("eventID");
    assert_ne!(unscrubbed, event_id, "the latest event is the second one");
    let event = vigil
        .api_get(
            &format!("/api/0/projects/default/shop/events/{unscrubbed}/"),
            &[],
        )
        .ok("GET the unscrubbed event");
    let text = event.to_string();
    // Not `sessionid`: the SDK's Django integration filters Django's session cookie itself, and
    // the `Cookie` header is dropped once its cookies are parsed, as Relay does.
    for (kind, secret) in secrets("2").into_iter().filter(|(kind, _)| *kind != "SID") {
        assert!(
            text.contains(&secret),
            "with dataScrubber off, the {kind} secret {secret:?} is not in the event: {event}"
        );
    }
    assert_eq!(at(&event, "/context/db_password"), "PLANTED-EXTRA-7f3a2");
    assert!(text.contains(CARD), "the card number: {event}");
    // The advanced rule: the order id is gone from the event and from the issue's answers, and
    // `_meta` names the rule as Relay does (`project:<id>`).
    assert!(!text.contains("ORDER-1234"), "extra.order_id: {event}");
    let latest_text = latest.to_string();
    assert!(!latest_text.contains("ORDER-1234"), "latest: {latest}");
    let meta = &event["_meta"];
    assert_eq!(
        meta.pointer("/extra/order_id//rem/0"),
        Some(&json!(["project:0", "x"])),
        "_meta of extra.order_id: {meta}"
    );
}

/// `[Remove] [Anything] from [extra.order_id]`, as Sentry's UI writes it.
const ORDER_ID_RULE: &str = r#"{"rules": {"0": {"type": "anything", "redaction": {"method": "remove"}}}, "applications": {"extra.order_id": ["0"]}}"#;

/// `tests/python/smtp_server.py` on a free port, keeping each message as a JSON file in `dir`.
struct SmtpServer {
    child: std::process::Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl SmtpServer {
    fn start() -> SmtpServer {
        use std::io::BufRead;
        let dir = tempfile::Builder::new()
            .prefix("vigil-smtp-")
            .tempdir()
            .expect("a temp dir for the mail");
        let port = common::free_port();
        let mut child = python_script("smtp_server.py")
            .args(["--port", &port.to_string()])
            .arg("--dir")
            .arg(dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn smtp_server.py");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read smtp_server.py's first line");
        assert_eq!(line.trim(), format!("ready {port}"), "smtp_server.py");
        SmtpServer { child, dir, port }
    }

    /// The text of every message file received so far.
    fn messages(&self) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .expect("read the mail dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).expect("read a message"))
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_alert_email_of_an_issue_with_planted_secrets_holds_none_of_them() {
    let smtp = SmtpServer::start();
    let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
    let vigil = Vigil::start_with(&["--smtp-url", &smtp_url]);
    let dsn = vigil.create_project("shop", "python");
    send_secrets(&dsn, "3");
    let mails = poll("the alert email", Duration::from_secs(30), || {
        let mails = smtp.messages();
        if mails.is_empty() {
            Err("no email yet".to_string())
        } else {
            Ok(mails)
        }
    });
    let mut planted = secrets("3");
    planted.push(("card", CARD.to_string()));
    for mail in &mails {
        assert!(mail.contains("ZeroDivisionError"), "not the alert: {mail}");
        assert_no_secret("the alert email", mail, &planted);
    }
}
