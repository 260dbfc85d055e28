//! Data scrubbing checked against Relay itself: every fixture event (normalized first, as the
//! server does) and a set of hand-written events with secrets planted everywhere, under several
//! data scrubbing settings, scrubbed by `scrub_event` and by Relay's `pii_strip_event`
//! (`sentry-relay` 0.10.1, through `tests/python/relay_scrub.py`), compared as JSON values.
//!
//! The oracle is `$VIGIL_RELAY_PYTHON`, or `.venv/bin/python` at the repository root (which
//! `scripts/test.sh` builds from `tests/python/requirements.txt`). Without it the test fails:
//! CI installs it.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use vigil_processing::json::Json;
use vigil_processing::normalize::{normalize_event, NormalizeContext};
use vigil_processing::scrub::{scrub_event, ScrubbingSettings};

use common::fixture_events;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn oracle_python() -> PathBuf {
    if let Ok(p) = std::env::var("VIGIL_RELAY_PYTHON") {
        return PathBuf::from(p);
    }
    repo_root().join(".venv/bin/python")
}

/// The settings in the shape `convert_datascrubbing_config` takes.
fn relay_config(c: &ScrubbingSettings) -> Value {
    json!({
        "scrubData": c.data_scrubber,
        "scrubDefaults": c.data_scrubber_defaults,
        "scrubIpAddresses": c.scrub_ip_addresses,
        "sensitiveFields": c.sensitive_fields,
        "excludeFields": c.safe_fields,
    })
}

/// The oracle's answer to each line, from one Python process.
fn oracle(input: Vec<u8>, count: usize) -> Vec<Value> {
    let python = oracle_python();
    let script = repo_root().join("tests/python/relay_scrub.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "the Relay oracle ({}) is missing: {e}; set VIGIL_RELAY_PYTHON or run \
                 scripts/test.sh to build .venv with sentry-relay",
                python.display()
            )
        });
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || {
        stdin.write_all(&input).expect("writing to the oracle");
    });
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut results = Vec::new();
    for line in stdout.lines() {
        let line = line.expect("reading the oracle");
        let out: Value = serde_json::from_str(&line).expect("the oracle writes JSON");
        if let Some(error) = out.get("error") {
            panic!("the oracle failed: {error}");
        }
        results.push(out);
    }
    writer.join().expect("writer thread");
    let status = child.wait().expect("waiting for the oracle");
    assert!(status.success(), "the oracle exited with {status}");
    assert_eq!(results.len(), count, "one result per case");
    results
}

/// Relay's result for each (config, event): the project's advanced rules, then its data
/// scrubbing settings; without a config, the event only goes through Relay's schema and back.
fn relay_scrub(cases: &[(Option<ScrubbingSettings>, Value)]) -> Vec<Value> {
    let input: Vec<u8> = cases
        .iter()
        .flat_map(|(config, event)| {
            let pii_config = config.as_ref().and_then(|c| c.relay_pii_config.clone());
            let mut line = serde_json::to_vec(&json!({
                "config": config.as_ref().map(relay_config),
                "pii_config": pii_config,
                "event": event,
            }))
            .expect("serializable");
            line.push(b'\n');
            line
        })
        .collect();
    oracle(input, cases.len())
        .into_iter()
        .map(|out| out["event"].clone())
        .collect()
}

/// Relay's verdict (`validate_pii_config`) on each config text.
fn relay_verdicts(configs: &[&str]) -> Vec<(bool, String)> {
    let input: Vec<u8> = configs
        .iter()
        .flat_map(|c| {
            let mut line = serde_json::to_vec(&json!({ "validate": c })).expect("serializable");
            line.push(b'\n');
            line
        })
        .collect();
    oracle(input, configs.len())
        .into_iter()
        .map(|out| {
            (
                out["valid"] == json!(true),
                out["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Every event-like fixture item, normalized as the server would (see tests/normalize.rs).
fn normalized_fixture_events() -> Vec<(String, Value)> {
    fixture_events()
        .into_iter()
        .map(|(name, bytes, ctx)| {
            let raw = Json::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            let event = normalize_event(raw, &ctx).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, event.to_value())
        })
        .collect()
}

/// The settings every event is scrubbed with.
fn configs() -> Vec<(&'static str, ScrubbingSettings)> {
    let mut configs = vec![
        ("defaults", ScrubbingSettings::default()),
        (
            "ip",
            ScrubbingSettings {
                scrub_ip_addresses: true,
                ..ScrubbingSettings::default()
            },
        ),
        (
            "fields",
            ScrubbingSettings {
                scrub_ip_addresses: true,
                sensitive_fields: vec!["planted".into(), "Hostname".into(), "a.b".into()],
                // `extra.card`: a selector path (the card in `extra` stays, the one in frame vars
                // goes), as Relay reads safe fields.
                safe_fields: vec![
                    "safe_password".into(),
                    "API_KEY".into(),
                    "vars".into(),
                    "extra.card".into(),
                    "request.headers.0".into(),
                ],
                ..ScrubbingSettings::default()
            },
        ),
        (
            "no-defaults",
            ScrubbingSettings {
                data_scrubber_defaults: false,
                sensitive_fields: vec!["planted".into()],
                ..ScrubbingSettings::default()
            },
        ),
        (
            "data-off-ip-on",
            ScrubbingSettings {
                data_scrubber: false,
                scrub_ip_addresses: true,
                sensitive_fields: vec!["planted".into()],
                ..ScrubbingSettings::default()
            },
        ),
        (
            "safe-cookies",
            ScrubbingSettings {
                scrub_ip_addresses: true,
                sensitive_fields: vec!["sessionid".into(), "Cookie".into(), "x".into()],
                safe_fields: vec![
                    "sessionid".into(),
                    "password".into(),
                    "X-Api-Key".into(),
                    "user-agent".into(),
                    "http.request.header.cookie".into(),
                    "REMOTE_ADDR".into(),
                    // Selectors as Relay reads safe fields: a quoted key, and a field that is
                    // no selector (one key).
                    "extra.'a.b'".into(),
                    "multi..line".into(),
                ],
                ..ScrubbingSettings::default()
            },
        ),
        (
            // Fields as Relay's conversion reads them: trimmed, the empty ones dropped.
            "trimmed",
            ScrubbingSettings {
                sensitive_fields: vec![" planted ".into(), "  ".into()],
                // `freeform` and `databag` are keys here, not Relay's legacy type names.
                safe_fields: vec![
                    " API_KEY ".into(),
                    "".into(),
                    " extra.card".into(),
                    "freeform".into(),
                    "databag".into(),
                ],
                ..ScrubbingSettings::default()
            },
        ),
        (
            // Safe fields that are selectors with types, wildcards and operators: the
            // settings' PII config goes through the selector engine.
            "safe-selectors",
            ScrubbingSettings {
                scrub_ip_addresses: true,
                sensitive_fields: vec!["planted".into(), "Hostname".into()],
                safe_fields: vec![
                    " safe_password ".into(),
                    "$number".into(),
                    "**.card".into(),
                    "$http.headers.*".into(),
                    "extra.* && !extra.password".into(),
                    "$frame.vars.x || $user.id".into(),
                    "multi..line".into(),
                    "text".into(),
                ],
                ..ScrubbingSettings::default()
            },
        ),
        (
            "off",
            ScrubbingSettings {
                data_scrubber: false,
                data_scrubber_defaults: true,
                ..ScrubbingSettings::default()
            },
        ),
    ];
    // The project's advanced rules, with the default settings (and one with more settings,
    // one with the data scrubber off).
    for (name, pii_config) in PII_CONFIGS {
        configs.push((
            name,
            ScrubbingSettings {
                relay_pii_config: Some((*pii_config).to_owned()),
                ..ScrubbingSettings::default()
            },
        ));
    }
    configs.push((
        "ui-rules+fields",
        ScrubbingSettings {
            relay_pii_config: Some(PII_CONFIGS[0].1.to_owned()),
            ..configs[2].1.clone()
        },
    ));
    configs.push((
        "selectors+off",
        ScrubbingSettings {
            data_scrubber: false,
            relay_pii_config: Some(PII_CONFIGS[2].1.to_owned()),
            ..ScrubbingSettings::default()
        },
    ));
    configs
}

/// Advanced data scrubbing rules (`relayPiiConfig`) as Sentry's UI writes them and beyond:
/// every rule type and redaction method, selectors of every kind.
const PII_CONFIGS: &[(&str, &str)] = &[
    (
        "ui-rules",
        r#"{"rules": {
            "0": {"type": "password", "redaction": {"method": "remove"}},
            "1": {"type": "creditcard", "redaction": {"method": "mask"}},
            "2": {"type": "pattern", "pattern": "hunter\\d", "redaction": {"method": "replace", "text": "[pw]"}},
            "3": {"type": "anything", "redaction": {"method": "remove"}}
        },
        "applications": {
            "$http.headers": ["0"],
            "$string": ["1"],
            "extra.planted_field || extra.'a.b'": ["3"],
            "$frame.vars.**": ["2"]
        }}"#,
    ),
    (
        "types",
        r#"{"rules": {
            "ip": {"type": "ip", "redaction": {"method": "hash"}},
            "email": {"type": "email", "redaction": {"method": "mask"}},
            "ids": {"type": "multiple", "rules": ["uuid", "mac", "imei"], "hideInner": true, "redaction": {"method": "replace", "text": "[id]"}},
            "uuid": {"type": "uuid"},
            "mac": {"type": "mac", "redaction": {"method": "mask"}},
            "imei": {"type": "imei", "redaction": {"method": "remove"}},
            "odd": {"type": "email", "redaction": {"method": "bogus"}},
            "ssn": {"type": "us_ssn", "redaction": {"method": "hash"}},
            "url": {"type": "url_auth", "redaction": {"method": "replace", "text": "[auth]"}},
            "cookies": {"type": "cookies", "redaction": {"method": "mask"}}
        },
        "applications": {
            "$string": ["ip", "email", "ids"],
            "$object.**": ["@iban:mask", "ssn", "@userpath", "@pemkey", "url", "@bearer"],
            "breadcrumbs.**": ["odd"],
            "**.'http.request.header.cookie' || $http.headers.cookie": ["cookies"]
        }}"#,
    ),
    (
        "selectors",
        r#"{"rules": {
            "pair": {"type": "redact_pair", "keyPattern": "(?i)^(x-planted|ssn|card|q)$", "redaction": {"method": "replace", "text": "[pair]"}},
            "groups": {"type": "pattern", "pattern": "(user):(\\w+)@", "replaceGroups": [2], "redaction": {"method": "mask"}},
            "al": {"type": "alias", "rule": "groups"},
            "both": {"type": "pattern", "pattern": "(\\d{3})-(\\d{2})-\\d{4}", "replaceGroups": [1, 2], "redaction": {"method": "hash"}}
        },
        "applications": {
            "$error.value || $message": ["@creditcard:replace"],
            "$string && !extra.**": ["pair"],
            "extra.'a.b' || extra.list.1 || extra.pairs.secret": ["@anything:hash"],
            "**.nested.*": ["@anything"],
            "$array && !request.**": ["@password:remove"],
            "$number": ["@anything:remove"],
            "tags.password || tags.ip || contexts.*.kernel_version || contexts.trace.description": ["@anything:replace"],
            "$logentry.params.0": ["@email:mask"],
            "(breadcrumbs.** || $breadcrumb.message) && ~$object": ["groups", "al", "both"],
            "user.ip_address": ["@ip:hash"],
            "$span.description || $frame.module || $error.value": ["@anything:mask"],
            "request.url": ["@urlauth:legacy"],
            "!$string": ["@password"]
        }}"#,
    ),
    (
        "catch-all",
        r#"{"vars": {"hashKey": "k"}, "applications": {
            "**": ["@common", "@cookies:filter"],
            "extra.nested || $sdk.client_ip": ["@anything:hash"],
            "$user.**": ["@anything:mask"]
        }}"#,
    ),
];

/// Hand-written normalized events with secrets planted in every place scrubbing looks.
fn planted_events() -> Vec<(String, Value)> {
    let ctx = NormalizeContext {
        received: 1_795_574_460.0,
        client_ip: Some("10.1.2.3".into()),
        ..NormalizeContext::default()
    };
    let secrets = json!({
        "password": "hunter2",
        "Password": 12345,
        "passwd": {"inner": "x"},
        "api_key": "k-123",
        "safe_password": "stays",
        "auth_token": ["a", "b"],
        "csrftoken": "tok",
        "mysql_pwd": true,
        "otp": "123456",
        "card": "my card 4111 1111 1111 1111 ok",
        "amex": "378282246310005",
        "ssn": "ssn 123-45-6789.",
        "iban": "DE89370400440532013000",
        "pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
        "url": "https://user:s3cret@example.com/path",
        "bearer": "header Bearer abc.def.ghi rest",
        "ip4": "client 192.168.0.17 connected",
        "ip6": "from 2001:db8::1 via fe80::1",
        "email": "mail jane@example.com",
        "planted_field": "by name",
        "value_has": "contains planted here",
        "a.b": "escaped",
        "aXb": "not escaped",
        "Hostname": "h",
        "null_value": null,
        "empty": "",
        "undef": "undefined",
        "filtered": "[Filtered]",
        "unicode": "éé 4111111111111111 é 123-45-6789",
        "multi": "password: 4111111111111111",
        "pairs": [["secret", "abc"], ["q", "4111111111111111"]],
        "mixed": [["password", "a"], "b"],
        "list": ["password", "abc"],
        "nested": {"deeper": {"token": "t", "ok": "fine"}},
        "debug_meta": {"p": "password"},
        "cookies": {"sessionid": "s", "theme": "dark"},
    });
    let raw = json!({
        "event_id": "0123456789abcdef0123456789abcdef",
        "timestamp": 1_795_574_459.0,
        "platform": "python",
        "level": "error",
        "server_name": "host-with-password",
        "release": "password-release",
        "environment": "secret-env",
        "transaction": "/login?password=x",
        "logger": "auth.secret",
        "message": "login failed password=hunter2 card 4111111111111111 jane@example.com Bearer xyz 123-45-6789 DE89370400440532013000",
        "logentry": {
            "message": "login failed for %s with %s",
            "params": ["jane@example.com", "hunter2 password", 4111111111111111u64, "192.168.0.1"]
        },
        "exception": {"values": [{
            "type": "ValueError",
            "value": "bad password 4111111111111111",
            "module": "auth",
            "mechanism": {"type": "generic", "handled": false, "description": "secret 123-45-6789", "data": {"password": "x", "n": 1}},
            "stacktrace": {"frames": [{
                "filename": "/home/jane/app/auth.py",
                "abs_path": "/home/jane/app/auth.py",
                "function": "login",
                "module": "auth",
                "lineno": 10,
                "context_line": "password = 'hunter2'",
                "pre_context": ["secret = 1"],
                "in_app": true,
                "vars": secrets.clone()
            }]}
        }]},
        "threads": {"values": [{"id": 1, "name": "password-thread", "stacktrace": {"frames": [{"function": "f", "vars": {"secret": "s", "ip": "10.0.0.1"}}]}}]},
        "request": {
            "url": "https://example.com/login?password=x",
            "method": "POST",
            "query_string": [["password", "x"], ["q", "4111111111111111"], ["safe_password", "y"]],
            "data": {"password": "hunter2", "username": "jane", "card": "4111111111111111", "items": [["token", "t"]]},
            "cookies": [["sessionid", "abc"], ["csrftoken", "def"], ["theme", "dark"], ["XSRF-TOKEN", "x"]],
            "headers": [
                ["Authorization", "Bearer abc.def"],
                ["Cookie", "sessionid=abc; theme=dark"],
                ["User-Agent", "Mozilla password 10.0.0.1"],
                ["X-Api-Key", "k"],
                ["X-Forwarded-For", "10.0.0.1, 10.0.0.2"],
                ["X-Planted", "p"]
            ],
            "env": {"REMOTE_ADDR": "10.0.0.1", "SERVER_NAME": "secret.example.com", "DB_PASSWORD": "x"}
        },
        "user": {"id": "42", "email": "jane@example.com", "username": "jane 4111111111111111", "ip_address": "10.0.0.1", "data": {"password": "x", "plan": "free"}},
        "tags": [["password", "x"], ["ip", "10.0.0.1"], ["planted", "v"]],
        "extra": secrets.clone(),
        "contexts": {
            "os": {"name": "Linux", "kernel_version": "password 4111111111111111"},
            "trace": {"trace_id": "0123456789abcdef0123456789abcdef", "span_id": "0123456789abcdef", "op": "http.server", "data": {"password": "x", "url": "http://u:p@h/"}},
            "response": {"status_code": 500, "headers": [["Set-Cookie", "sessionid=x"], ["Authorization", "x"]], "data": {"token": 1}},
            "custom": {"type": "custom", "password": "x", "card": "4111111111111111", "safe_password": "y"},
            "planted_ctx": {"value": "4111111111111111"}
        },
        "breadcrumbs": {"values": [
            {"timestamp": 1_795_574_458.0, "type": "http", "category": "password", "message": "POST /login password=x", "data": {"url": "https://u:pw@example.com", "password": "x", "status_code": 200}},
            {"timestamp": 1_795_574_458.5, "message": "card 4111111111111111 and ip 10.1.1.1", "data": {"ip": "10.1.1.1"}}
        ]},
        "sdk": {"name": "sentry.python", "version": "2.75.0"},
        "fingerprint": ["password", "{{ default }}"],
        "modules": {"password-lib": "1.0"}
    });
    let message_only = json!({
        "event_id": "fedcba9876543210fedcba9876543210",
        "timestamp": 1_795_574_459.0,
        "message": "user jane@example.com paid with 4111-1111-1111-1111, SSN 123-45-6789 token Bearer abc",
        "user": {"ip_address": "10.0.0.9"},
        "extra": {"planted": {"x": 1}, "n": 3, "f": 1.5, "b": false}
    });
    let edges = json!({
        "event_id": "00112233445566778899aabbccddeeff",
        "timestamp": 1_795_574_459.0,
        "platform": "node",
        "secret_stuff": {"a": 1},
        "custom_top": "card 4111111111111111",
        "logentry": {"formatted": "password=x secret 4111 1111 1111 1111 DE89370400440532013000 123-45-6789 a@b.io bearer tok 10.0.0.1"},
        "request": {
            "url": "https://example.com/",
            "data": "password=hunter2&foo=bar",
            "query_string": "a=1&token=abc",
            "cookies": [["session", "line1\nline2"], ["planted", "x"], ["_xsrf", ""]],
            "headers": [["X-Safe", "password"], ["Authorization", "Basic dXNlcjpwYXNz"], ["user-agent", "curl 4111111111111111"]],
            "env": {"remote_addr": "10.0.0.5", "HTTP_X": "10.0.0.6"}
        },
        "user": {"ip_address": "10.0.0.9", "geo": {"city": "secret city", "country_code": "DE"}, "segment": "password"},
        "sdk": {"name": "sentry.javascript.node", "version": "8.0.0", "client_ip": "10.0.0.10"},
        "extra": {
            "nul": "a\u{0}b password",
            "public": "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----",
            "noscheme": "//user:pass@host",
            "bare_bearer": "Bearer",
            "tabbed": "bearer\ttoken",
            "objs": [{"password": "x"}, {"ok": "4111111111111111"}, 5, null, true],
            "Authorization": {"scheme": "x"},
            "deep": {"cookies": [["sessionid", "a"], ["other", "b"]]},
            "pairs_num": [["token", 5], ["n", 1.5]],
            "floats": {"secret": 1.5, "x": -3},
            "ip_in_text": "a1.2.3.4b 1.2.3.4 300.1.1.1 ::1 fe80::1%eth0",
            "vars": {"password": "x"},
            "data": "token: abc",
            "two_factor": "y",
            "TWO-FACTOR": "y",
            "otpx": "y",
            "API-KEY": "k",
            "privatekey": "k",
            "credentials": "c",
            "long": "x".repeat(300) + " 4111111111111111"
        },
        "contexts": {
            "auth": {"type": "custom_auth", "v": "1"},
            "device": {"type": "device", "name": "password"},
            "mine": {"type": "password", "v": "x"},
            "runtime": {"name": "node", "version": "20"}
        },
        "breadcrumbs": {"values": [{"timestamp": 1_795_574_458.0, "category": "xhr", "data": {"cookies": {"csrf": "c"}, "list": [1, 2], "password": [1]}}]},
        "threads": {"values": [{"id": 2, "stacktrace": {"frames": [{"function": "g", "vars": {"token": {"nested": "y"}, "self": "<obj 10.0.0.1>"}}]}}]}
    });
    let transaction = json!({
        "type": "transaction",
        "event_id": "aabbccddeeff00112233445566778899",
        "transaction": "/login",
        "start_timestamp": 1_795_574_458.0,
        "timestamp": 1_795_574_459.0,
        "contexts": {"trace": {"trace_id": "0123456789abcdef0123456789abcdef", "span_id": "0123456789abcdef", "op": "http.server", "data": {"password": "x", "client.address": "10.0.0.1"}}},
        "spans": [{
            "trace_id": "0123456789abcdef0123456789abcdef", "span_id": "1123456789abcdef", "parent_span_id": "0123456789abcdef",
            "op": "db", "description": "SELECT password FROM users WHERE card = '4111111111111111'",
            "start_timestamp": 1_795_574_458.1, "timestamp": 1_795_574_458.2,
            "data": {"db.statement": "password", "url": "http://u:p@h/", "net.peer.ip": "10.0.0.2", "http.request.header.cookie": "sessionid=1",
                "http.response.header.set-cookie": "  SU=v=w ; Path=/;csrf=; theme=dark",
                "http.request.header.cookie.sessionid": "z",
                "http.request.header.cookie.theme": "z",
                "cookie_list": {"http.request.header.cookie": ["sessionid=1", "a=b", {"sessionid": "q"}]}}
        }],
        "request": {"url": "https://example.com/login", "headers": [["Cookie", "a=b"]]},
        "user": {"ip_address": "203.0.113.7"}
    });
    let mut events = Vec::new();
    for (name, raw) in [
        ("planted", raw),
        ("message-only", message_only),
        ("edges", edges),
        ("transaction", transaction),
    ] {
        let event = normalize_event(Json::from(raw), &ctx)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .to_value();
        events.push((name.to_owned(), event));
    }
    // Normalization drops a client's `_meta` and writes none, but scrubbing must add to one if
    // there is: remarks of a rewritten string replace the old ones, `len` stays, removals
    // append. (Not `val`: Relay scrubs original values too, which Vigil never keeps.)
    let mut with_meta = events[0].1.clone();
    with_meta["_meta"] = json!({
        "extra": {
            "password": {"": {"len": 99, "rem": [["!limit", "x"]]}},
            "passwd": {"": {"rem": [["!limit", "x"]]}},
            "plain": {"": {"len": 3}}
        },
        "other": {"": {"err": ["invalid_data"]}}
    });
    events.push(("with-meta".to_owned(), with_meta));
    events
}

/// A small deterministic generator (xorshift), for the generated events.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[(self.next() % items.len() as u64) as usize]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const KEYS: &[&str] = &[
    "password",
    "Password",
    "secret",
    "api_key",
    "X-Api-Key",
    "token",
    "csrftoken",
    "sessionid",
    "SessionId",
    "su",
    "cookies",
    "Cookies",
    "auth",
    "data",
    "value",
    "safe_password",
    "API_KEY",
    "planted",
    "a.b",
    "x",
    "debug_meta",
    "user-agent",
    "User-Agent",
    "REMOTE_ADDR",
    "http.request.header.cookie",
    "http.response.header.set-cookie",
    "http.request.header.cookie.sessionid",
    "otp",
    "two_factor",
    "mysql_pwd",
    "privatekey",
    "credentials",
    "passwd",
    "name",
    "email",
    "vars",
    "0",
    // Not "": Relay writes the `_meta` of a child with an empty key where the parent's own
    // entry goes, and reads it back as that, so a result with one cannot be compared.
];

const STRINGS: &[&str] = &[
    "hunter2",
    "plain text",
    "4111111111111111",
    "card 5555 5555 5555 4444 end",
    "123-45-6789",
    "DE89370400440532013000",
    "GB82WEST12345698765432",
    "Bearer abc.def",
    "x bearer  t y",
    "https://user:pw@example.com/x",
    "//a:b@c",
    "10.0.0.1",
    "::1",
    "2001:db8::1 and 10.1.1.1",
    "jane@example.com",
    "password=x",
    "token: abc",
    "my secret",
    "sessionid=abc; theme=d",
    "a=b; csrf=c ; xsrf-token=",
    "[Filtered]",
    "",
    "true",
    "undefined",
    "planted value",
    "é 4111111111111111 ü",
    "multi\nline",
    "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----",
    "APIKEY",
    "two-factor",
    "OTP",
    "null",
];

fn random_value(rng: &mut Rng, depth: u32) -> Value {
    let kind = rng.next() % if depth >= 3 { 4 } else { 8 };
    match kind {
        0 | 1 => json!(rng.pick(STRINGS)),
        2 => match rng.next() % 4 {
            0 => json!(42),
            1 => json!(-1.5),
            2 => json!(true),
            _ => Value::Null,
        },
        3 => json!(rng.pick(STRINGS)),
        4 | 5 => random_object(rng, depth + 1),
        6 => Value::Array(
            (0..rng.next() % 4)
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => random_pairs(rng, depth + 1),
    }
}

fn random_object(rng: &mut Rng, depth: u32) -> Value {
    let mut obj = serde_json::Map::new();
    for _ in 0..1 + rng.next() % 4 {
        obj.insert(rng.pick(KEYS).to_string(), random_value(rng, depth));
    }
    Value::Object(obj)
}

fn random_pairs(rng: &mut Rng, depth: u32) -> Value {
    Value::Array(
        (0..1 + rng.next() % 3)
            .map(|_| {
                let value = if rng.chance(70) {
                    json!(rng.pick(STRINGS))
                } else {
                    random_value(rng, depth)
                };
                json!([rng.pick(KEYS), value])
            })
            .collect(),
    )
}

fn random_string_pairs(rng: &mut Rng) -> Value {
    Value::Array(
        (0..1 + rng.next() % 4)
            .map(|_| json!([rng.pick(KEYS), rng.pick(STRINGS)]))
            .collect(),
    )
}

/// Generated events: random keys and values from the lists above, in the places scrubbing
/// looks (and some it must not), normalized.
fn generated_events(count: usize) -> Vec<(String, Value)> {
    let ctx = NormalizeContext {
        received: 1_795_574_460.0,
        ..NormalizeContext::default()
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut events = Vec::new();
    for i in 0..count {
        let rng = &mut rng;
        let mut event = json!({
            "event_id": format!("{:032x}", i + 1),
            "timestamp": 1_795_574_459.0,
            "platform": "python",
        });
        let places: &[&str] = &[
            "extra",
            "request",
            "user",
            "breadcrumbs",
            "frames",
            "contexts",
            "tags",
            "spans",
            "logentry",
            "server_name",
            "unknown",
            "threads",
            "sdk",
            "ip-user",
            "known-contexts",
            "hpkp",
        ];
        for _ in 0..4 {
            match *rng.pick(places) {
                "extra" => event["extra"] = random_object(rng, 0),
                "request" => {
                    event["request"] = json!({
                        "url": "https://example.com/",
                        "headers": random_string_pairs(rng),
                        "cookies": random_string_pairs(rng),
                        "query_string": random_string_pairs(rng),
                        "env": random_object(rng, 2),
                        "data": random_value(rng, 0),
                    })
                }
                "user" => {
                    event["user"] = json!({
                        "id": rng.pick(STRINGS),
                        "username": rng.pick(STRINGS),
                        "email": rng.pick(STRINGS),
                        "ip_address": rng.pick(&["10.0.0.1", "::1", "127.0.0.1"]),
                        "data": random_object(rng, 1),
                    })
                }
                "breadcrumbs" => {
                    event["breadcrumbs"] = json!([{
                        "timestamp": 1_795_574_458.0,
                        "message": rng.pick(STRINGS),
                        "category": rng.pick(STRINGS),
                        "data": random_object(rng, 1),
                    }])
                }
                "frames" => {
                    event["exception"] = json!({"values": [{
                        "type": "E",
                        "value": rng.pick(STRINGS),
                        "stacktrace": {"frames": [{
                            "function": "f",
                            "filename": rng.pick(STRINGS),
                            "vars": random_object(rng, 0),
                        }]},
                        "mechanism": {"type": "generic", "description": rng.pick(STRINGS), "data": random_object(rng, 1)},
                    }]})
                }
                "threads" => {
                    event["threads"] = json!({"values": [{"id": 1, "stacktrace": {"frames": [{"function": "f", "vars": random_object(rng, 1)}]}}]})
                }
                "contexts" => {
                    let ctx_name = rng
                        .pick(&["custom", "auth", "planted", "password", "state"])
                        .to_string();
                    event["contexts"] = json!({
                        ctx_name: random_object(rng, 1),
                        "trace": {"trace_id": "0123456789abcdef0123456789abcdef", "span_id": "0123456789abcdef", "data": random_object(rng, 1)},
                        "response": {"data": random_value(rng, 1), "headers": random_string_pairs(rng)},
                    })
                }
                "tags" => event["tags"] = random_string_pairs(rng),
                "spans" => {
                    event["type"] = json!("transaction");
                    event["start_timestamp"] = json!(1_795_574_458.0);
                    event["contexts"] = json!({"trace": {"trace_id": "0123456789abcdef0123456789abcdef", "span_id": "0123456789abcdef"}});
                    event["spans"] = json!([{
                        "trace_id": "0123456789abcdef0123456789abcdef",
                        "span_id": "1123456789abcdef",
                        "parent_span_id": "0123456789abcdef",
                        "start_timestamp": 1_795_574_458.1,
                        "timestamp": 1_795_574_458.2,
                        "op": "http",
                        "description": rng.pick(STRINGS),
                        "data": random_object(rng, 0),
                    }]);
                }
                "logentry" => {
                    event["logentry"] = json!({
                        "message": rng.pick(STRINGS),
                        "formatted": format!("{} {}", rng.pick(STRINGS), rng.pick(STRINGS)),
                        "params": [rng.pick(STRINGS), rng.pick(STRINGS)],
                    })
                }
                "server_name" => event["server_name"] = json!(rng.pick(STRINGS)),
                "sdk" => {
                    event["sdk"] = json!({
                        "name": "sentry.python",
                        "version": "2.75.0",
                        // Valid ones only: Relay's schema drops an invalid one (normalization).
                        "client_ip": rng.pick(&["10.0.0.1", "::1", "192.168.0.1"]),
                    })
                }
                "ip-user" => {
                    event["user"] =
                        json!({"ip_address": rng.pick(&["10.0.0.1", "::1", "127.0.0.1"])});
                    event["request"] = json!({"env": {"REMOTE_ADDR": rng.pick(STRINGS), "remote_addr": "10.0.0.2"}});
                }
                "known-contexts" => {
                    let mut contexts = serde_json::Map::new();
                    for name in [
                        "device",
                        "app",
                        "browser",
                        "runtime",
                        "gpu",
                        "culture",
                        "cloud_resource",
                        "nel",
                        "flags",
                        "feedback",
                        "otel",
                        "mine",
                        "replay",
                        "reprocessing",
                        "memory_info",
                        "unity",
                        "monitor",
                        "spring",
                        "ota_updates",
                        "thread_pool_info",
                        "state",
                    ] {
                        if rng.chance(40) {
                            let mut ctx = random_object(rng, 1);
                            // `name` is a string field of most known contexts: Relay's schema
                            // moves another type into `_meta` (normalization, not scrubbing).
                            if let Some(ctx) = ctx.as_object_mut() {
                                ctx.remove("name");
                            }
                            ctx["type"] = json!(name);
                            contexts.insert(name.to_string(), ctx);
                        }
                    }
                    event["contexts"] = Value::Object(contexts);
                }
                "hpkp" => {
                    event["hpkp"] = random_object(rng, 1);
                    event["expectct"] = json!({"hostname": rng.pick(STRINGS), "port": 443});
                    event["template"] = json!({"filename": rng.pick(STRINGS), "abs_path": rng.pick(STRINGS), "context_line": rng.pick(STRINGS), "lineno": 1});
                    event["csp"] = json!({"effective_directive": "img-src", "blocked_uri": rng.pick(STRINGS), "document_uri": rng.pick(STRINGS), "referrer": rng.pick(STRINGS), "source_file": rng.pick(STRINGS)});
                }
                _ => event[rng.pick(KEYS).to_string()] = random_value(rng, 1),
            }
        }
        let name = format!("generated-{i}");
        match normalize_event(Json::from(event), &ctx) {
            Ok(event) => events.push((name, event.to_value())),
            Err(e) => panic!("{name}: {e}"),
        }
    }
    events
}

/// The paths where two JSON values differ, with both sides.
fn diff(path: &str, ours: &Value, relay: &Value, out: &mut Vec<String>) {
    match (ours, relay) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                diff(
                    &format!("{path}.{k}"),
                    va,
                    b.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    diff(&format!("{path}.{k}"), &Value::Null, vb, out);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                diff(&format!("{path}.{i}"), va, vb, out);
            }
        }
        (a, b) if sorted(a) != sorted(b) => out.push(format!("  {path}: vigil {a} | relay {b}")),
        _ => {}
    }
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<_> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[test]
fn scrubbing_matches_relay() {
    let mut events = normalized_fixture_events();
    assert!(
        events.len() >= 25,
        "expected every fixture event, found {}",
        events.len()
    );
    events.extend(planted_events());
    // `SCRUB_GENERATED` runs more of them, for a longer search.
    let generated = std::env::var("SCRUB_GENERATED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400);
    events.extend(generated_events(generated));
    let mut cases = Vec::new();
    let mut names = Vec::new();
    for (config_name, config) in configs() {
        for (name, event) in &events {
            names.push(format!("{name} [{config_name}]"));
            cases.push((config.clone(), event.clone()));
        }
    }
    // Each case twice: Relay scrubs the event, and Vigil's result goes through Relay's schema
    // (no scrubbing) so that both are in Relay's shape: Relay drops empty objects and arrays
    // and renames some debug image fields when it reads any event, which is not scrubbing.
    let mut batch = Vec::new();
    for (config, event) in &cases {
        let mut ours = Json::from(event.clone());
        scrub_event(&mut ours, config);
        batch.push((Some(config.clone()), event.clone()));
        batch.push((None, ours.to_value()));
    }
    let results = relay_scrub(&batch);
    // The comparison is not vacuous: the planted secrets are scrubbed.
    let scrubbed = names
        .iter()
        .zip(results.chunks(2))
        .filter(|(name, pair)| name.starts_with("planted [") && pair[0].get("_meta").is_some())
        .count();
    assert_eq!(
        scrubbed,
        configs().len() - 1,
        "every config but `off` scrubs the planted event"
    );
    let mut failures = Vec::new();
    for (name, pair) in names.iter().zip(results.chunks(2)) {
        let (relay, ours) = (&pair[0], &pair[1]);
        if sorted(ours) != sorted(relay) {
            let mut diffs = Vec::new();
            diff("", ours, relay, &mut diffs);
            failures.push(format!("{name}:\n{}", diffs.join("\n")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Relay:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The walker is a faster reading of the PII config Relay's conversion makes of the settings:
/// the selector engine running that config gives the same result on every event and config
/// (the project's advanced rules first, in both).
#[test]
fn walker_matches_selector_engine() {
    let mut events = normalized_fixture_events();
    events.extend(planted_events());
    events.extend(generated_events(400));
    let mut failures = Vec::new();
    let mut scrubbed = 0;
    for (config_name, config) in configs() {
        for (name, event) in &events {
            let mut walked = Json::from(event.clone());
            scrub_event(&mut walked, &config);
            let mut selected = Json::from(event.clone());
            vigil_processing::scrub::scrub_event_by_selectors(&mut selected, &config);
            let (walked, selected) = (walked.to_value(), selected.to_value());
            scrubbed += usize::from(walked.get("_meta").is_some());
            if walked != selected {
                let mut diffs = Vec::new();
                diff("", &walked, &selected, &mut diffs);
                failures.push(format!("{name} [{config_name}]:\n{}", diffs.join("\n")));
            }
        }
    }
    assert!(scrubbed > 1000, "the cases scrub something ({scrubbed})");
    assert!(
        failures.is_empty(),
        "{} cases differ between the walker and the selector engine:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn untouched_strings_stay_borrowed() {
    let bytes = br#"{"extra":{"a":"plain","password":"x"},"message":"m"}"#;
    let mut event = Json::parse(bytes).expect("valid JSON");
    scrub_event(&mut event, &ScrubbingSettings::default());
    assert!(matches!(
        &event["extra"]["a"],
        Json::String(std::borrow::Cow::Borrowed(_))
    ));
    assert_eq!(event["extra"]["password"], json!("[Filtered]"));
    assert_eq!(
        event["_meta"],
        json!({"extra": {"password": {"": {"rem": [["@password:filter", "s", 0, 10]], "len": 1}}}})
    );
}

/// Configs Relay's `validate_pii_config` accepts or refuses, for [`pii_config_verdicts`].
const VERDICT_CASES: &[&str] = &[
    "{}",
    r#"{"x": 1}"#,
    "",
    "nope",
    "1",
    "null",
    r#""x""#,
    r#"{"applications": {"a": []}} x"#,
    r#"{"rules": {"a": {"type": "foo"}}}"#,
    r#"{"rules": {"a": {"type": "pattern"}}}"#,
    r#"{"rules": {"a": {"type": "pattern", "pattern": "("}}}"#,
    r#"{"rules": {"a": {"type": "pattern", "pattern": "("}}, "applications": {"a": ["a"]}}"#,
    r#"{"rules": {"a": {"type": "redact_pair", "keyPattern": "("}}, "applications": {"a": ["a"]}}"#,
    r#"{"rules": {"a": {"type": "alias", "rule": "b"}, "b": {"type": "pattern", "pattern": "("}}, "applications": {"a": ["a"]}}"#,
    r#"{"rules": {"a": {"type": "multiple", "rules": ["b"]}, "b": {"type": "redactPair", "keyPattern": "["}}, "applications": {"$string": ["a"]}}"#,
    r#"{"rules": {"a": {"type": "pattern", "pattern": "x{99999}"}}, "applications": {"x": ["a"]}}"#,
    r#"{"rules": {"a": {"type": "pattern", "pattern": "x", "replaceGroups": [300]}}}"#,
    r#"{"rules": {"a": {"type": "pattern", "pattern": "x", "replaceGroups": null}}}"#,
    r#"{"rules": {"a": {"type": "pattern", "pattern": "x", "replaceGroups": [1, 2]}}, "applications": {"x": ["a"]}}"#,
    r#"{"rules": {"a": {"type": "anything", "redaction": {"method": "bogus"}}}}"#,
    r#"{"rules": {"a": {"type": "anything", "redaction": {"method": "replace"}}}, "applications": {"**": ["a"]}}"#,
    r#"{"rules": {"a": {"type": "anything", "redaction": {"method": "replace", "text": null}}}}"#,
    r#"{"rules": {"a": {"type": "anything", "redaction": {}}}}"#,
    r#"{"rules": {"a": {"type": "anything", "redaction": null}}}"#,
    r#"{"rules": {"a": {"type": "multiple"}}}"#,
    r#"{"rules": {"a": {"type": "multiple", "rules": ["b"], "hideInner": "x"}}}"#,
    r#"{"rules": {"a": {"type": "alias"}}}"#,
    r#"{"rules": {"a": {}}}"#,
    r#"{"rules": {"a": "x"}}"#,
    r#"{"rules": null}"#,
    r#"{"applications": null}"#,
    r#"{"applications": {"x": [1]}}"#,
    r#"{"applications": {"a": "x"}}"#,
    r#"{"applications": {"a": ["unknownrule"], "$http.headers": ["@password"]}}"#,
    r#"{"vars": {"hashKey": 5}}"#,
    r#"{"vars": {"hashKey": "k"}}"#,
    r#"{"rules": {"c": {"type": "cookies"}, "b": {"type": "bearer"}, "u": {"type": "userpath"}}, "applications": {"$string": ["c", "b", "u"]}}"#,
    // Selectors.
    r#"{"applications": {"*": ["@ip"]}}"#,
    r#"{"applications": {"**": ["@ip"]}}"#,
    r#"{"applications": {"a.*.b": ["@ip"]}}"#,
    r#"{"applications": {"(* && a)": ["@ip"]}}"#,
    r#"{"applications": {"a.**.b.**": ["@ip"]}}"#,
    r#"{"applications": {"$foo": ["@ip"]}}"#,
    r#"{"applications": {"$String": ["@ip"]}}"#,
    r#"{"applications": {"$error.value && !$http.headers || ~(a | b) & c": ["@ip"]}}"#,
    r#"{"applications": {"'a b'.'it''s'": ["@ip"]}}"#,
    r#"{"applications": {"''": ["@ip"]}}"#,
    r#"{"applications": {"a b": ["@ip"]}}"#,
    r#"{"applications": {"a.-1": ["@ip"]}}"#,
    r#"{"applications": {"1a": ["@ip"]}}"#,
    r#"{"applications": {"a.b[0]": ["@ip"]}}"#,
    r#"{"applications": {"a..b": ["@ip"]}}"#,
    r#"{"applications": {"(a": ["@ip"]}}"#,
    r#"{"applications": {"!!a": ["@ip"]}}"#,
    r#"{"applications": {"": ["@ip"]}}"#,
    r#"{"applications": {" a . b ": ["@ip"]}}"#,
    r#"{"applications": {"freeform": ["@ip"], "databag": ["@ip"]}}"#,
    r#"{"applications": {"$heap_memory || $trace_metric || $log || $sdk || $replay": ["@ip"]}}"#,
    r#"{"applications": {"$clientsdkinfo": ["@ip"]}}"#,
    r#"{"applications": {"extra.99999999999999999999999": ["@ip"]}}"#,
    // serde's readings: a struct from a list of its fields in order, an enum variant by index.
    "[]",
    "[1]",
    "[{}]",
    "[{}, {}, {}]",
    r#"[{}, {}, {"x": ["a"]}]"#,
    r#"[{"a": {"type": "pattern", "pattern": "("}}, {}, {"x": ["a"]}]"#,
    "[{}, {}, {}, {}]",
    "[null]",
    "[{}, null]",
    "[{}, [], {}]",
    r#"[{}, {"hashKey": 5}]"#,
    r#"{"type": 5}"#,
    r#"{"vars": []}"#,
    r#"{"vars": ["k"]}"#,
    r#"{"vars": [5]}"#,
    r#"{"vars": ["k", 1]}"#,
    r#"{"vars": null}"#,
    r#"{"vars": {"hashKey": null}}"#,
    r#"{"vars": {"other": 1}}"#,
    r#"{"rules": []}"#,
    r#"{"applications": []}"#,
    r#"{"rules": {"a": []}}"#,
    r#"{"rules": {"a": {"type": 0}}}"#,
    r#"{"rules": {"a": {"type": 1}}}"#,
    r#"{"rules": {"a": {"type": 1, "pattern": "x"}}}"#,
    r#"{"rules": {"a": {"type": 5}}}"#,
    r#"{"rules": {"a": {"type": 16}}}"#,
    r#"{"rules": {"a": {"type": 18}}}"#,
    r#"{"rules": {"a": {"type": 19}}}"#,
    r#"{"rules": {"a": {"type": 20}}}"#,
    r#"{"rules": {"a": {"type": -1}}}"#,
    r#"{"rules": {"a": {"type": null}}}"#,
    r#"{"rules": {"a": {"type": "anything", "redaction": {"method": 2}}}}"#,
    r#"{"rules": {"a": {"type": "pattern", "pattern": "x", "replaceGroups": []}}}"#,
    r#"{"rules": {"a": {"type": "multiple", "rules": []}}}"#,
    r#"{"rules": {"a": {"type": "anything", "extra": 1}}}"#,
    "true",
    " {} ",
];

#[test]
fn pii_config_verdicts_match_relay() {
    let relay = relay_verdicts(VERDICT_CASES);
    let mut mismatches = Vec::new();
    let mut refused = 0;
    for (case, (valid, reason)) in VERDICT_CASES.iter().zip(relay) {
        let ours = vigil_processing::scrub::validate_pii_config(case);
        refused += usize::from(!valid);
        if ours.is_ok() != valid {
            mismatches.push(format!("  {case}: vigil {ours:?} | relay {valid} {reason}"));
        }
    }
    assert!(refused >= 20, "the cases exercise refusals ({refused})");
    assert!(
        mismatches.is_empty(),
        "verdicts differ from Relay:\n{}",
        mismatches.join("\n")
    );
}
