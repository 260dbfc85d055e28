//! Issue alerts through the real router, a real SQLite store, the real ingest worker and the
//! real senders: Sentry's rules API (shapes, validation, access), the issue's activity, the
//! project's notifications, and webhook / Slack deliveries to HTTP receivers on 127.0.0.1.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{ingest, Harness};
use serde_json::{json, Value};
use vigil_server::jobs::alerts::SenderOptions;
use vigil_store::prelude::*;

const FIRST_SEEN: &str = "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition";
const EVENT_FREQUENCY: &str = "sentry.rules.conditions.event_frequency.EventFrequencyCondition";
const LEVEL_FILTER: &str = "sentry.rules.filters.level.LevelFilter";
const TAGGED_FILTER: &str = "sentry.rules.filters.tagged_event.TaggedEventFilter";
const EMAIL_ACTION: &str = "sentry.mail.actions.NotifyEmailAction";

/// A token of the harness's admin with the scopes `vigil token create` gives by default.
async fn writer_token(h: &Harness) -> String {
    h.token_for(
        h.admin.id,
        &[
            "org:read",
            "project:read",
            "project:write",
            "event:read",
            "event:write",
        ],
    )
    .await
}

fn rules_path() -> &'static str {
    "/api/0/projects/default/shop/rules/"
}

/// The body of Sentry's API docs example, with the conditions, filters and actions Vigil
/// supports.
fn sentry_rule_body(member_id: i64) -> Value {
    json!({
        "name": "My Example Issue Alert",
        "frequency": 30,
        "actionMatch": "any",
        "filterMatch": "all",
        "environment": "production",
        "conditions": [
            {"id": FIRST_SEEN},
            {"id": EVENT_FREQUENCY, "value": 100, "comparisonType": "count", "interval": "1h"}
        ],
        "filters": [
            {"id": LEVEL_FILTER, "match": "gte", "level": "40"},
            {"id": TAGGED_FILTER, "key": "browser", "match": "eq", "value": "Chrome"}
        ],
        "actions": [
            {"id": EMAIL_ACTION, "targetType": "Member", "fallthroughType": "ActiveMembers",
             "targetIdentifier": member_id},
            {"id": "vigil.actions.WebhookAction", "url": "https://hooks.example.com/sentry"},
            {"id": "vigil.actions.SlackWebhookAction",
             "webhook_url": "https://hooks.slack.com/services/T000/B000/XXXX"}
        ]
    })
}

fn error_event(exc_type: &str, value: &str) -> Value {
    json!({
        "platform": "python",
        "environment": "production",
        "level": "error",
        "exception": {"values": [{"type": exc_type, "value": value, "stacktrace": {"frames": [
            {"module": "shop.views", "function": "checkout", "filename": "shop/views.py",
             "lineno": 12, "context_line": "    total = 1 / 0", "in_app": true}
        ]}}]},
        "user": {"id": "7"},
    })
}

#[tokio::test]
async fn a_new_project_has_sentrys_default_rule() {
    let h = Harness::new().await;
    let (status, _, body) = h.get(rules_path()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rules = body.as_array().expect("a list");
    assert_eq!(rules.len(), 1, "{body}");
    let rule = &rules[0];
    assert_eq!(rule["conditions"][0]["id"], FIRST_SEEN);
    assert_eq!(rule["conditions"][0]["name"], "A new issue is created");
    assert_eq!(rule["actions"][0]["id"], EMAIL_ACTION);
    assert_eq!(rule["actions"][0]["targetType"], "IssueOwners");
    assert_eq!(rule["actions"][0]["fallthroughType"], "ActiveMembers");
    assert_eq!(rule["actionMatch"], "all");
    assert_eq!(rule["projects"], json!(["shop"]));
    assert!(rule["id"].is_string());
}

#[tokio::test]
async fn rules_round_trip_through_create_read_update_delete() {
    let h = Harness::new().await;
    let token = writer_token(&h).await;
    let admin = &h.admin;

    let (status, created) = h
        .call_as(
            &token,
            "POST",
            rules_path(),
            Some(sentry_rule_body(admin.id)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("string id").to_string();
    assert_eq!(created["name"], "My Example Issue Alert");
    assert_eq!(created["frequency"], 30);
    assert_eq!(created["actionMatch"], "any");
    assert_eq!(created["filterMatch"], "all");
    assert_eq!(created["environment"], "production");
    assert_eq!(created["conditions"].as_array().map(Vec::len), Some(2));
    assert_eq!(created["conditions"][1]["interval"], "1h");
    assert_eq!(created["filters"][1]["key"], "browser");
    assert_eq!(
        created["actions"][1]["url"],
        "https://hooks.example.com/sentry"
    );
    assert_eq!(created["createdBy"]["email"], "admin@example.com");
    assert!(created["dateCreated"]
        .as_str()
        .is_some_and(|d| d.ends_with('Z')));

    let one = format!("{}{id}/", rules_path());
    let (status, read) = h.get_as(&token, &one).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, created);
    let (_, list) = h.get_as(&token, rules_path()).await;
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(2),
        "default + new: {list}"
    );
    // Newest first, as Sentry orders them.
    assert_eq!(list[0]["id"], id.as_str());

    // PUT replaces the whole rule, as in Sentry.
    let replacement = json!({
        "name": "Spikes only",
        "frequency": 60,
        "actionMatch": "all",
        "filterMatch": "any",
        "conditions": [{"id": EVENT_FREQUENCY, "value": 10, "interval": "5m"}],
        "actions": [{"id": "vigil.actions.WebhookAction", "url": "http://127.0.0.1:9/hook"}],
    });
    let (status, updated) = h.call_as(&token, "PUT", &one, Some(replacement)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["id"], id.as_str());
    assert_eq!(updated["name"], "Spikes only");
    assert_eq!(updated["frequency"], 60);
    assert_eq!(updated["environment"], Value::Null);
    assert_eq!(updated["filters"], json!([]));
    assert_eq!(updated["actions"].as_array().map(Vec::len), Some(1));
    let (_, read) = h.get_as(&token, &one).await;
    assert_eq!(read, updated);

    let (status, _) = h.call_as(&token, "DELETE", &one, None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = h.get_as(&token, &one).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = h.call_as(&token, "DELETE", &one, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = h.get_as(&token, rules_path()).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn invalid_rules_are_refused_naming_the_field() {
    let h = Harness::new().await;
    let token = writer_token(&h).await;
    let valid = sentry_rule_body(1);
    let with = |key: &str, value: Value| {
        let mut body = valid.clone();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = valid.clone();
        body.as_object_mut().expect("object").remove(key);
        body
    };
    let cases = vec![
        ("name", without("name")),
        ("frequency", with("frequency", json!(2))),
        ("frequency", with("frequency", json!(50_000))),
        ("actionMatch", with("actionMatch", json!("some"))),
        ("filterMatch", with("filterMatch", json!(7))),
        ("conditions", with("conditions", json!([]))),
        (
            "conditions",
            with(
                "conditions",
                json!([{"id": "sentry.rules.conditions.nope.Nope"}]),
            ),
        ),
        (
            "conditions",
            with(
                "conditions",
                json!([{"id": EVENT_FREQUENCY, "value": 5, "interval": "2m"}]),
            ),
        ),
        (
            "filters",
            with(
                "filters",
                json!([{"id": LEVEL_FILTER, "match": "xx", "level": "40"}]),
            ),
        ),
        ("actions", without("actions")),
        (
            "actions",
            with(
                "actions",
                json!([{"id": "vigil.actions.WebhookAction", "url": "ftp://x/"}]),
            ),
        ),
        (
            "actions",
            with(
                "actions",
                json!([{"id": EMAIL_ACTION, "targetType": "Everyone"}]),
            ),
        ),
    ];
    for (field, body) in cases {
        let (status, answer) = h
            .call_as(&token, "POST", rules_path(), Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {answer}");
        let reasons = answer[field].as_array();
        assert!(
            reasons.is_some_and(|r| r.len() == 1 && r[0].as_str().is_some_and(|s| !s.is_empty())),
            "expected a reason for {field}: {body} → {answer}"
        );
    }
    // Not JSON at all.
    let request = Request::post(rules_path())
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from("{not json"))
        .expect("request");
    let (status, _, _) = h.send(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The invalid PUT leaves the rule as it was.
    let (_, list) = h.get_as(&token, rules_path()).await;
    let default_id = list[0]["id"].as_str().expect("id").to_string();
    let path = format!("{}{default_id}/", rules_path());
    let (status, answer) = h
        .call_as(&token, "PUT", &path, Some(with("frequency", json!(1))))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer["frequency"].is_array());
    let (_, after) = h.get_as(&token, &path).await;
    assert_eq!(after, list[0]);
}

#[tokio::test]
async fn rule_writes_need_a_write_scope() {
    let h = Harness::new().await;
    // The harness's token has `org:read` only.
    let (status, _, _) = h.api("POST", rules_path(), Some(sentry_rule_body(1))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, _, list) = h.get(rules_path()).await;
    let id = list[0]["id"].as_str().expect("id");
    let path = format!("{}{id}/", rules_path());
    assert_eq!(h.api("DELETE", &path, None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        h.api("PUT", &path, Some(sentry_rule_body(1))).await.0,
        StatusCode::FORBIDDEN
    );
    h.expect_status(&path, StatusCode::OK).await;
}

#[tokio::test]
async fn rules_of_other_organizations_and_projects_are_not_found() {
    let h = Harness::new().await;
    let secret = h.project_in("other", "secret", None).await;
    let second = h.project_in("default", "second", None).await;
    // A member (not admin) of `default` only, with write scopes.
    let user = h.member_of("default", "member@example.com").await;
    let token = h.token_for(user.id, &["project:write"]).await;

    let secret_rules = h.store.alert_rules(secret.id).await.expect("rules");
    let secret_rule = secret_rules.first().expect("default rule").id;
    for (method, path, body) in [
        (
            "GET",
            "/api/0/projects/other/secret/rules/".to_string(),
            None,
        ),
        (
            "POST",
            "/api/0/projects/other/secret/rules/".to_string(),
            Some(sentry_rule_body(1)),
        ),
        (
            "GET",
            format!("/api/0/projects/other/secret/rules/{secret_rule}/"),
            None,
        ),
        (
            "DELETE",
            format!("/api/0/projects/other/secret/rules/{secret_rule}/"),
            None,
        ),
        // Another organization's rule under one's own project.
        (
            "GET",
            format!("/api/0/projects/default/shop/rules/{secret_rule}/"),
            None,
        ),
        (
            "DELETE",
            format!("/api/0/projects/default/shop/rules/{secret_rule}/"),
            None,
        ),
        (
            "GET",
            "/api/0/projects/other/secret/notifications/".to_string(),
            None,
        ),
        (
            "GET",
            "/api/0/projects/default/shop/rules/not-a-number/".to_string(),
            None,
        ),
    ] {
        let (status, body) = h.call_as(&token, method, &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    assert_eq!(
        h.store.alert_rules(secret.id).await.expect("rules").len(),
        1
    );
    // A rule of another project of the same organization is not this project's either.
    let second_rule = h.store.alert_rules(second.id).await.expect("rules")[0].id;
    for (project, expected) in [("shop", StatusCode::NOT_FOUND), ("second", StatusCode::OK)] {
        let path = format!("/api/0/projects/default/{project}/rules/{second_rule}/");
        let (status, _) = h.get_as(&token, &path).await;
        assert_eq!(status, expected, "{path}");
    }
}

/// An HTTP receiver on 127.0.0.1 that keeps every body it is sent and answers 500 to the
/// first `failures` requests.
struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<(StatusCode, Value)>>>,
    _server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(failures: usize) -> Receiver {
        let bodies: Arc<Mutex<Vec<(StatusCode, Value)>>> = Arc::default();
        let kept = Arc::clone(&bodies);
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let kept = Arc::clone(&kept);
                async move {
                    let mut kept = kept.lock().expect("lock");
                    let status = if kept.len() < failures {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    };
                    kept.push((status, body));
                    (status, "receiver says hi")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url,
            bodies,
            _server: server,
        }
    }

    fn received(&self) -> Vec<(StatusCode, Value)> {
        self.bodies.lock().expect("lock").clone()
    }

    /// Waits (bounded) until `n` requests arrived.
    async fn wait_for(&self, n: usize) -> Vec<(StatusCode, Value)> {
        for _ in 0..300 {
            if self.received().len() >= n {
                return self.received();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("expected {n} requests, got {:?}", self.received());
    }
}

/// Starts the senders with retries after 100 ms, 200 ms…; they stop when the sender drops.
fn start_senders(h: &Harness) -> tokio::sync::watch::Sender<bool> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let options = SenderOptions {
        retry_base: Duration::from_millis(100),
        idle_poll: Duration::from_millis(50),
        ..SenderOptions::default()
    };
    vigil_server::jobs::alerts::spawn_senders(&h.state, options, stopped);
    stop
}

async fn add_rule(h: &Harness, token: &str, actions: Value) -> String {
    let (status, body) = h
        .call_as(
            token,
            "POST",
            rules_path(),
            Some(json!({
                "name": "New issues to the hooks",
                "frequency": 5,
                "actionMatch": "all",
                "conditions": [{"id": FIRST_SEEN}],
                "actions": actions,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().expect("id").to_string()
}

/// Waits (bounded) until every notification of the project is done (not pending).
async fn settled_notifications(h: &Harness, token: &str) -> Vec<Value> {
    for _ in 0..300 {
        let (status, body) = h
            .get_as(token, "/api/0/projects/default/shop/notifications/")
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let list = body.as_array().expect("list").clone();
        if !list.is_empty() && list.iter().all(|n| n["status"] != "pending") {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("notifications still pending");
}

#[tokio::test]
async fn a_new_issue_posts_the_webhook_and_slack_once_and_records_the_activity() {
    let h = Harness::new().await;
    let token = writer_token(&h).await;
    let webhook = Receiver::start(0).await;
    let slack = Receiver::start(0).await;
    let rule_id = add_rule(
        &h,
        &token,
        json!([
            {"id": "vigil.actions.WebhookAction", "url": webhook.url},
            {"id": "vigil.actions.SlackWebhookAction", "webhook_url": slack.url},
        ]),
    )
    .await;
    let _senders = start_senders(&h);

    let event_id = ingest(&h, 1, &error_event("ZeroDivisionError", "division by zero")).await;
    let posted = webhook.wait_for(1).await;
    let (_, body) = &posted[0];
    let issue_id = body["id"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| body["id"].to_string());
    assert_eq!(body["project_slug"], "shop");
    assert_eq!(
        body["url"],
        format!("http://127.0.0.1:9000/organizations/default/issues/{issue_id}/")
    );
    assert_eq!(body["level"], "error");
    assert!(
        body["triggering_rules"]
            .to_string()
            .contains("New issues to the hooks"),
        "{body}"
    );
    assert!(body["event"].is_object(), "{body}");
    let slack_posts = slack.wait_for(1).await;
    assert!(slack_posts[0].1["text"].is_string());
    assert!(slack_posts[0].1["blocks"].is_array());

    // The same issue again, and the same envelope again: no second post.
    ingest(&h, 2, &error_event("ZeroDivisionError", "division by zero")).await;
    ingest(&h, 1, &error_event("ZeroDivisionError", "division by zero")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(webhook.received().len(), 1);
    assert_eq!(slack.received().len(), 1);

    let notifications = settled_notifications(&h, &token).await;
    let hooks: Vec<&Value> = notifications
        .iter()
        .filter(|n| n["ruleId"] == rule_id.as_str())
        .collect();
    assert_eq!(hooks.len(), 2, "{notifications:?}");
    for n in &hooks {
        assert_eq!(n["status"], "sent");
        assert_eq!(n["attempts"], 1);
        assert_eq!(n["eventId"], event_id.as_str());
        assert_eq!(n["trigger"], "first_seen");
        assert!(n["dateSent"].is_string());
    }

    let (status, activity) = h
        .get_as(&token, &format!("/api/0/issues/{issue_id}/activities/"))
        .await;
    assert_eq!(status, StatusCode::OK, "{activity}");
    let entries = activity["activity"].as_array().expect("activity list");
    let sent: Vec<&Value> = entries
        .iter()
        .filter(|a| a["type"] == "notification")
        .collect();
    assert_eq!(sent.len(), 2, "{activity}");
    for entry in sent {
        assert!(entry["id"].is_string());
        assert!(entry["dateCreated"]
            .as_str()
            .is_some_and(|d| d.ends_with('Z')));
        assert_eq!(entry["user"], Value::Null);
        assert!(entry["data"].is_object());
    }
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_exactly_one_delivery() {
    let h = Harness::new().await;
    let token = writer_token(&h).await;
    let webhook = Receiver::start(2).await;
    add_rule(
        &h,
        &token,
        json!([{"id": "vigil.actions.WebhookAction", "url": webhook.url}]),
    )
    .await;
    let _senders = start_senders(&h);
    ingest(&h, 1, &error_event("KeyError", "'sku'")).await;
    let received = webhook.wait_for(3).await;
    // Give a wrong extra retry the time to show.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let received_after = webhook.received();
    assert_eq!(received_after.len(), 3, "{received_after:?}");
    let statuses: Vec<StatusCode> = received.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        statuses,
        vec![
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::OK
        ]
    );
    let notifications = settled_notifications(&h, &token).await;
    let hook = notifications
        .iter()
        .find(|n| n["kind"] == "webhook")
        .expect("the webhook notification");
    assert_eq!(hook["status"], "sent");
    assert_eq!(hook["attempts"], 3);
    assert_eq!(hook["lastError"], "HTTP 500: receiver says hi");
}

#[tokio::test]
async fn emails_without_smtp_are_recorded_as_undeliverable() {
    let h = Harness::new().await;
    let token = writer_token(&h).await;
    let _senders = start_senders(&h);
    ingest(&h, 1, &error_event("ValueError", "bad")).await;
    // The default rule emails the organization's members: the admin.
    let notifications = settled_notifications(&h, &token).await;
    assert_eq!(notifications.len(), 1, "{notifications:?}");
    let email = &notifications[0];
    assert_eq!(email["kind"], "email");
    assert_eq!(email["target"], "admin@example.com");
    assert_eq!(email["status"], "undeliverable");
    assert_eq!(
        email["lastError"],
        "no SMTP server configured (VIGIL_SMTP_URL)"
    );
    assert!(email["payload"]["subject"].is_string());
    // Nothing was sent, so the issue's activity records no notification.
    let issue_id = email["issueId"].as_str().expect("issue id");
    let (status, activity) = h
        .get_as(&token, &format!("/api/0/issues/{issue_id}/activities/"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let entries = activity["activity"].as_array().expect("activity list");
    assert!(
        entries.iter().all(|a| a["type"] != "notification"),
        "{activity}"
    );

    let (status, body) = h
        .get_as(
            &token,
            "/api/0/projects/default/shop/notifications/?limit=0",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// A minimal SMTP server on 127.0.0.1 (no STARTTLS offered, so the opportunistic client stays
/// on plain text) that keeps each message's envelope recipients and data.
/// Each message received: its envelope recipients and its data.
type Mailbox = Arc<Mutex<Vec<(Vec<String>, String)>>>;

struct MailSink {
    url: String,
    messages: Mailbox,
    _server: tokio::task::JoinHandle<()>,
}

impl MailSink {
    async fn start() -> MailSink {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("smtp://{}", listener.local_addr().expect("addr"));
        let messages: Mailbox = Arc::default();
        let kept = Arc::clone(&messages);
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let kept = Arc::clone(&kept);
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                    let mut recipients = Vec::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") {
                            b"250-sink\r\n250 8BITMIME\r\n"
                        } else if upper.starts_with("RCPT TO:") {
                            recipients.push(line[8..].trim().to_string());
                            b"250 ok\r\n"
                        } else if upper.starts_with("DATA") {
                            let _ = write.write_all(b"354 go on\r\n").await;
                            let mut data = String::new();
                            while let Ok(Some(line)) = lines.next_line().await {
                                if line == "." {
                                    break;
                                }
                                data.push_str(&line);
                                data.push('\n');
                            }
                            kept.lock()
                                .expect("lock")
                                .push((std::mem::take(&mut recipients), data));
                            b"250 queued\r\n"
                        } else if upper.starts_with("QUIT") {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        } else {
                            b"250 ok\r\n"
                        };
                        if write.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        MailSink {
            url,
            messages,
            _server: server,
        }
    }

    fn received(&self) -> Vec<(Vec<String>, String)> {
        self.messages.lock().expect("lock").clone()
    }
}

/// The senders of a harness whose config has an SMTP server, with a one-second digest window.
fn start_senders_with_smtp(h: &Harness, smtp_url: &str) -> tokio::sync::watch::Sender<bool> {
    let mut state = h.state.clone();
    let mut config = (*state.config).clone();
    config.smtp_url = Some(smtp_url.parse().expect("smtp url"));
    config.mail_from = "alerts@vigil.example".to_string();
    state.config = Arc::new(config);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let options = SenderOptions {
        retry_base: Duration::from_millis(100),
        idle_poll: Duration::from_millis(50),
        digest_window: Duration::from_secs(1),
        ..SenderOptions::default()
    };
    vigil_server::jobs::alerts::spawn_senders(&state, options, stopped);
    stop
}

#[tokio::test]
async fn new_issues_are_emailed_over_smtp_and_a_burst_becomes_a_digest() {
    let h = Harness::new().await;
    let token = writer_token(&h).await;
    let sink = MailSink::start().await;
    let _senders = start_senders_with_smtp(&h, &sink.url);

    // The default rule: a new issue emails the members (the admin).
    ingest(&h, 1, &error_event("FirstError", "the first")).await;
    for _ in 0..250 {
        if !sink.received().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let first = sink.received();
    assert_eq!(first.len(), 1, "{first:?}");
    let (recipients, data) = &first[0];
    assert_eq!(recipients, &vec!["<admin@example.com>".to_string()]);
    assert!(data.contains("From: alerts@vigil.example"), "{data}");
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(
        data.contains("text/plain") && data.contains("text/html"),
        "{data}"
    );
    assert!(data.contains("FirstError"), "{data}");

    // A burst of five more within the digest window: held back, then one digest naming all.
    for n in 2..=6 {
        ingest(&h, n, &error_event(&format!("BurstError{n}"), "boom")).await;
    }
    let notifications = settled_notifications(&h, &token).await;
    assert_eq!(notifications.len(), 6, "{notifications:?}");
    assert!(
        notifications.iter().all(|n| n["status"] == "sent"),
        "{notifications:?}"
    );
    let mails = sink.received();
    assert!(
        (2..=3).contains(&mails.len()),
        "one email, then the burst in one or two digests: {mails:?}"
    );
    let later: String = mails[1..].iter().map(|(_, data)| data.as_str()).collect();
    for n in 2..=6 {
        assert!(
            later.contains(&format!("BurstError{n}")),
            "BurstError{n} missing: {later}"
        );
    }
}

#[tokio::test]
async fn a_spike_posts_once_when_the_count_passes_the_threshold() {
    let h = Harness::new().await;
    let token = writer_token(&h).await;
    let slack = Receiver::start(0).await;
    let (status, body) = h
        .call_as(
            &token,
            "POST",
            rules_path(),
            Some(json!({
                "name": "Spike",
                "frequency": 60,
                "actionMatch": "all",
                "conditions": [{"id": EVENT_FREQUENCY, "value": 3, "interval": "1h"}],
                "filters": [{"id": TAGGED_FILTER, "key": "environment", "match": "eq",
                             "value": "production"}],
                "actions": [{"id": "vigil.actions.SlackWebhookAction", "webhook_url": slack.url}],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let _senders = start_senders(&h);
    // Three events: not more than 3 yet.
    for n in 1..=3 {
        ingest(&h, n, &error_event("TimeoutError", "upstream")).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(slack.received().len(), 0, "{:?}", slack.received());
    // The fourth passes the threshold; later ones are within the rule's frequency.
    for n in 4..=8 {
        ingest(&h, n, &error_event("TimeoutError", "upstream")).await;
    }
    let posts = slack.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(slack.received().len(), 1, "{posts:?}");
    let notifications = settled_notifications(&h, &token).await;
    let spike: Vec<&Value> = notifications
        .iter()
        .filter(|n| n["kind"] == "slack")
        .collect();
    assert_eq!(spike.len(), 1);
    assert_eq!(spike[0]["trigger"], "frequency");
    assert_eq!(spike[0]["eventId"], format!("{:032x}", 4));
}

#[tokio::test]
async fn an_issue_ignored_for_a_while_reappears_with_its_next_event_after_it() {
    let h = Harness::new().await;
    let token = writer_token(&h).await;
    let hook = Receiver::start(0).await;
    let (status, body) = h.call_as(&token,
        "POST",
        rules_path(),
        Some(json!({
            "name": "Back from a snooze",
            "frequency": 5,
            "actionMatch": "all",
            "conditions": [{"id": "sentry.rules.conditions.reappeared_event.ReappearedEventCondition"}],
            "actions": [{"id": "vigil.actions.WebhookAction", "url": hook.url}],
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let _senders = start_senders(&h);
    ingest(&h, 1, &error_event("KeyError", "'sku'")).await;
    let mut issue_id = None;
    for _ in 0..300 {
        let issues = h
            .store
            .search_issues(&vigil_store::IssueQuery {
                organization_id: h.project.organization_id,
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("search");
        if let Some(issue) = issues.first() {
            issue_id = Some(issue.id);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let issue_id = issue_id.expect("the event became an issue");
    let path = format!("/api/0/issues/{issue_id}/");

    let (status, body) = h
        .call_as(
            &token,
            "PUT",
            &path,
            Some(json!({"status": "ignored", "statusDetails": {"ignoreDuration": -1}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // Ignored for 1.2 seconds.
    let (status, body) = h
        .call_as(
            &token,
            "PUT",
            &path,
            Some(json!({"status": "ignored", "statusDetails": {"ignoreDuration": 0.02}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ignored", "{body}");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    ingest(&h, 2, &error_event("KeyError", "'sku'")).await;
    let posts = hook.wait_for(1).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    let (_, issue) = h.get_as(&token, &path).await;
    assert_eq!(issue["status"], "unresolved", "{issue}");
    let notifications = settled_notifications(&h, &token).await;
    let back: Vec<&Value> = notifications
        .iter()
        .filter(|n| n["kind"] == "webhook")
        .collect();
    assert_eq!(back.len(), 1, "{notifications:?}");
    assert_eq!(back[0]["trigger"], "reappeared");
    assert_eq!(back[0]["eventId"], format!("{:032x}", 2));
}
