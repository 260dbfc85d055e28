//! Sentry's own MCP server (npm `@sentry/mcp-server`, pinned in `tests/node/package.json`),
//! what coding agents use to read Sentry, driven over stdio against the real binary as an agent
//! drives it: find the organization and project, search issues, open an issue by short id and
//! by URL, list its events, read tag values, add a note and read it back in the activity,
//! assign and resolve issues, search the errors dataset, read a trace, an attachment and a
//! user's report. The MCP server checks
//! every answer
//! against Sentry's schemas, so a shape Vigil gets wrong comes back as a tool error; each
//! answer is also checked for what it must say (titles, counts, users, event ids, values), and
//! every change is checked through Vigil's own API.
//!
//! The errors come from the real Python SDK (`tests/python/mcp_events.py`). Needs `node` (or
//! `$VIGIL_TEST_NODE`) and `tests/node/node_modules` (`npm ci` there; `scripts/test.sh` does
//! it). On SQLite and on PostgreSQL, one server and one MCP server per backend.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use common::backend::{test_on_both_backends, Backend, Server};
use common::python::run_python;
use common::{repo_root, Vigil};
use serde_json::{json, Value};

/// How long one tool call may take (the MCP server makes a few API calls per tool).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The MCP server as a child process speaking JSON-RPC 2.0, one message per line.
struct McpServer {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    next_id: u64,
}

/// What a `tools/call` answered: the text of its content, and whether it was a tool error.
struct ToolAnswer {
    text: String,
    is_error: bool,
}

impl McpServer {
    fn start(vigil: &Vigil) -> McpServer {
        let node_dir = repo_root().join("tests/node");
        let entry = node_dir.join("node_modules/@sentry/mcp-server/dist/index.js");
        assert!(
            entry.is_file(),
            "no @sentry/mcp-server in {}: run `bash scripts/test.sh` once (it runs `npm ci` there)",
            node_dir.display()
        );
        let node = std::env::var_os("VIGIL_TEST_NODE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("node"));
        let mut child = Command::new(node)
            .current_dir(&node_dir)
            .arg(&entry)
            .arg(format!("--access-token={}", vigil.token))
            .arg(format!("--host=127.0.0.1:{}", vigil.port))
            .arg("--insecure-http")
            .arg("--all-skills")
            // No AI provider: search tools take Sentry's query syntax as it is.
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("OPENROUTER_API_KEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the MCP server with node");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = McpServer {
            child,
            stdin,
            lines,
            next_id: 0,
        };
        let init = server.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "vigil-mcp-e2e", "version": "1"}}),
        );
        assert_eq!(init["result"]["serverInfo"]["name"], "Sentry MCP", "{init}");
        server.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        server
    }

    fn send(&mut self, message: Value) {
        writeln!(self.stdin, "{message}").expect("write to the MCP server");
        self.stdin.flush().expect("flush to the MCP server");
    }

    /// Sends a request and waits for the answer with its id (notifications in between are
    /// passed over).
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let line = self.lines.recv_timeout(CALL_TIMEOUT).unwrap_or_else(|_| {
                panic!("no answer to {method} {params} within {CALL_TIMEOUT:?}")
            });
            let Ok(message) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if message["id"] == id {
                return message;
            }
        }
    }

    /// Calls a tool; the ones behind `--all-skills`' catalogue go through `execute_sentry_tool`,
    /// as an agent reaches them.
    fn call(&mut self, tool: &str, arguments: Value) -> ToolAnswer {
        let top_level = [
            "find_organizations",
            "find_projects",
            "search_issues",
            "search_events",
            "update_issue",
            "get_sentry_resource",
        ];
        let (name, arguments) = if top_level.contains(&tool) {
            (tool, arguments)
        } else {
            (
                "execute_sentry_tool",
                json!({"name": tool, "arguments": arguments}),
            )
        };
        let answer = self.request("tools/call", json!({"name": name, "arguments": arguments}));
        let result = &answer["result"];
        assert!(result.is_object(), "{tool}: not a tool result: {answer}");
        let text = result["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n");
        ToolAnswer {
            text,
            is_error: result["isError"] == true,
        }
    }

    /// Calls a tool that must succeed; returns its text.
    #[track_caller]
    fn ok(&mut self, tool: &str, arguments: Value) -> String {
        let answer = self.call(tool, arguments.clone());
        assert!(
            !answer.is_error,
            "{tool} {arguments} answered a tool error:\n{}",
            answer.text
        );
        answer.text
    }
}

impl Drop for McpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[track_caller]
fn assert_says(text: &str, what: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{what} lacks {needle:?}:\n{text}");
    }
}

/// The project's issues through Vigil's API: `(title, id, shortId)`.
fn issues(vigil: &Vigil) -> Vec<(String, String, String)> {
    vigil
        .project_issues("shop", "")
        .iter()
        .map(|i| {
            let field = |k: &str| i[k].as_str().unwrap_or_default().to_owned();
            (field("title"), field("id"), field("shortId"))
        })
        .collect()
}

fn an_agent_reads_and_triages_issues_through_the_mcp_server(backend: Backend) {
    let server = Server::start(backend);
    let vigil = &server.vigil;
    let dsn = vigil.create_project("shop", "python");
    let sent = run_python("mcp_events.py", &[&dsn.raw]);
    let event_ids: Vec<String> = sent[0]["event_ids"]
        .as_array()
        .expect("event ids")
        .iter()
        .map(|id| id.as_str().expect("an id").to_owned())
        .collect();
    vigil.settle();
    let issues = issues(vigil);
    let find = |title: &str| {
        issues
            .iter()
            .find(|(t, _, _)| t == title)
            .cloned()
            .unwrap_or_else(|| panic!("no issue {title:?} in {issues:?}"))
    };
    let (title, issue_id, short_id) = find("ZeroDivisionError: division by zero");
    let (_, _, message_short_id) = find("payment gateway timeout");
    let mut mcp = McpServer::start(vigil);

    let orgs = mcp.ok("find_organizations", json!({}));
    assert_says(
        &orgs,
        "find_organizations",
        &["\"default\"", &vigil.base_url],
    );
    let projects = mcp.ok("find_projects", json!({"organizationSlug": "default"}));
    assert_says(&projects, "find_projects", &["\"shop\""]);

    let found = mcp.ok(
        "search_issues",
        json!({"organizationSlug": "default", "query": "is:unresolved"}),
    );
    assert_says(
        &found,
        "search_issues",
        &[
            "Found **2** issues",
            &format!("[{short_id}]"),
            &format!("[{message_short_id}]"),
            &title,
            "**Events**: 3",
            "**Users**: 2",
        ],
    );

    // The issue by short id, as agents pass it, and by the URL a person pastes.
    let details = mcp.ok(
        "get_issue_details",
        json!({"organizationSlug": "default", "issueId": short_id}),
    );
    assert_says(
        &details,
        "get_issue_details",
        &[
            &format!("# Issue {short_id} in **default**"),
            &title,
            "**Occurrences**: 3",
            "**Users Impacted**: 2",
            "**Status**: unresolved",
            "in checkout",
            "total: \"0\"",
            "**release**: shop@1.4.2",
            "**environment**: production",
        ],
    );
    let by_url = mcp.ok(
        "get_issue_details",
        json!({"issueUrl": format!("{}/organizations/default/issues/{issue_id}/", vigil.base_url)}),
    );
    assert_says(
        &by_url,
        "get_issue_details by URL",
        &[&format!("# Issue {short_id} in **default**"), &title],
    );

    let events = mcp.ok(
        "search_issue_events",
        json!({"organizationSlug": "default", "issueId": short_id}),
    );
    let error_ids: Vec<&str> = event_ids[..3].iter().map(String::as_str).collect();
    assert_says(&events, "search_issue_events", &error_ids);
    assert!(
        !events.contains(&event_ids[3]),
        "the message's event is not one of the issue's:\n{events}"
    );

    let tag = mcp.ok(
        "get_issue_tag_values",
        json!({"organizationSlug": "default", "issueId": short_id, "tagKey": "payment.provider"}),
    );
    let tag: Value = serde_json::from_str(&tag).expect("get_issue_tag_values answers JSON");
    assert_eq!(tag["tag"]["key"], "payment.provider", "{tag}");
    let values: Vec<(String, u64)> = tag["tag"]["topValues"]
        .as_array()
        .expect("top values")
        .iter()
        .map(|v| {
            (
                v["value"].as_str().unwrap_or_default().to_owned(),
                v["count"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(values, [("stripe".to_owned(), 2), ("adyen".to_owned(), 1)]);
    let missing = mcp.call(
        "get_issue_tag_values",
        json!({"organizationSlug": "default", "issueId": short_id, "tagKey": "no.such.tag"}),
    );
    assert!(
        missing.is_error,
        "a tag the issue never had: {}",
        missing.text
    );

    // A note, read back in the issue's activity; the issue assigned to the agent's user, found
    // by `assigned:me`.
    let note = mcp.ok(
        "add_issue_note",
        json!({"organizationSlug": "default", "issueId": short_id,
               "text": "Cart totals of **0** reach checkout: guard in `checkout()`"}),
    );
    assert_says(
        &note,
        "add_issue_note",
        &["**Type**: note", "guard in `checkout()`"],
    );
    let activity = mcp.ok(
        "get_issue_activity",
        json!({"organizationSlug": "default", "issueId": short_id, "includeComments": true}),
    );
    assert_says(
        &activity,
        "get_issue_activity",
        &[
            "note by admin@example.com",
            "Cart totals of **0**",
            "first_seen",
        ],
    );
    let assigned = mcp.ok(
        "update_issue",
        json!({"organizationSlug": "default", "issueId": short_id, "assignedTo": "me"}),
    );
    assert_says(
        &assigned,
        "update_issue assignedTo",
        &["**Assigned To**: admin@example.com"],
    );
    let mine = mcp.ok(
        "search_issues",
        json!({"organizationSlug": "default", "query": "assigned:me"}),
    );
    assert_says(
        &mine,
        "search_issues assigned:me",
        &["Found **1** issue", &format!("[{short_id}]")],
    );
    let issue = vigil
        .api_get(&format!("/api/0/issues/{issue_id}/"), &[])
        .ok("GET the assigned issue");
    assert_eq!(issue["assignedTo"]["email"], "admin@example.com", "{issue}");

    // The errors dataset, aggregated by issue as an agent asks it.
    let counted = mcp.ok(
        "search_events",
        json!({"organizationSlug": "default", "dataset": "errors", "query": "level:error",
               "fields": ["title", "issue", "count()"], "sort": "-count()"}),
    );
    assert_says(
        &counted,
        "search_events errors",
        &[
            "Found 1 aggregate result",
            &format!("\"issue\": \"{short_id}\""),
            "\"count()\": 3",
        ],
    );
    // The trace of the checkout: its transaction and its three errors.
    let trace_id = sent[0]["trace_id"].as_str().expect("trace id");
    let trace = mcp.ok(
        "get_trace_details",
        json!({"organizationSlug": "default", "traceId": trace_id}),
    );
    assert_says(
        &trace,
        "get_trace_details",
        &[
            &format!("# Trace `{trace_id}`"),
            "**Errors**: 3",
            "POST /checkout",
            "http.server",
        ],
    );

    // The file the SDK attached to the third error, listed and read; the user's report on it.
    let listed = mcp.ok(
        "get_event_attachment",
        json!({"organizationSlug": "default", "projectSlug": "shop", "eventId": event_ids[2]}),
    );
    assert_says(
        &listed,
        "get_event_attachment (list)",
        &["cart.csv", "text/csv"],
    );
    let attachments = vigil
        .api_get(
            &format!(
                "/api/0/projects/default/shop/events/{}/attachments/",
                event_ids[2]
            ),
            &[],
        )
        .ok("GET attachments");
    let attachment_id = attachments[0]["id"]
        .as_str()
        .expect("attachment id")
        .to_owned();
    let read = mcp.call(
        "get_event_attachment",
        json!({"organizationSlug": "default", "projectSlug": "shop", "eventId": event_ids[2],
               "attachmentId": attachment_id}),
    );
    assert!(!read.is_error, "get_event_attachment: {}", read.text);
    assert_says(&read.text, "get_event_attachment", &["cart.csv"]);
    let reports = mcp.ok(
        "get_issue_user_reports",
        json!({"organizationSlug": "default", "issueId": short_id}),
    );
    assert_says(
        &reports,
        "get_issue_user_reports",
        &["by Jane", "Checkout said my cart was empty"],
    );
    let listed = vigil
        .api_get(&format!("/api/0/issues/{issue_id}/user-reports/"), &[])
        .ok("GET user reports");
    assert_eq!(listed[0]["email"], "jane@example.com", "{listed}");
    assert_eq!(listed[0]["eventID"], event_ids[2].as_str(), "{listed}");

    // Resolving through the MCP server resolves the issue in Vigil.
    let resolved = mcp.ok(
        "update_issue",
        json!({"organizationSlug": "default", "issueId": message_short_id, "status": "resolved"}),
    );
    assert_says(&resolved, "update_issue", &["**Status**: resolved"]);
    let (_, message_id, _) = find("payment gateway timeout");
    let issue = vigil
        .api_get(&format!("/api/0/issues/{message_id}/"), &[])
        .ok("GET the resolved issue");
    assert_eq!(issue["status"], "resolved", "{issue}");
}

test_on_both_backends!(
    an_agent_reads_and_triages_issues_through_the_mcp_server,
    mcp_server_works_against_sqlite,
    mcp_server_works_against_postgres
);
