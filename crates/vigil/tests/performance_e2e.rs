//! Performance monitoring as a user sees it, with the real SDKs: transactions, their spans,
//! traces across processes and the N+1 query issue, read back through the web API that
//! Sentry's tools call (the Discover events API, event by id, the trace endpoint, issues).
//!
//! - a Django view with the N+1 pattern over the ORM (`tests/python/django_app.py --traces`);
//! - a Django view that enqueues a Celery task on a real Redis broker (Debian's `redis-server`,
//!   a throwaway one per test) run by a real worker (`tests/python/celery_worker_app.py`);
//! - a Node service's request through `@sentry/node` 11.12.0 (`tests/node/send_transaction.js`),
//!   which streams spans (a `span` item) rather than sending a transaction.
//!
//! Each runs on SQLite, the default, and once more on a fresh PostgreSQL database of
//! `VIGIL_TEST_DATABASE_URL` (`scripts/test.sh` starts a throwaway cluster), from the same body.
//!
//! `scripts/test.sh` installs what these need: the venv at `.venv` (or `$VIGIL_TEST_PYTHON`),
//! `redis-server`, and `tests/node/node_modules` (`node` from `PATH`, or `$VIGIL_TEST_NODE`).

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::backend::{test_on_both_backends, Backend, Server};
use common::python::{json_lines, python_command, request_django_paths};
use common::{
    entry, free_port, poll, print_log_tail, repo_root, run_with_stdin, Dsn, Vigil, EVENT_TIMEOUT,
};
use serde_json::Value;

/// How long a background process (Redis, the Celery worker) may take to be ready; the worker
/// imports Celery, kombu and the SDK first, on a machine that may be busy compiling.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

const ORDERS_VIEW: &str = "/orders/";
/// Django's name for the route `invoice/<int:order_id>/` (the SDK's default transaction style).
const INVOICE_VIEW: &str = "/invoice/{order_id}/";
const INVOICE_TASK: &str = "shop.tasks.generate_invoice";
const NODE_TRANSACTION: &str = "GET /api/products";

/// Requests `paths` of the Django app with every request traced; asserts each answered 200 and
/// returns the JSON bodies of the views.
fn request_traced_django(dsn: &Dsn, broker: Option<&str>, paths: &[&str]) -> Vec<Value> {
    let mut options = vec!["--traces"];
    if let Some(broker) = broker {
        options.extend(["--broker", broker]);
    }
    let results = request_django_paths(dsn, &options, paths);
    results
        .into_iter()
        .map(|result| {
            assert_eq!(result["status"], 200, "the view failed: {result}");
            result["body"].clone()
        })
        .collect()
}

/// A trace id a view reported (`sentry_sdk.get_current_span().trace_id`).
fn reported_trace_id(body: &Value) -> String {
    let trace_id = body["trace_id"]
        .as_str()
        .unwrap_or_else(|| panic!("the view reported no trace id: {body}"));
    assert!(
        trace_id.len() == 32 && trace_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "the view's trace id is not 32 hex digits: {body}"
    );
    trace_id.to_string()
}

/// A process the test started (Redis, the Celery worker), killed when dropped; its output goes
/// to a log file in its own temp dir, printed when a test fails.
struct Background {
    name: &'static str,
    child: Child,
    log: PathBuf,
    /// Holds the log (and whatever else the process writes) until the process is gone.
    _dir: tempfile::TempDir,
}

impl Background {
    /// Spawns the command `make` builds for a new temp dir, its stdout and stderr going to a log
    /// file there.
    fn spawn(name: &'static str, make: impl FnOnce(&Path) -> Command) -> Background {
        let dir = tempfile::Builder::new()
            .prefix(&format!("vigil-e2e-{name}-"))
            .tempdir()
            .unwrap_or_else(|e| panic!("create a temp dir for {name}: {e}"));
        let mut command = make(dir.path());
        let log = dir.path().join(format!("{name}.log"));
        let stdout = File::create(&log).unwrap_or_else(|e| panic!("create {name}'s log: {e}"));
        let stderr = stdout
            .try_clone()
            .unwrap_or_else(|e| panic!("share {name}'s log for stderr: {e}"));
        let child = command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name} ({command:?}): {e}"));
        Background {
            name,
            child,
            log,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(&self.log) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// `Err` with the log when the process has exited: waiting for it any longer is pointless.
    fn still_running(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "{} exited with {status}:\n{}",
                self.name,
                self.log()
            )),
            Err(e) => Err(format!("poll {}: {e}", self.name)),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            print_log_tail(self.name, &self.log(), 60);
        }
    }
}

/// A throwaway `redis-server` on a free port of 127.0.0.1, persisting nothing.
struct Redis {
    process: Background,
    port: u16,
}

impl Redis {
    fn start() -> Redis {
        // Another process may take the port between the probe and Redis's bind; then Redis
        // exits at once, and a new port is tried.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let port = free_port();
            let process = Background::spawn("redis-server", |dir| {
                let mut command = Command::new("redis-server");
                command
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                    .arg("--dir")
                    .arg(dir);
                command
            });
            let mut redis = Redis { process, port };
            match redis.wait_ready() {
                Ok(()) => return redis,
                Err(reason) if attempts < 3 && reason.contains("in use") => continue,
                Err(reason) => panic!(
                    "redis-server did not start ({reason}); is Debian's redis-server installed? \
                     scripts/test.sh installs it"
                ),
            }
        }
    }

    /// Waits until the server answers PING.
    fn wait_ready(&mut self) -> Result<(), String> {
        let port = self.port;
        let deadline = std::time::Instant::now() + READY_TIMEOUT;
        loop {
            self.process.still_running()?;
            match ping(port) {
                Ok(()) => return Ok(()),
                Err(reason) if std::time::Instant::now() >= deadline => {
                    return Err(format!("no PONG after {READY_TIMEOUT:?}: {reason}"))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

/// One `PING` in Redis's inline protocol.
fn ping(port: u16) -> Result<(), String> {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"PING\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut answer = [0u8; 7];
    stream
        .read_exact(&mut answer)
        .map_err(|e| format!("read: {e}"))?;
    if &answer == b"+PONG\r\n" {
        Ok(())
    } else {
        Err(format!("answered {:?}", String::from_utf8_lossy(&answer)))
    }
}

/// `celery worker` for `celery_worker_app` on `broker`, reporting to `dsn`, once it is ready.
fn start_celery_worker(dsn: &Dsn, broker: &str) -> Background {
    let mut worker = Background::spawn("celery worker", |_| {
        let mut command = python_command();
        command
            .args(["-m", "celery", "-A", "celery_worker_app", "worker"])
            .args(["--pool=solo", "--concurrency=1", "--loglevel=INFO"])
            .env("VIGIL_E2E_DSN", &dsn.raw)
            .env("VIGIL_E2E_BROKER_URL", broker)
            // The log must reach the file as it is written, not when a buffer fills.
            .env("PYTHONUNBUFFERED", "1");
        command
    });
    poll("the Celery worker to be ready", READY_TIMEOUT, || {
        worker.still_running()?;
        let log = worker.log();
        // Celery's own line once it consumes: "celery@<host> ready."
        if log.lines().any(|line| line.trim_end().ends_with(" ready.")) {
            Ok(())
        } else {
            Err(format!("not ready yet; its log so far:\n{log}"))
        }
    });
    worker
}

/// `node tests/node/send_transaction.js DSN`: its `{"trace_id", "span_id", "flushed"}` line.
fn run_node_transaction(dsn: &Dsn) -> Value {
    let node_dir = repo_root().join("tests/node");
    assert!(
        node_dir.join("node_modules/@sentry/node").is_dir(),
        "no @sentry/node in {}: run `bash scripts/test.sh` once (it runs `npm ci` there)",
        node_dir.display()
    );
    let node = std::env::var_os("VIGIL_TEST_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("node"));
    let mut command = Command::new(node);
    command
        .current_dir(&node_dir)
        .arg("send_transaction.js")
        .arg(&dsn.raw);
    let mut lines = json_lines("send_transaction.js", run_with_stdin(command, ""));
    assert_eq!(lines.len(), 1, "send_transaction.js printed {lines:?}");
    let sent = lines.remove(0);
    assert_eq!(sent["flushed"], true, "the SDK did not flush: {sent}");
    sent
}

/// `GET /api/0/organizations/default/events/` for the transactions of one project in the last
/// hour, with `fields` and `query` (after `event.type:transaction`).
fn events_query(vigil: &Vigil, project_id: &str, fields: &[&str], query: &str) -> (u16, Value) {
    let query = format!("event.type:transaction {query}");
    let mut params: Vec<(&str, &str)> = fields.iter().map(|f| ("field", *f)).collect();
    params.extend([
        ("query", query.as_str()),
        ("statsPeriod", "1h"),
        ("project", project_id),
    ]);
    let response = vigil.api_get("/api/0/organizations/default/events/", &params);
    (response.status, response.body)
}

/// The `data` rows of an events answer.
fn rows(body: &Value) -> &[Value] {
    body["data"].as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// Sentry's search syntax for one transaction name (quoted: names have spaces and braces).
fn transaction_filter(name: &str) -> String {
    format!("transaction:\"{name}\"")
}

/// Waits until the events API counts `expected` transactions named `name`, lets the ingest queue
/// drain, and returns the aggregate row (`transaction`, `count()`, `p50()`, `p95()`) as it is
/// then, asserting the count did not go on growing.
fn transaction_aggregate(vigil: &Vigil, project_id: &str, name: &str, expected: u64) -> Value {
    let fields = ["transaction", "count()", "p50()", "p95()"];
    let query = transaction_filter(name);
    let read = || {
        let (status, body) = events_query(vigil, project_id, &fields, &query);
        if status != 200 {
            return Err(format!("answered {status}: {body}"));
        }
        match rows(&body) {
            [row] if row["transaction"] == name => Ok(row.clone()),
            _ => Err(format!("not one row for {name:?}: {body}")),
        }
    };
    poll(
        &format!("{expected} transaction(s) {name:?}"),
        EVENT_TIMEOUT,
        || {
            let row = read()?;
            if row["count()"].as_u64() == Some(expected) {
                Ok(row)
            } else {
                Err(format!("count() is not {expected}: {row}"))
            }
        },
    );
    vigil.settle();
    let row = read().unwrap_or_else(|reason| panic!("events API after settling: {reason}"));
    assert_eq!(
        row["count()"].as_u64(),
        Some(expected),
        "count() of {name:?} after the queue drained: {row}"
    );
    row
}

/// The transactions named `name` one by one (`id`, `trace`, `transaction.duration`, …), once
/// there are `expected` of them.
fn transaction_list(vigil: &Vigil, project_id: &str, name: &str, expected: usize) -> Vec<Value> {
    let fields = [
        "id",
        "trace",
        "transaction",
        "transaction.duration",
        "timestamp",
    ];
    let query = transaction_filter(name);
    poll(
        &format!("{expected} transaction(s) {name:?} listed"),
        EVENT_TIMEOUT,
        || {
            let (status, body) = events_query(vigil, project_id, &fields, &query);
            let listed = rows(&body);
            if status == 200 && listed.len() == expected {
                Ok(listed.to_vec())
            } else {
                Err(format!("answered {status}: {body}"))
            }
        },
    )
}

fn string_field<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string: {value}"))
}

/// A transaction by its event id, as the project event endpoint answers it.
fn transaction_event(vigil: &Vigil, project: &str, event_id: &str) -> Value {
    vigil.api_poll(
        &format!("transaction {event_id} by id"),
        &format!("/api/0/projects/default/{project}/events/{event_id}/"),
        &[],
        |_| true,
    )
}

/// The spans of a transaction event (its `spans` entry).
fn spans(event: &Value) -> Vec<Value> {
    entry(event, "spans")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_else(|| panic!("the transaction has no spans entry: {event}"))
}

/// The trace's root transactions (Sentry's `{"transactions": [...]}`, or a bare list).
fn trace_roots(trace: &Value) -> Vec<Value> {
    trace
        .get("transactions")
        .unwrap_or(trace)
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("the trace has no list of transactions: {trace}"))
}

/// Every transaction of a trace tree, roots and their descendants.
fn trace_transactions(trace: &Value) -> Vec<Value> {
    fn walk(node: &Value, out: &mut Vec<Value>) {
        out.push(node.clone());
        for child in node["children"].as_array().into_iter().flatten() {
            walk(child, out);
        }
    }
    let mut all = Vec::new();
    for root in trace_roots(trace) {
        walk(&root, &mut all);
    }
    all
}

/// An issue id as a string, whether the API gave a string (issues) or a number (trace errors).
fn id_string(value: &Value) -> String {
    match value {
        Value::String(id) => id.clone(),
        Value::Number(id) => id.to_string(),
        other => panic!("not an id: {other}"),
    }
}

test_on_both_backends!(
    django_n_plus_one,
    django_n_plus_one_view_is_a_transaction_with_its_db_spans_and_an_n_plus_one_issue,
    on_postgres_django_n_plus_one_view_is_a_transaction_with_its_db_spans_and_an_issue
);

test_on_both_backends!(
    django_to_celery,
    celery_task_enqueued_by_a_django_view_is_a_child_transaction_on_the_same_trace,
    on_postgres_celery_task_enqueued_by_a_django_view_is_a_child_on_the_same_trace
);

test_on_both_backends!(
    node_transaction,
    node_sdk_streamed_spans_are_a_transaction_with_its_two_child_spans,
    on_postgres_node_sdk_streamed_spans_are_a_transaction_with_its_two_child_spans
);

fn django_n_plus_one(backend: Backend) {
    let Server { vigil, .. } = &Server::start(backend);
    let dsn = vigil.create_project("shop", "python");
    let bodies = request_traced_django(&dsn, None, &[ORDERS_VIEW]);
    assert_eq!(
        bodies[0]["orders"], 15,
        "the view lists 15 orders: {bodies:?}"
    );
    let trace_id = reported_trace_id(&bodies[0]);

    let aggregate = transaction_aggregate(vigil, &dsn.project_id, ORDERS_VIEW, 1);
    assert!(
        aggregate["p95()"].as_f64().is_some_and(|p95| p95 > 0.0),
        "p95() is a duration in ms: {aggregate}"
    );

    let listed = transaction_list(vigil, &dsn.project_id, ORDERS_VIEW, 1);
    assert_eq!(
        listed[0]["trace"], trace_id,
        "the transaction is not the view's trace: {listed:?}"
    );
    let event_id = string_field(&listed[0], "id");
    let event = transaction_event(vigil, "shop", event_id);
    assert_eq!(event["type"], "transaction", "{event}");
    assert_eq!(event["title"], ORDERS_VIEW, "{event}");
    let spans = spans(&event);
    let db_spans: Vec<&Value> = spans
        .iter()
        .filter(|s| s["op"].as_str().is_some_and(|op| op.starts_with("db")))
        .collect();
    assert!(
        db_spans.len() >= 15,
        "the view ran at least 15 queries, {} db spans: {spans:?}",
        db_spans.len()
    );
    let customer_selects = db_spans
        .iter()
        .filter(|s| {
            s["description"]
                .as_str()
                .is_some_and(|d| d.starts_with("SELECT \"shop_customer\""))
        })
        .count();
    assert_eq!(
        customer_selects, 15,
        "one SELECT of a customer per order: {db_spans:?}"
    );

    let n_plus_one = |issue: &Value| issue["issueType"] == "performance_n_plus_one_db_queries";
    vigil.api_poll(
        "the N+1 issue",
        "/api/0/projects/default/shop/issues/",
        &[("query", "")],
        |list| list.as_array().is_some_and(|l| l.iter().any(n_plus_one)),
    );
    vigil.settle();
    let issues = vigil.project_issues("shop", "");
    let found: Vec<&Value> = issues.iter().filter(|i| n_plus_one(i)).collect();
    assert_eq!(found.len(), 1, "one N+1 issue expected: {issues:?}");
    let issue = found[0];
    assert_eq!(issue["title"], "N+1 Query", "{issue}");
    assert_eq!(issue["issueCategory"], "performance", "{issue}");
    assert_eq!(
        issue["culprit"], ORDERS_VIEW,
        "the culprit is the transaction: {issue}"
    );
}

fn django_to_celery(backend: Backend) {
    let Server { vigil, .. } = &Server::start(backend);
    let dsn = vigil.create_project("shop", "python");
    let redis = Redis::start();
    let _worker = start_celery_worker(&dsn, &redis.url());

    let bodies = request_traced_django(
        &dsn,
        Some(&redis.url()),
        &["/invoice/1234/", "/invoice/1235/?fail=1"],
    );
    let succeeding_trace = reported_trace_id(&bodies[0]);
    let failing_trace = reported_trace_id(&bodies[1]);
    assert_ne!(succeeding_trace, failing_trace, "two requests, two traces");

    // The Django transactions, found through the events API's `trace` field.
    let views = transaction_list(vigil, &dsn.project_id, INVOICE_VIEW, 2);
    let mut listed_traces: Vec<&str> = views.iter().map(|v| string_field(v, "trace")).collect();
    listed_traces.sort_unstable();
    let mut reported = [succeeding_trace.as_str(), failing_trace.as_str()];
    reported.sort_unstable();
    assert_eq!(
        listed_traces, reported,
        "the view transactions' traces: {views:?}"
    );
    transaction_aggregate(vigil, &dsn.project_id, INVOICE_TASK, 2);

    for (trace_id, fails) in [(&succeeding_trace, false), (&failing_trace, true)] {
        let view_id = views
            .iter()
            .find(|v| v["trace"] == trace_id.as_str())
            .map(|v| string_field(v, "id").to_string())
            .expect("a view transaction per trace");
        let trace = vigil.api_poll(
            &format!("trace {trace_id} with the view, the task and (failing) its error"),
            &format!("/api/0/organizations/default/events-trace/{trace_id}/"),
            &[],
            |trace| {
                let all = trace_transactions(trace);
                all.len() == 2
                    && all.iter().any(|t| {
                        t["transaction"] == INVOICE_TASK
                            && t["errors"].as_array().map(Vec::len) == Some(usize::from(fails))
                    })
            },
        );
        let roots = trace_roots(&trace);
        assert_eq!(roots.len(), 1, "one root, the view: {trace}");
        let view = &roots[0];
        assert_eq!(view["event_id"], view_id.as_str(), "{trace}");
        assert_eq!(view["transaction"], INVOICE_VIEW, "{trace}");
        assert_eq!(view["transaction.op"], "http.server", "{trace}");
        let children = view["children"]
            .as_array()
            .unwrap_or_else(|| panic!("the view has no children list: {trace}"));
        assert_eq!(children.len(), 1, "the task is the view's child: {trace}");
        let task = &children[0];
        assert_eq!(task["transaction"], INVOICE_TASK, "{trace}");
        assert_eq!(task["transaction.op"], "queue.task.celery", "{trace}");
        assert_eq!(
            task["transaction.status"],
            if fails { "internal_error" } else { "ok" },
            "{trace}"
        );

        // The task's parent is a span of the view: the `.delay()` that enqueued it.
        let view_event = transaction_event(vigil, "shop", &view_id);
        let view_spans = spans(&view_event);
        let parent_span_id = string_field(task, "parent_span_id");
        let parent = view_spans
            .iter()
            .find(|s| s["span_id"] == parent_span_id)
            .unwrap_or_else(|| {
                panic!("the task's parent span {parent_span_id} is not the view's: {view_spans:?}")
            });
        assert!(
            parent["op"]
                .as_str()
                .is_some_and(|op| op.starts_with("queue.")),
            "the parent span enqueued the task: {parent}"
        );
        let task_event = transaction_event(vigil, "shop", string_field(task, "event_id"));
        assert!(
            spans(&task_event).iter().any(|s| s["op"] == "db"
                && s["description"] == "SELECT id, total FROM invoice_line WHERE order_id = ?"),
            "the task's own db span: {task_event}"
        );

        let errors = task["errors"].as_array().cloned().unwrap_or_default();
        if !fails {
            assert!(errors.is_empty(), "the succeeding task had errors: {trace}");
            continue;
        }
        assert_eq!(errors.len(), 1, "the task's error is on the trace: {trace}");
        let error = &errors[0];
        let title = "InvoiceRefused: the tax service refused order 1235";
        assert_eq!(error["title"], title, "{error}");
        let issue_id = id_string(&error["issue_id"]);
        let issue = vigil
            .api_get(&format!("/api/0/issues/{issue_id}/"), &[])
            .ok("GET the task error's issue");
        assert_eq!(issue["title"], title, "{issue}");
        assert_eq!(issue["culprit"], INVOICE_TASK, "{issue}");
        assert_eq!(issue["issueCategory"], "error", "{issue}");
    }
}

fn node_transaction(backend: Backend) {
    let Server { vigil, .. } = &Server::start(backend);
    let dsn = vigil.create_project("storefront", "node");
    let sent = run_node_transaction(&dsn);
    let trace_id = string_field(&sent, "trace_id");
    let root_span_id = string_field(&sent, "span_id");

    let aggregate = transaction_aggregate(vigil, &dsn.project_id, NODE_TRANSACTION, 1);
    let listed = transaction_list(vigil, &dsn.project_id, NODE_TRANSACTION, 1);
    let transaction = &listed[0];
    assert_eq!(transaction["trace"], trace_id, "{transaction}");
    let duration = transaction["transaction.duration"]
        .as_f64()
        .unwrap_or_else(|| panic!("transaction.duration is not a number: {transaction}"));
    let p50 = aggregate["p50()"]
        .as_f64()
        .unwrap_or_else(|| panic!("p50() is not a number: {aggregate}"));
    assert!(
        (p50 - duration).abs() <= 1.0,
        "p50() of one transaction is its duration: {aggregate} vs {transaction}"
    );

    let event = transaction_event(vigil, "storefront", string_field(transaction, "id"));
    assert_eq!(event["type"], "transaction", "{event}");
    assert_eq!(event["title"], NODE_TRANSACTION, "{event}");
    let mut children: Vec<(String, String)> = spans(&event)
        .iter()
        .map(|span| {
            assert_eq!(
                span["parent_span_id"], root_span_id,
                "a child of the request span: {span}"
            );
            (
                span["op"].as_str().unwrap_or_default().to_string(),
                span["description"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    children.sort_unstable();
    assert_eq!(
        children,
        [
            (
                "db".to_string(),
                "SELECT * FROM products WHERE category = $1".to_string()
            ),
            ("function".to_string(), "render product list".to_string()),
        ],
        "the two child spans: {event}"
    );
}
