//! Replays every request that real SDKs made (`shared/fixtures/sdk-payloads/`) against the real
//! binary, as the SDK sent it: same method, path, query, headers in order and spelling, body
//! bytes and framing (chunked where `@sentry/node` sent chunked). Only what names the capture's
//! project is rewritten to the test's project: the project id in the path, the key in the query
//! string, `X-Sentry-Auth` and the envelope header (`dsn`, `trace.public_key`), the `Host`, and
//! sentry-cli's fake token. Then every error and message event in them must be readable by id.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::raw_http::{self, RawRequest};
use common::{normalize_event_id, Dsn, Vigil, EVENT_TIMEOUT};
use serde_json::Value;

/// The capture's DSN: `http://0123456789abcdef0123456789abcdef@127.0.0.1:<port>/42`.
const CAPTURE_KEY: &str = "0123456789abcdef0123456789abcdef";
const CAPTURE_PROJECT_PATH: &str = "/api/42/";

/// Fixture requests (`scenario/request-folder`) that the server does not answer with success
/// yet, and why. Shrink this list as the server grows; the test prints the ones that now pass.
/// A request listed here is still sent (later requests may depend on it), its answer is not
/// asserted, and its events are not looked up.
const EXPECTED_FAILURES: &[(&str, &str)] = &[
    // Empty: every request is handled. An entry looks like
    // ("sentry-cli-releases/004-get-api-0-projects-default-shop-releases", "why it fails"),
];

/// One request the SDK made, as `request.json` and `body.bin` hold it.
struct FixtureRequest {
    /// `scenario/request-folder`.
    id: String,
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl FixtureRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn is_ingest(&self) -> bool {
        self.path.starts_with(CAPTURE_PROJECT_PATH)
    }

    fn is_web_api(&self) -> bool {
        self.path.starts_with("/api/0/")
    }

    fn expected_failure(&self) -> Option<&'static str> {
        EXPECTED_FAILURES
            .iter()
            .find(|(id, _)| *id == self.id)
            .map(|(_, reason)| *reason)
    }

    /// The body with `Content-Encoding` undone.
    fn decoded_body(&self) -> Vec<u8> {
        decode(&self.body, self.header("content-encoding"), &self.id)
    }
}

fn fixtures_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/sdk-payloads");
    assert!(
        dir.is_dir(),
        "no SDK fixtures at {} (shared/ must sit beside the repository)",
        dir.display()
    );
    dir
}

/// Every request of every scenario, scenarios by name and requests in the order they arrived.
fn load_fixtures() -> Vec<FixtureRequest> {
    let root = fixtures_dir();
    let mut requests = Vec::new();
    for scenario in sorted_dirs(&root) {
        for request_dir in sorted_dirs(&scenario) {
            let id = format!(
                "{}/{}",
                scenario
                    .file_name()
                    .expect("scenario dir has a name")
                    .to_string_lossy(),
                request_dir
                    .file_name()
                    .expect("request dir has a name")
                    .to_string_lossy()
            );
            let json_path = request_dir.join("request.json");
            let text = std::fs::read_to_string(&json_path)
                .unwrap_or_else(|e| panic!("read {}: {e}", json_path.display()));
            let json: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("parse {}: {e}", json_path.display()));
            let field = |name: &str| {
                json[name]
                    .as_str()
                    .unwrap_or_else(|| panic!("{}: no string {name:?}", json_path.display()))
                    .to_string()
            };
            let headers = json["headers"]
                .as_array()
                .unwrap_or_else(|| panic!("{}: no headers list", json_path.display()))
                .iter()
                .map(|pair| {
                    let text = |i: usize| {
                        pair[i].as_str().unwrap_or_else(|| {
                            panic!(
                                "{}: header {pair} is not [name, value]",
                                json_path.display()
                            )
                        })
                    };
                    (text(0).to_string(), text(1).to_string())
                })
                .collect();
            let body_path = request_dir.join("body.bin");
            let body = if body_path.exists() {
                std::fs::read(&body_path)
                    .unwrap_or_else(|e| panic!("read {}: {e}", body_path.display()))
            } else {
                Vec::new()
            };
            requests.push(FixtureRequest {
                id,
                method: field("method"),
                path: field("path"),
                query: field("query"),
                headers,
                body,
            });
        }
    }
    assert!(
        requests.len() > 50,
        "only {} fixture requests found: incomplete copy?",
        requests.len()
    );
    requests
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .map(|entry| entry.expect("read a directory entry").path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn decode(body: &[u8], encoding: Option<&str>, id: &str) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match encoding.map(str::to_ascii_lowercase).as_deref() {
        None | Some("identity") => return body.to_vec(),
        Some("gzip") => flate2::read::GzDecoder::new(body).read_to_end(&mut out),
        // What raven calls deflate is zlib-wrapped, as HTTP's `deflate` is.
        Some("deflate") => flate2::read::ZlibDecoder::new(body).read_to_end(&mut out),
        Some(other) => panic!("{id}: the replay does not know Content-Encoding {other:?}"),
    }
    .unwrap_or_else(|e| panic!("{id}: undo Content-Encoding {encoding:?}: {e}"));
    out
}

fn encode(body: &[u8], encoding: Option<&str>, id: &str) -> Vec<u8> {
    let level = flate2::Compression::default();
    let written = match encoding.map(str::to_ascii_lowercase).as_deref() {
        None | Some("identity") => return body.to_vec(),
        Some("gzip") => {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
            encoder.write_all(body).and_then(|()| encoder.finish())
        }
        Some("deflate") => {
            let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), level);
            encoder.write_all(body).and_then(|()| encoder.finish())
        }
        Some(other) => panic!("{id}: the replay does not know Content-Encoding {other:?}"),
    };
    written.unwrap_or_else(|e| panic!("{id}: redo Content-Encoding {encoding:?}: {e}"))
}

/// The project a replay sends to.
struct Target<'a> {
    dsn: &'a Dsn,
    /// For sentry-cli's web API calls, in place of the fake token they were captured with.
    token: &'a str,
}

/// The request as it goes to the test's server. The body is rewritten only when the envelope
/// header names the capture's key (a tunnel's `dsn`, the trace's `public_key`); it is then
/// decompressed, rewritten, compressed again the same way, and `Content-Length` recomputed.
fn rewrite(request: &FixtureRequest, target: &Target) -> RawRequest {
    let path = match request.path.strip_prefix(CAPTURE_PROJECT_PATH) {
        Some(rest) => format!("/api/{}/{rest}", target.dsn.project_id),
        None => request.path.clone(),
    };
    let query = request.query.replace(CAPTURE_KEY, &target.dsn.public_key);
    let target_line = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };

    let body = if request.is_ingest() {
        rewrite_envelope_header(request, target.dsn).unwrap_or_else(|| request.body.clone())
    } else {
        request.body.clone()
    };
    let body_changed = body != request.body;

    let headers = request
        .headers
        .iter()
        .map(|(name, value)| {
            let value = match name.to_ascii_lowercase().as_str() {
                "host" => target.dsn.host.clone(),
                "x-sentry-auth" => value.replace(CAPTURE_KEY, &target.dsn.public_key),
                "authorization" if request.is_web_api() => {
                    format!("Bearer {}", target.token)
                }
                "content-length" if body_changed => body.len().to_string(),
                _ => value.clone(),
            };
            (name.clone(), value)
        })
        .collect();
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    RawRequest {
        method: request.method.clone(),
        target: target_line,
        headers,
        body,
        chunked,
    }
}

/// The body with the envelope header pointing at `dsn`, or `None` when the header does not
/// name the capture's key (then the body goes as it was captured).
fn rewrite_envelope_header(request: &FixtureRequest, dsn: &Dsn) -> Option<Vec<u8>> {
    let encoding = request.header("content-encoding");
    let decoded = decode(&request.body, encoding, &request.id);
    let header_end = decoded
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(decoded.len());
    let header_line = &decoded[..header_end];
    if !contains(header_line, CAPTURE_KEY.as_bytes()) {
        return None;
    }
    let mut header: Value = serde_json::from_slice(header_line)
        .unwrap_or_else(|e| panic!("{}: envelope header is not JSON: {e}", request.id));
    if header.get("dsn").is_some() {
        header["dsn"] = Value::String(dsn.raw.clone());
    }
    if header["trace"].get("public_key").is_some() {
        header["trace"]["public_key"] = Value::String(dsn.public_key.clone());
    }
    let mut rewritten = serde_json::to_vec(&header).expect("a JSON value serializes");
    assert!(
        !contains(&rewritten, CAPTURE_KEY.as_bytes()),
        "{}: the envelope header names the capture's key outside `dsn` and `trace.public_key`: {}",
        request.id,
        String::from_utf8_lossy(header_line)
    );
    rewritten.extend_from_slice(&decoded[header_end..]);
    Some(encode(&rewritten, encoding, &request.id))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The ids of the error and message events a request carries: `event` items of an envelope
/// (the payload's `event_id`, else the envelope header's), or the `/store/` body's event.
fn event_ids(request: &FixtureRequest) -> Vec<String> {
    if !request.is_ingest() {
        return Vec::new();
    }
    let body = request.decoded_body();
    if request.path.ends_with("/store/") {
        let event: Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{}: /store/ body is not JSON: {e}", request.id));
        let id = event["event_id"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: /store/ event without event_id", request.id));
        return vec![normalize_event_id(id)];
    }
    let (header, items) = parse_envelope(&body, &request.id);
    items
        .into_iter()
        .filter(|(item_header, _)| item_header["type"] == "event")
        .map(|(_, payload)| {
            let event: Value = serde_json::from_slice(payload)
                .unwrap_or_else(|e| panic!("{}: event item is not JSON: {e}", request.id));
            let id = event["event_id"]
                .as_str()
                .or_else(|| header["event_id"].as_str())
                .unwrap_or_else(|| panic!("{}: event item without an event_id", request.id));
            normalize_event_id(id)
        })
        .collect()
}

/// Splits an envelope into its header and `(item header, payload)` pairs. A payload runs for
/// the item header's `length` bytes, or without one to the next newline. Written here rather
/// than taken from `vigil_protocol`: the test must not share a parsing mistake with the server.
fn parse_envelope<'a>(body: &'a [u8], id: &str) -> (Value, Vec<(Value, &'a [u8])>) {
    let line_end = |from: usize| {
        body[from..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |i| from + i)
    };
    let end = line_end(0);
    let header: Value = serde_json::from_slice(&body[..end])
        .unwrap_or_else(|e| panic!("{id}: envelope header is not JSON: {e}"));
    let mut items = Vec::new();
    let mut pos = end + 1;
    while pos < body.len() {
        let end = line_end(pos);
        let line = &body[pos..end];
        pos = end + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let item_header: Value = serde_json::from_slice(line)
            .unwrap_or_else(|e| panic!("{id}: item header is not JSON: {e}"));
        let payload = match item_header["length"].as_u64() {
            Some(length) => {
                let length = usize::try_from(length).expect("an item length fits in usize");
                let payload = &body[pos..pos + length];
                pos += length + 1;
                payload
            }
            None => {
                let end = line_end(pos);
                let payload = &body[pos.min(body.len())..end];
                pos = end + 1;
                payload
            }
        };
        items.push((item_header, payload));
    }
    (header, items)
}

/// What replaying the fixtures gave.
struct Replay {
    /// `(request id, status, body)` of requests that were not answered as expected.
    failures: Vec<String>,
    /// Listed in [`EXPECTED_FAILURES`] and answered with success all the same.
    now_passing: Vec<String>,
    /// Event ids of the requests that were answered with success.
    event_ids: BTreeSet<String>,
}

/// Starts a server with project `shop`, then sends every fixture request in order.
fn replay_all() -> (Vigil, Replay) {
    let vigil = Vigil::start();
    let dsn = vigil.create_project("shop", "python");
    let target = Target {
        dsn: &dsn,
        token: &vigil.token,
    };
    let addr = format!("127.0.0.1:{}", vigil.port);
    let mut replay = Replay {
        failures: Vec::new(),
        now_passing: Vec::new(),
        event_ids: BTreeSet::new(),
    };

    let fixtures = load_fixtures();
    for (id, _) in EXPECTED_FAILURES {
        assert!(
            fixtures.iter().any(|r| r.id == *id),
            "EXPECTED_FAILURES names {id}, no such fixture"
        );
    }
    for request in fixtures {
        let raw = rewrite(&request, &target);
        let response = raw_http::send(&addr, &raw)
            .unwrap_or_else(|e| panic!("{}: {} {}: {e}", request.id, raw.method, raw.target));
        // Ingest answers exactly 200 (`{"id": …}`), as Sentry does; the web API any success.
        let succeeded = if request.is_ingest() {
            response.status == 200
        } else {
            (200..300).contains(&response.status)
        };
        match (succeeded, request.expected_failure()) {
            (true, None) => {
                let ids = event_ids(&request);
                // Sentry answers an event with `{"id": "<event id>"}`; SDKs log that id.
                let answered: Option<Value> = serde_json::from_slice(&response.body).ok();
                let answered_id = answered
                    .as_ref()
                    .and_then(|body| body["id"].as_str())
                    .map(normalize_event_id);
                if let Some(first) = ids.first() {
                    if answered_id.as_deref() != Some(first.as_str()) {
                        replay.failures.push(format!(
                            "{}: answered {} for event {first}, not {{\"id\": \"{first}\"}}",
                            request.id,
                            response.body_text()
                        ));
                    }
                }
                replay.event_ids.extend(ids);
            }
            (true, Some(_)) => replay.now_passing.push(request.id.clone()),
            (false, None) => replay.failures.push(format!(
                "{}: {} {} answered {}: {}",
                request.id,
                raw.method,
                raw.target,
                response.status,
                response.body_text().chars().take(300).collect::<String>()
            )),
            (false, Some(_)) => {}
        }
    }
    (vigil, replay)
}

#[test]
fn every_sdk_fixture_request_is_answered_200() {
    let (_vigil, replay) = replay_all();
    let mut report = format!(
        "fixture requests expected to fail for now: {}\n",
        if EXPECTED_FAILURES.is_empty() {
            "none"
        } else {
            ""
        }
    );
    for (id, reason) in EXPECTED_FAILURES {
        let now = if replay.now_passing.contains(&id.to_string()) {
            " -- NOW PASSES: remove it from EXPECTED_FAILURES"
        } else {
            ""
        };
        report.push_str(&format!("  {id}: {reason}{now}\n"));
    }
    // Straight to stderr, past the test harness's capture: the list is shown on success too.
    let _ = std::io::stderr().write_all(report.as_bytes());
    assert!(
        replay.failures.is_empty(),
        "{} fixture requests were not answered with success:\n{}",
        replay.failures.len(),
        replay.failures.join("\n")
    );
}

#[test]
fn every_error_event_in_the_fixtures_is_readable_by_id() {
    let (vigil, replay) = replay_all();
    assert!(
        replay.event_ids.len() >= 20,
        "only {} event ids collected from accepted requests: {:?}",
        replay.event_ids.len(),
        replay.failures
    );
    let mut missing = Vec::new();
    let deadline = std::time::Instant::now() + EVENT_TIMEOUT;
    for id in &replay.event_ids {
        let path = format!("/api/0/projects/default/shop/events/{id}/");
        // One deadline for all: the workers process what was queued within moments.
        let found = loop {
            let response = vigil.api_get(&path, &[]);
            if response.status == 200 {
                break Ok(response.body);
            }
            if std::time::Instant::now() >= deadline {
                break Err(format!(
                    "{path} answered {}: {}",
                    response.status, response.body
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        match found {
            Ok(event) if event["eventID"] == id.as_str() => {}
            Ok(event) => missing.push(format!("{path}: eventID is {}", event["eventID"])),
            Err(reason) => missing.push(reason),
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} fixture events are not readable by id:\n{}",
        missing.len(),
        replay.event_ids.len(),
        missing.join("\n")
    );
}

#[test]
fn issue_list_pages_with_link_header_cursors() {
    let (vigil, replay) = replay_all();
    vigil.settle();
    assert!(
        replay.event_ids.len() >= 20,
        "too few events accepted to page through"
    );
    let path = "/api/0/organizations/default/issues/";
    let all = vigil
        .api_get(path, &[("query", "is:unresolved"), ("limit", "100")])
        .ok("GET issues with limit=100");
    let all_ids: BTreeSet<String> = issue_ids(&all);
    assert!(
        all_ids.len() > 10,
        "expected more than 10 issues from the fixtures, got {}",
        all_ids.len()
    );

    let mut paged_ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = vec![("query", "is:unresolved"), ("limit", "5")];
        if let Some(cursor) = cursor.as_deref() {
            query.push(("cursor", cursor));
        }
        let response = vigil.api_get(path, &query);
        let next = response.next_cursor();
        assert!(
            response.link.is_some(),
            "GET {path} page {pages} has no Link header"
        );
        let page = response.ok(&format!("GET {path} page {pages}"));
        let ids = page.as_array().expect("an issue page is a list");
        assert!(
            ids.len() <= 5,
            "page {pages} holds {} issues with limit=5",
            ids.len()
        );
        paged_ids.extend(ids.iter().map(|issue| {
            issue["id"]
                .as_str()
                .expect("issue id is a string")
                .to_string()
        }));
        pages += 1;
        assert!(
            pages <= all_ids.len(),
            "the cursor does not advance: {pages} pages so far"
        );
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let unique: BTreeSet<String> = paged_ids.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        paged_ids.len(),
        "an issue appears on two pages: {paged_ids:?}"
    );
    assert_eq!(
        unique, all_ids,
        "paging with limit=5 did not return the same issues as one page"
    );
    assert!(pages > 2, "expected several pages of 5, got {pages}");
}

fn issue_ids(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("issue list is not a list: {list}"))
        .iter()
        .map(|issue| {
            issue["id"]
                .as_str()
                .unwrap_or_else(|| panic!("issue id is not a string: {issue}"))
                .to_string()
        })
        .collect()
}
