//! What the SDKs send besides the event, end to end on SQLite and PostgreSQL: the real
//! `sentry-sdk` (`tests/python/attachments_feedback.py`) sends an error with two attachments
//! added on its scope, a later attachment of the same event in an envelope of its own, an
//! old-style `user_report` and a new-style `feedback` item; they are listed, described,
//! downloaded and deleted through Sentry's event attachment endpoints, the reports listed
//! under the issue and the project, a report posted to `user-feedback/`, and both shown on
//! the issue page with working download links.

mod common;

use common::backend::{test_on_both_backends, Backend, Server};
use common::python::run_python;
use common::{Vigil, ADMIN_EMAIL};
use serde_json::{json, Value};

const CSV: &[u8] = b"order,amount\n1042,19.99\n1043,5.00\n";

test_on_both_backends!(
    attachments_and_feedback_reach_the_api_and_the_page,
    sqlite_attachments_and_feedback,
    postgres_attachments_and_feedback
);

fn attachments_and_feedback_reach_the_api_and_the_page(backend: Backend) {
    let server = Server::start(backend);
    let vigil = &server.vigil;
    let dsn = vigil.create_project("shop", "python");
    let sent = run_python("attachments_feedback.py", &[&dsn.raw]).remove(0);
    let error = common::normalize_event_id(sent["error"].as_str().expect("the error's id"));
    let other = common::normalize_event_id(sent["other"].as_str().expect("the message's id"));
    vigil.settle();

    // The three files, the late one included, with Sentry's fields.
    let list_path = format!("/api/0/projects/default/shop/events/{error}/attachments/");
    let listed = vigil.api_poll("three attachments", &list_path, &[], |l| {
        l.as_array().is_some_and(|l| l.len() == 3)
    });
    let by_name = |name: &str| -> Value {
        listed
            .as_array()
            .and_then(|l| l.iter().find(|a| a["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no attachment {name} in {listed}"))
    };
    for name in ["order.csv", "app.log", "dump.bin"] {
        let attachment = by_name(name);
        assert_eq!(attachment["sha1"], sent["sha1"][name], "{name}");
        assert_eq!(attachment["size"], sent["sizes"][name], "{name}");
        assert_eq!(attachment["type"], "event.attachment", "{name}");
        assert_eq!(attachment["event_id"], error.as_str(), "{name}");
        assert_eq!(
            attachment["headers"]["Content-Type"], attachment["mimetype"],
            "{name}"
        );
        assert!(attachment["id"].is_string() && attachment["dateCreated"].is_string());
    }
    let csv = by_name("order.csv");
    assert_eq!(csv["mimetype"], "text/csv");
    let csv_path = format!("{list_path}{}/", csv["id"].as_str().expect("an id"));
    assert_eq!(vigil.api_get(&csv_path, &[]).ok("the attachment"), csv);

    // The bytes, with Sentry's download headers.
    let download = vigil
        .http()
        .get(vigil.url(&format!("{csv_path}?download=1")))
        .bearer_auth(token(vigil))
        .send()
        .expect("download");
    assert_eq!(download.status(), 200);
    let header = |name: &str| {
        download
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("content-type").as_deref(), Some("text/csv"));
    assert_eq!(
        header("content-disposition").as_deref(),
        Some("attachment; filename=\"order.csv\"")
    );
    assert_eq!(download.bytes().expect("the bytes").as_ref(), CSV);
    let dump = by_name("dump.bin");
    let dump_bytes = vigil
        .http()
        .get(vigil.url(&format!(
            "{list_path}{}/",
            dump["id"].as_str().unwrap_or_default()
        )))
        .query(&[("download", "")])
        .bearer_auth(token(vigil))
        .send()
        .and_then(|r| r.bytes())
        .expect("download dump.bin");
    let expected: Vec<u8> = (0..4).flat_map(|_| 0..=255u8).collect();
    assert_eq!(dump_bytes.as_ref(), expected.as_slice());

    // Unknown events and attachments are 404; another event's attachment is not this one's.
    let unknown = format!(
        "/api/0/projects/default/shop/events/{}/attachments/",
        "ab".repeat(16)
    );
    assert_eq!(vigil.api_get(&unknown, &[]).status, 404);
    assert_eq!(
        vigil.api_get(&format!("{list_path}999999/"), &[]).status,
        404
    );
    assert_eq!(vigil.api_get(&format!("{list_path}nope/"), &[]).status, 404);
    let foreign = format!(
        "/api/0/projects/default/shop/events/{other}/attachments/{}/",
        csv["id"].as_str().unwrap_or_default()
    );
    assert_eq!(vigil.api_get(&foreign, &[]).status, 404);

    // The issue and its reports: the old-style report and the new-style feedback, linked
    // through the event they name.
    let event = vigil
        .api_get(
            &format!("/api/0/projects/default/shop/events/{error}/"),
            &[],
        )
        .ok("the error event");
    let issue_id = event["groupID"]
        .as_str()
        .expect("the error's issue")
        .to_owned();
    let reports = vigil
        .api_get(&format!("/api/0/issues/{issue_id}/user-reports/"), &[])
        .ok("issue reports");
    let mut comments: Vec<(String, String, String)> = reports
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| {
            assert_eq!(r["eventID"], error.as_str());
            assert_eq!(r["event"], json!({"id": error, "eventID": error}));
            (
                r["name"].as_str().unwrap_or_default().to_owned(),
                r["email"].as_str().unwrap_or_default().to_owned(),
                r["comments"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    comments.sort();
    assert_eq!(
        comments,
        [
            (
                "Jane".into(),
                "jane@example.com".into(),
                "The page froze after I clicked pay.".into()
            ),
            (
                "Sam".into(),
                "sam@example.com".into(),
                "I clicked pay twice and nothing happened".into()
            ),
        ]
    );
    let project_reports = vigil
        .api_get("/api/0/projects/default/shop/user-reports/", &[])
        .ok("project reports");
    let project_reports = project_reports.as_array().expect("a list");
    assert_eq!(project_reports.len(), 2, "{project_reports:?}");
    assert!(project_reports
        .iter()
        .all(|r| r["issue"]["id"] == issue_id.as_str()));
    assert_eq!(
        vigil
            .api_get(
                "/api/0/projects/default/shop/user-reports/",
                &[("status", "closed")]
            )
            .status,
        400
    );

    // A report posted to the API, on the other event; posted again it replaces the first.
    let feedback_path = "/api/0/projects/default/shop/user-feedback/";
    let posted = post(
        vigil,
        feedback_path,
        &json!({
            "event_id": other, "name": "Kim", "email": "kim@example.com", "comments": "slow again",
        }),
    );
    assert_eq!(posted.0, 200, "{}", posted.1);
    assert_eq!(posted.1["eventID"], other.as_str());
    assert_eq!(posted.1["comments"], "slow again");
    let again = post(
        vigil,
        feedback_path,
        &json!({
            "event_id": other, "name": "Kim", "email": "kim@example.com", "comments": "still slow",
        }),
    );
    assert_eq!(
        (again.0, &again.1["id"]),
        (200, &posted.1["id"]),
        "{}",
        again.1
    );
    let other_issue = again.1["issue"]["id"]
        .as_str()
        .expect("the other event's issue")
        .to_owned();
    assert_ne!(other_issue, issue_id);
    let on_other = vigil
        .api_get(&format!("/api/0/issues/{other_issue}/user-reports/"), &[])
        .ok("other reports");
    assert_eq!(on_other.as_array().map(Vec::len), Some(1));
    assert_eq!(on_other[0]["comments"], "still slow");
    for (body, field) in [
        (
            json!({"event_id": other, "name": "Kim", "comments": "x"}),
            "email",
        ),
        (
            json!({"event_id": other, "name": "Kim", "email": "not-an-email", "comments": "x"}),
            "email",
        ),
        (
            json!({"event_id": "nope", "name": "Kim", "email": "kim@example.com", "comments": "x"}),
            "event_id",
        ),
        (
            json!({"event_id": other, "name": "Kim", "email": "kim@example.com", "comments": "x", "url": "/"}),
            "url",
        ),
    ] {
        let (status, answer) = post(vigil, feedback_path, &body);
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer.get(field).is_some(),
            "{body}: {answer} names no {field}"
        );
    }

    // The issue page shows the files with download links, and the feedback.
    let cookie = vigil.web_login();
    let page = vigil.web_page(
        &cookie,
        &format!("/organizations/default/issues/{issue_id}/?event={error}"),
    );
    for text in [
        "Attachments",
        "order.csv",
        "app.log",
        "dump.bin",
        "User Feedback",
        "The page froze after I clicked pay.",
        "I clicked pay twice and nothing happened",
        "3 files on this issue",
    ] {
        assert!(page.contains(text), "the issue page lacks {text:?}");
    }
    let link = format!(
        "/organizations/default/projects/shop/events/{error}/attachments/{}/",
        csv["id"].as_str().unwrap_or_default()
    );
    assert!(page.contains(&link), "no download link {link} on the page");
    let web_download = vigil
        .http()
        .get(vigil.url(&link))
        .header("cookie", &cookie)
        .send()
        .and_then(|r| r.bytes())
        .expect("the page's download link");
    assert_eq!(web_download.as_ref(), CSV);

    // Deleting needs an admin scope, then the file is gone and the others stay.
    let delete = |token: &str| {
        vigil
            .http()
            .delete(vigil.url(&csv_path))
            .bearer_auth(token)
            .send()
            .expect("DELETE the attachment")
            .status()
            .as_u16()
    };
    assert_eq!(
        delete(&token(vigil)),
        403,
        "the default token has no admin scope"
    );
    let admin = vigil.cli(&[
        "token",
        "create",
        "--email",
        ADMIN_EMAIL,
        "--scopes",
        "project:admin",
    ]);
    assert_eq!(delete(&admin), 204);
    assert_eq!(delete(&admin), 404);
    let left = vigil.api_get(&list_path, &[]).ok("attachments left");
    let mut names: Vec<&str> = left
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["app.log", "dump.bin"]);
}

/// The admin's API token.
fn token(vigil: &Vigil) -> String {
    vigil.token.clone()
}

/// `POST path` with a JSON body and the admin token: the status and the JSON answer.
fn post(vigil: &Vigil, path: &str, body: &Value) -> (u16, Value) {
    let response = vigil
        .http()
        .post(vigil.url(path))
        .bearer_auth(&vigil.token)
        .json(body)
        .send()
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}
