//! Alerts end to end: the real binary, errors from the real Python `sentry-sdk`, a real SMTP
//! server (`tests/python/smtp_server.py`, aiosmtpd, keeping every message it receives) and real
//! HTTP receivers on 127.0.0.1, with assertions on what arrived:
//!
//! - a new issue emails the organization's member through the project's default rule, with the
//!   title and the permalink; the same error again sends nothing more;
//! - a webhook rule and a Slack rule made through the rules API get Sentry's legacy webhook body
//!   and Slack's `text` + `blocks`; a spike of 20 events makes exactly one Slack post;
//! - a resolved issue seen again fires a regression rule;
//! - a receiver answering 500 twice gets exactly one successful delivery, after the retries;
//! - a server killed with `kill -9` while the mail server is down sends the email after it is
//!   restarted, exactly once;
//! - 60 new issues in a few seconds make a handful of digest emails that name all of them.
//!
//! Python is the venv `scripts/test.sh` makes (`.venv/bin/python`, or `$VIGIL_TEST_PYTHON`)
//! with `tests/python/requirements.txt` (sentry-sdk, aiosmtpd).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::python::{json_lines, python_script};
use common::{free_port, poll, run_with_stdin, vigil_bin, Dsn, Vigil, ADMIN_EMAIL};
use serde_json::{json, Value};

const FIRST_SEEN: &str = "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition";
const REGRESSION: &str = "sentry.rules.conditions.regression_event.RegressionEventCondition";
const FREQUENCY: &str = "sentry.rules.conditions.event_frequency.EventFrequencyCondition";
const WEBHOOK: &str = "vigil.actions.WebhookAction";
const SLACK: &str = "vigil.actions.SlackWebhookAction";

/// How long a notification may take to arrive when nothing makes it wait.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
/// After the outbox is quiet, how long to keep watching that nothing more arrives.
const SETTLE: Duration = Duration::from_secs(3);

/// Reports `events` errors of each of `issues` issues through the SDK (see
/// `tests/python/alert_errors.py`) and waits until `vigil` has stored them; returns the
/// exception types, one per issue.
fn report_errors(
    vigil: &Vigil,
    dsn: &Dsn,
    name: &str,
    issues: usize,
    events: usize,
    tags: &[&str],
) -> Vec<String> {
    let mut command = python_script("alert_errors.py");
    command.arg(&dsn.raw).arg(name).args([
        "--issues",
        &issues.to_string(),
        "--events",
        &events.to_string(),
    ]);
    for tag in tags {
        command.args(["--tag", tag]);
    }
    let mut lines = json_lines("alert_errors.py", run_with_stdin(command, ""));
    assert_eq!(lines.len(), 1, "alert_errors.py printed {lines:?}");
    let line = lines.remove(0);
    let ids = line["event_ids"].as_array().map_or(0, Vec::len);
    assert_eq!(
        ids,
        issues * events,
        "the SDK did not capture every error: {line}"
    );
    vigil.settle();
    line["types"]
        .as_array()
        .expect("types")
        .iter()
        .map(|t| t.as_str().expect("a type name").to_string())
        .collect()
}

/// `tests/python/smtp_server.py`: a real SMTP server keeping each message as a JSON file.
struct SmtpServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
}

impl SmtpServer {
    fn start() -> SmtpServer {
        let mut server = SmtpServer::down();
        server.run();
        server
    }

    /// A port no server listens on yet (the mail server is "down" until [`SmtpServer::run`]).
    fn down() -> SmtpServer {
        SmtpServer {
            child: None,
            dir: tempfile::Builder::new()
                .prefix("vigil-smtp-")
                .tempdir()
                .expect("a temp dir for the mail"),
            port: free_port(),
        }
    }

    /// Starts the server (again) on its port and directory; returns once it accepts mail.
    fn run(&mut self) {
        assert!(self.child.is_none(), "the SMTP server runs already");
        let mut child = python_script("smtp_server.py")
            .args(["--port", &self.port.to_string()])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn smtp_server.py");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read smtp_server.py's first line");
        assert_eq!(
            line.trim(),
            format!("ready {}", self.port),
            "smtp_server.py"
        );
        self.child = Some(child);
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, in order.
    fn messages(&self) -> Vec<Value> {
        messages_in(self.dir.path())
    }

    /// Waits until at least `n` messages arrived; returns them all.
    #[track_caller]
    fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Value> {
        wait_for_at_least(n, "email(s)", timeout, || self.messages())
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls `current` until it holds at least `n` items (`what` names them); returns them all.
#[track_caller]
fn wait_for_at_least<T>(
    n: usize,
    what: &str,
    timeout: Duration,
    current: impl Fn() -> Vec<T>,
) -> Vec<T> {
    poll(&format!("{n} {what}"), timeout, || {
        let got = current();
        if got.len() >= n {
            Ok(got)
        } else {
            Err(format!("{} so far", got.len()))
        }
    })
}

fn messages_in(dir: &Path) -> Vec<Value> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read the mail dir")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).expect("read a message");
            serde_json::from_str(&text).expect("a message is JSON")
        })
        .collect()
}

/// One request a [`Receiver`] got, and what it answered.
#[derive(Debug, Clone)]
struct Received {
    status: u16,
    body: Value,
}

/// An HTTP receiver on 127.0.0.1 recording each POST body; answers 500 to the first
/// `fail_first` requests, 200 after.
struct Receiver {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(fail_first: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a receiver");
        let port = listener.local_addr().expect("receiver address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let log = log.clone();
                std::thread::spawn(move || serve_one(stream, &log, fail_first));
            }
        });
        Receiver { port, received }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    #[track_caller]
    fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        wait_for_at_least(n, "request(s) at the receiver", timeout, || self.received())
    }
}

/// Reads one HTTP/1.1 request (headers, then `Content-Length` bytes), records it, answers and
/// closes the connection.
fn serve_one(mut stream: TcpStream, log: &Mutex<Vec<Received>>, fail_first: usize) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    let end = buffer.len().min(head_end + length);
    let body = serde_json::from_slice(&buffer[head_end..end]).unwrap_or_else(|_| {
        Value::String(String::from_utf8_lossy(&buffer[head_end..end]).into_owned())
    });
    let status = {
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        let status = if log.len() < fail_first { 500 } else { 200 };
        log.push(Received { status, body });
        status
    };
    let (reason, text) = if status == 200 {
        ("OK", "ok")
    } else {
        ("Internal Server Error", "receiver is failing on purpose")
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.flush();
}

/// `vigil serve` with email going to `smtp_url`.
fn serve_with_smtp(smtp_url: &str) -> Vigil {
    Vigil::start_with(&["--smtp-url", smtp_url])
}

/// A rule made through the API; returns its id.
fn create_rule(vigil: &Vigil, body: Value) -> String {
    let response = vigil
        .http()
        .post(vigil.url("/api/0/projects/default/shop/rules/"))
        .bearer_auth(&vigil.token)
        .json(&body)
        .send()
        .expect("POST rules");
    let status = response.status().as_u16();
    let answer: Value = response.json().expect("rule JSON");
    assert_eq!(status, 201, "POST rules answered {status}: {answer}");
    answer["id"].as_str().expect("the rule's id").to_string()
}

fn rule(name: &str, condition: Value, action: Value) -> Value {
    json!({
        "name": name,
        "frequency": 30,
        "actionMatch": "all",
        "filterMatch": "all",
        "conditions": [condition],
        "filters": [],
        "actions": [action],
    })
}

/// A rule action posting Sentry's legacy webhook body to `path` on `receiver`.
fn webhook_to(receiver: &Receiver, path: &str) -> Value {
    json!({"id": WEBHOOK, "url": receiver.url(path)})
}

/// A server whose project `shop` has one rule, `name`, posting to `hook` when the condition
/// `condition_id` (one without options) holds, after the SDK reported one `error` to it;
/// returns the server and the project's DSN.
fn webhook_rule_after_one_error(
    hook: &Receiver,
    name: &str,
    condition_id: &str,
    error: &str,
) -> (Vigil, Dsn) {
    let vigil = Vigil::start();
    let webhook_rule = rule(
        name,
        json!({ "id": condition_id }),
        webhook_to(hook, "/hook"),
    );
    let dsn = shop_with_rules(&vigil, vec![webhook_rule]);
    report_errors(&vigil, &dsn, error, 1, 1, &[]);
    (vigil, dsn)
}

/// Makes project `shop` on `vigil` and each of `rules` through the API; returns the project's
/// DSN. (The project's default rule, emailing the members on a new issue, comes with it.)
fn shop_with_rules(vigil: &Vigil, rules: Vec<Value>) -> Dsn {
    let dsn = vigil.create_project("shop", "python");
    for body in rules {
        create_rule(vigil, body);
    }
    dsn
}

fn notifications(vigil: &Vigil) -> Vec<Value> {
    let body = vigil
        .api_get(
            "/api/0/projects/default/shop/notifications/",
            &[("limit", "500")],
        )
        .ok("GET notifications");
    body.as_array().cloned().unwrap_or_default()
}

/// Waits until no notification of the project is pending (every one sent, failed or
/// undeliverable), then a little longer, so that "nothing more arrived" means something.
#[track_caller]
fn wait_outbox_quiet(vigil: &Vigil, timeout: Duration) -> Vec<Value> {
    poll("the outbox to be quiet", timeout, || {
        let all = notifications(vigil);
        let pending: Vec<&Value> = all.iter().filter(|n| n["status"] == "pending").collect();
        if pending.is_empty() {
            Ok(())
        } else {
            Err(format!("{} pending: {:?}", pending.len(), pending))
        }
    });
    std::thread::sleep(SETTLE);
    notifications(vigil)
}

/// The project's only issue: `(id, title)`.
fn only_issue(vigil: &Vigil) -> (String, String) {
    let issues = vigil.project_issues("shop", "");
    assert_eq!(issues.len(), 1, "{issues:?}");
    (
        issues[0]["id"].as_str().expect("issue id").to_string(),
        issues[0]["title"]
            .as_str()
            .expect("issue title")
            .to_string(),
    )
}

fn permalink(vigil: &Vigil, issue_id: &str) -> String {
    format!(
        "{}/organizations/default/issues/{issue_id}/",
        vigil.base_url
    )
}

#[test]
fn a_new_issue_emails_the_member_with_the_permalink_and_a_repeat_sends_nothing() {
    let smtp = SmtpServer::start();
    let vigil = serve_with_smtp(&smtp.url());
    let dsn = vigil.create_project("shop", "python");
    report_errors(&vigil, &dsn, "PaymentDeclined", 1, 1, &[]);
    let (issue_id, title) = only_issue(&vigil);
    assert!(title.starts_with("PaymentDeclined"), "{title}");

    let mails = smtp.wait_for(1, DELIVERY_TIMEOUT);
    let mail = &mails[0];
    assert_eq!(mail["rcpt_tos"], json!([ADMIN_EMAIL]), "{mail}");
    let link = permalink(&vigil, &issue_id);
    let text = mail["text"].as_str().expect("a text part");
    let html = mail["html"].as_str().expect("an HTML part");
    assert!(text.contains(&link), "no permalink {link} in:\n{text}");
    assert!(text.contains(&title), "no title {title} in:\n{text}");
    assert!(
        html.contains(&link),
        "no permalink in the HTML part:\n{html}"
    );
    assert!(
        mail["subject"]
            .as_str()
            .is_some_and(|s| s.contains("PaymentDeclined")),
        "{}",
        mail["subject"]
    );

    // The same error again: the issue is not new, and nobody is told twice.
    report_errors(&vigil, &dsn, "PaymentDeclined", 1, 1, &[]);
    assert_eq!(only_issue(&vigil).0, issue_id);
    let outbox = wait_outbox_quiet(&vigil, DELIVERY_TIMEOUT);
    assert_eq!(smtp.messages().len(), 1, "outbox: {outbox:?}");
    let emails: Vec<&Value> = outbox.iter().filter(|n| n["kind"] == "email").collect();
    assert_eq!(emails.len(), 1, "{outbox:?}");
    assert_eq!(emails[0]["status"], "sent", "{outbox:?}");

    // The issue's activity records the alert sent.
    let activity = vigil
        .api_get(&format!("/api/0/issues/{issue_id}/activities/"), &[])
        .ok("GET activities");
    let entries = activity["activity"]
        .as_array()
        .or(activity.as_array())
        .cloned()
        .unwrap_or_default();
    // The alert sent, once, and Sentry's synthetic first_seen entry.
    let kinds: Vec<&str> = entries.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds, ["notification", "first_seen"], "{activity}");
}

#[test]
fn webhook_and_slack_rules_get_their_bodies_and_a_spike_posts_to_slack_once() {
    let hook = Receiver::start(0);
    let slack = Receiver::start(0);
    let vigil = Vigil::start();
    let dsn = shop_with_rules(
        &vigil,
        vec![
            rule(
                "Webhook on new issues",
                json!({"id": FIRST_SEEN}),
                webhook_to(&hook, "/sentry"),
            ),
            rule(
                "Slack on spikes",
                json!({"id": FREQUENCY, "value": 5, "interval": "1m", "comparisonType": "count"}),
                json!({"id": SLACK, "webhook_url": slack.url("/services/T0/B0/x")}),
            ),
        ],
    );

    // 20 events of one issue within seconds: a new issue, then a spike.
    report_errors(&vigil, &dsn, "CheckoutTimeout", 1, 20, &["flow=checkout"]);
    let (issue_id, title) = only_issue(&vigil);
    let link = permalink(&vigil, &issue_id);

    hook.wait_for(1, DELIVERY_TIMEOUT);
    slack.wait_for(1, DELIVERY_TIMEOUT);
    let outbox = wait_outbox_quiet(&vigil, DELIVERY_TIMEOUT);
    let hooks = hook.received();
    let posts = slack.received();
    assert_eq!(
        hooks.len(),
        1,
        "webhook posts: {hooks:?}\noutbox: {outbox:?}"
    );
    assert_eq!(posts.len(), 1, "Slack posts: {posts:?}\noutbox: {outbox:?}");

    // Sentry's legacy webhook body.
    let body = &hooks[0].body;
    for field in [
        "id",
        "project",
        "project_name",
        "project_slug",
        "level",
        "culprit",
        "message",
        "url",
        "triggering_rules",
        "event",
    ] {
        assert!(
            body.get(field).is_some(),
            "no {field} in the webhook body: {body}"
        );
    }
    let id = match &body["id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    assert_eq!(id, issue_id, "{body}");
    assert_eq!(body["url"], link, "{body}");
    assert_eq!(body["project_slug"], "shop", "{body}");
    assert_eq!(body["level"], "error", "{body}");
    assert_eq!(
        body["triggering_rules"],
        json!(["Webhook on new issues"]),
        "{body}"
    );
    assert!(body["event"].is_object(), "{body}");
    assert!(
        body["event"].to_string().contains("CheckoutTimeout"),
        "{body}"
    );

    // Slack's incoming-webhook message: a fallback text and blocks naming the issue.
    let message = &posts[0].body;
    let text = message["text"].as_str().expect("Slack text");
    assert!(!text.is_empty());
    let blocks = message["blocks"].as_array().expect("Slack blocks");
    assert!(!blocks.is_empty());
    let blocks_text = message["blocks"].to_string();
    assert!(blocks_text.contains(&link), "{message}");
    assert!(blocks_text.contains("CheckoutTimeout"), "{message}");
    assert!(blocks_text.contains("shop"), "{message}");
    assert!(title.starts_with("CheckoutTimeout"));
}

#[test]
fn a_resolved_issue_seen_again_fires_the_regression_rule() {
    let hook = Receiver::start(0);
    let (vigil, dsn) = webhook_rule_after_one_error(&hook, "Regressions", REGRESSION, "StaleCache");
    let (issue_id, _) = only_issue(&vigil);
    wait_outbox_quiet(&vigil, DELIVERY_TIMEOUT);
    assert!(hook.received().is_empty(), "a new issue is no regression");

    let resolved = vigil
        .api_put(
            &format!("/api/0/issues/{issue_id}/"),
            &json!({"status": "resolved"}),
        )
        .ok("resolve the issue");
    assert_eq!(resolved["status"], "resolved", "{resolved}");
    report_errors(&vigil, &dsn, "StaleCache", 1, 1, &[]);
    let posts = hook.wait_for(1, DELIVERY_TIMEOUT);
    wait_outbox_quiet(&vigil, DELIVERY_TIMEOUT);
    assert_eq!(hook.received().len(), 1, "{posts:?}");
    let body = &posts[0].body;
    assert_eq!(body["triggering_rules"], json!(["Regressions"]), "{body}");
    assert_eq!(body["url"], permalink(&vigil, &issue_id), "{body}");
    let issue = vigil
        .api_get(&format!("/api/0/issues/{issue_id}/"), &[])
        .ok("GET issue");
    assert_eq!(issue["status"], "unresolved", "{issue}");
}

#[test]
fn a_receiver_failing_twice_gets_exactly_one_delivery() {
    let hook = Receiver::start(2);
    let (vigil, _dsn) =
        webhook_rule_after_one_error(&hook, "Flaky receiver", FIRST_SEEN, "LedgerMismatch");
    // The server's backoff: 10 s after the first failure, 20 s after the second.
    let started = Instant::now();
    let got = hook.wait_for(3, Duration::from_secs(120));
    let outbox = wait_outbox_quiet(&vigil, DELIVERY_TIMEOUT);
    let got_after = hook.received();
    assert_eq!(got_after.len(), 3, "{got_after:?}");
    let statuses: Vec<u16> = got.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![500, 500, 200]);
    // The three attempts carried the same body.
    assert_eq!(got[0].body, got[2].body);
    let webhooks: Vec<&Value> = outbox.iter().filter(|n| n["kind"] == "webhook").collect();
    assert_eq!(webhooks.len(), 1, "{outbox:?}");
    assert_eq!(webhooks[0]["status"], "sent", "{outbox:?}");
    assert!(
        webhooks[0]["attempts"].as_u64().is_some_and(|a| a >= 2),
        "{outbox:?}"
    );
    eprintln!(
        "three attempts took {:.1} s with the server's retry backoff",
        started.elapsed().as_secs_f64()
    );
}

/// `vigil serve` started by this test on a data dir and port a [`Vigil`] used before (its
/// `restart` takes no flags, and this one needs `--smtp-url`); killed when dropped.
struct Restarted(Child);

impl Drop for Restarted {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn restart_with_smtp(vigil: &Vigil, smtp_url: &str) -> Restarted {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(vigil.data_dir().join("serve.stderr.log"))
        .expect("the server's log");
    let mut command = Command::new(vigil_bin());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("VIGIL_") {
            command.env_remove(name);
        }
    }
    let child = command
        .arg("serve")
        .arg("--bind")
        .arg(format!("127.0.0.1:{}", vigil.port))
        .arg("--data-dir")
        .arg(vigil.data_dir())
        .arg("--public-url")
        .arg(&vigil.base_url)
        .args(["--smtp-url", smtp_url])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log for stdout"))
        .stderr(log)
        .spawn()
        .expect("spawn `vigil serve` again");
    let restarted = Restarted(child);
    poll(
        "the restarted server to be healthy",
        Duration::from_secs(30),
        || match vigil.http().get(vigil.url("/_health")).send() {
            Ok(response) if response.status() == 200 => Ok(()),
            Ok(response) => Err(format!("/_health answered {}", response.status())),
            Err(e) => Err(e.to_string()),
        },
    );
    restarted
}

#[test]
fn a_server_killed_while_the_mail_server_is_down_sends_the_email_after_restart() {
    let mut smtp = SmtpServer::down();
    let mut vigil = serve_with_smtp(&smtp.url());
    let dsn = vigil.create_project("shop", "python");
    report_errors(&vigil, &dsn, "WarehouseOffline", 1, 1, &[]);
    let (issue_id, _) = only_issue(&vigil);

    // The first attempt fails (nothing listens) and is recorded with its error.
    let failed = poll("a failed email attempt", DELIVERY_TIMEOUT, || {
        let outbox = notifications(&vigil);
        outbox
            .iter()
            .find(|n| {
                n["kind"] == "email"
                    && n["attempts"].as_u64().is_some_and(|a| a >= 1)
                    && n["lastError"].as_str().is_some_and(|e| !e.is_empty())
            })
            .cloned()
            .ok_or_else(|| format!("{outbox:?}"))
    });
    assert_eq!(failed["status"], "pending", "{failed}");
    vigil.kill9();

    smtp.run();
    let _server = restart_with_smtp(&vigil, &smtp.url());
    // The retry is due 10 s after the failure (the server's base backoff).
    let mails = smtp.wait_for(1, Duration::from_secs(90));
    let outbox = wait_outbox_quiet(&vigil, DELIVERY_TIMEOUT);
    assert_eq!(smtp.messages().len(), 1, "{mails:?}\n{outbox:?}");
    assert_eq!(mails[0]["rcpt_tos"], json!([ADMIN_EMAIL]));
    let text = mails[0]["text"].as_str().expect("text part");
    assert!(text.contains(&permalink(&vigil, &issue_id)), "{text}");
    let emails: Vec<&Value> = outbox.iter().filter(|n| n["kind"] == "email").collect();
    assert_eq!(emails.len(), 1, "{outbox:?}");
    assert_eq!(emails[0]["status"], "sent", "{outbox:?}");
}

#[test]
fn sixty_new_issues_make_a_handful_of_digest_emails_naming_all_of_them() {
    let smtp = SmtpServer::start();
    let vigil = serve_with_smtp(&smtp.url());
    let dsn = vigil.create_project("shop", "python");
    let started = Instant::now();
    let types = report_errors(&vigil, &dsn, "InventoryGlitch", 60, 1, &[]);
    assert_eq!(types.len(), 60);
    let sent_in = started.elapsed();
    assert_eq!(vigil.project_issues("shop", "").len(), 60);

    // The first goes out at once; the rest of the burst waits for the rule's minute.
    let everything = poll(
        "emails naming all 60 issues",
        Duration::from_secs(150),
        || {
            let mails = smtp.messages();
            let all_text: String = mails
                .iter()
                .map(|m| format!("{}\n{}", m["subject"], m["text"]))
                .collect();
            let missing: Vec<&String> = types.iter().filter(|t| !all_text.contains(*t)).collect();
            if missing.is_empty() {
                Ok(mails)
            } else {
                Err(format!(
                    "{} emails so far; {} issues not named yet",
                    mails.len(),
                    missing.len()
                ))
            }
        },
    );
    let outbox = wait_outbox_quiet(&vigil, DELIVERY_TIMEOUT);
    let mails = smtp.messages();
    assert!(
        mails.len() <= 10,
        "{} emails for one burst of 60 new issues (sent in {sent_in:?})",
        mails.len()
    );
    assert_eq!(
        mails.len(),
        everything.len(),
        "more mail after all were named"
    );
    for mail in &mails {
        assert_eq!(mail["rcpt_tos"], json!([ADMIN_EMAIL]), "{mail}");
    }
    let emails: Vec<&Value> = outbox.iter().filter(|n| n["kind"] == "email").collect();
    assert_eq!(emails.len(), 60, "one notification per issue");
    assert!(emails.iter().all(|n| n["status"] == "sent"), "{outbox:?}");
    eprintln!(
        "60 new issues (sent in {sent_in:?}) → {} emails in {:.0} s",
        mails.len(),
        started.elapsed().as_secs_f64()
    );
}
