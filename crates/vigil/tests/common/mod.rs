//! The end-to-end harness: runs the real `vigil` binary the way a user does.
//!
//! [`Vigil::start`] gives each test its own server on a free port with a temporary data dir, an
//! admin user and an API token, all made through the CLI (`vigil user create`, `vigil token
//! create`) against that data dir. The server's stderr goes to a file that is printed when a test
//! fails, so a failure says what the server logged. Helpers speak the web API with the token.
//! [`Vigil::start_on_database`] does the same on a PostgreSQL database (server and CLI get its
//! URL as `VIGIL_DATABASE_URL`).
//!
//! [`python`] runs the Python apps and scripts of `tests/python`; [`backend`] starts a server on
//! SQLite or PostgreSQL for tests that run on both.
//!
//! Every test binary includes this module and uses only part of it.
#![allow(dead_code)]

pub mod backend;
pub mod python;
pub mod raw_http;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a fresh server may take to answer `/_health` (it runs migrations first).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an acknowledged event may take to become readable through the API.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

/// Removes every `VIGIL_*` setting of the test's own environment from a command (except the
/// tests' own `VIGIL_TEST_*`), so that no setting of the machine points a test's server or CLI
/// at something other than its own temp dir, or changes its limits.
fn clear_vigil_env(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if name.starts_with("VIGIL_") && !name.starts_with("VIGIL_TEST_") {
            command.env_remove(name);
        }
    }
}

/// The binary under test, built by Cargo for this test run.
pub fn vigil_bin() -> &'static str {
    env!("CARGO_BIN_EXE_vigil")
}

/// The repository root (this crate lives in `crates/vigil`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root above crates/vigil exists")
}

/// A TCP port on 127.0.0.1 that nothing listens on right now, and never the same one twice in
/// one test binary, whose tests run in parallel.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let listener =
            TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 to find a free port");
        let port = listener
            .local_addr()
            .expect("local address of a bound listener")
            .port();
        let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if handed_out.insert(port) {
            return port;
        }
    }
}

/// Retries `attempt` until it returns `Ok` or `timeout` passes; the panic names `what` and the
/// last reason it was not ready.
#[track_caller]
pub fn poll<T>(what: &str, timeout: Duration, mut attempt: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match attempt() {
            Ok(value) => return value,
            Err(reason) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}: {reason}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// A DSN as `vigil project create` prints it: `http://<public_key>@<host>/<project_id>`.
#[derive(Debug, Clone)]
pub struct Dsn {
    pub raw: String,
    pub public_key: String,
    pub host: String,
    pub project_id: String,
}

impl Dsn {
    pub fn parse(raw: &str) -> Dsn {
        let rest = raw
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("DSN {raw:?} does not start with http://"));
        let (public_key, rest) = rest
            .split_once('@')
            .unwrap_or_else(|| panic!("DSN {raw:?} has no key@host"));
        let (host, project_id) = rest
            .rsplit_once('/')
            .unwrap_or_else(|| panic!("DSN {raw:?} has no /<project_id>"));
        assert!(
            public_key.len() == 32 && public_key.bytes().all(|b| b.is_ascii_hexdigit()),
            "DSN {raw:?}: the public key is not 32 hex digits"
        );
        assert!(
            !project_id.is_empty() && project_id.bytes().all(|b| b.is_ascii_digit()),
            "DSN {raw:?}: the project id is not a number"
        );
        Dsn {
            raw: raw.to_string(),
            public_key: public_key.to_string(),
            host: host.to_string(),
            project_id: project_id.to_string(),
        }
    }
}

/// What the web API answered: status, the `Link` header and the body as JSON (a JSON string
/// holding the raw text when the body was not JSON).
#[derive(Debug)]
pub struct ApiResponse {
    pub status: u16,
    pub link: Option<String>,
    pub body: Value,
}

impl ApiResponse {
    /// The body, after asserting the status was 200.
    #[track_caller]
    pub fn ok(self, request: &str) -> Value {
        assert_eq!(
            self.status, 200,
            "{request} answered {}: {}",
            self.status, self.body
        );
        self.body
    }

    /// The `cursor` of the `rel="next"` link when it says `results="true"`.
    pub fn next_cursor(&self) -> Option<String> {
        let link = self.link.as_deref()?;
        link.split(',').find_map(|part| {
            let attr = |name: &str| {
                part.split(';').find_map(|p| {
                    p.trim()
                        .strip_prefix(&format!("{name}=\""))
                        .map(|v| v.trim_end_matches('"'))
                })
            };
            (attr("rel") == Some("next") && attr("results") == Some("true"))
                .then(|| attr("cursor").map(str::to_string))
                .flatten()
        })
    }
}

/// `vigil serve` on `port` with `data_dir` (and the database at `database_url`, when given),
/// its output going to the given files.
fn serve(
    data_dir: &Path,
    database_url: Option<&str>,
    port: u16,
    base_url: &str,
    stdout: File,
    stderr: File,
    extra_args: &[&str],
) -> Child {
    let mut command = Command::new(vigil_bin());
    clear_vigil_env(&mut command);
    if let Some(url) = database_url {
        command.env("VIGIL_DATABASE_URL", url);
    }
    command
        .arg("serve")
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--public-url")
        .arg(base_url)
        .args(extra_args)
        // The log is read from a file: no colour codes in it.
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("spawn `vigil serve`")
}

/// One running `vigil serve` with its own data dir, admin user and API token.
pub struct Vigil {
    child: Child,
    data_dir: tempfile::TempDir,
    /// The PostgreSQL database of the server and the CLI, or none for SQLite in `data_dir`.
    database_url: Option<String>,
    stderr_log: PathBuf,
    pub port: u16,
    /// `http://127.0.0.1:<port>`, also the server's `--public-url`.
    pub base_url: String,
    /// An API token of the admin user, for `Authorization: Bearer`.
    pub token: String,
    http: reqwest::blocking::Client,
}

pub const ADMIN_EMAIL: &str = "admin@example.com";
/// The admin's password, for tests that log in through the web form.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

impl Vigil {
    /// Starts a server on a free port and waits until `/_health` answers 200.
    pub fn start() -> Vigil {
        Vigil::start_with(&[])
    }

    /// Like [`Vigil::start`], with more `vigil serve` flags.
    pub fn start_with(extra_args: &[&str]) -> Vigil {
        Vigil::start_on(None, extra_args)
    }

    /// Like [`Vigil::start`], on the PostgreSQL database at `database_url` (the CLI commands
    /// use it too).
    pub fn start_on_database(database_url: &str) -> Vigil {
        Vigil::start_on(Some(database_url), &[])
    }

    /// Another node on the PostgreSQL database of `first`, which made the admin user: a server
    /// of its own (port, data dir) that shares the database and uses `first`'s API token.
    pub fn start_another_node(first: &Vigil) -> Vigil {
        Vigil::start_another_node_with(first, &[])
    }

    /// Like [`Vigil::start_on_database`], with more `vigil serve` flags.
    pub fn start_on_database_with(database_url: &str, extra_args: &[&str]) -> Vigil {
        Vigil::start_on(Some(database_url), extra_args)
    }

    /// Like [`Vigil::start_another_node`], with more `vigil serve` flags.
    pub fn start_another_node_with(first: &Vigil, extra_args: &[&str]) -> Vigil {
        let database_url = first
            .database_url
            .as_deref()
            .expect("another node shares a PostgreSQL database; the first node has none");
        let mut vigil = Vigil::start_on_without_user(Some(database_url), extra_args);
        vigil.token = first.token.clone();
        vigil
    }

    fn start_on(database_url: Option<&str>, extra_args: &[&str]) -> Vigil {
        let mut vigil = Vigil::start_on_without_user(database_url, extra_args);
        vigil.token = vigil.create_user_and_token(ADMIN_EMAIL);
        vigil
    }

    fn start_on_without_user(database_url: Option<&str>, extra_args: &[&str]) -> Vigil {
        // Another process may take the free port between our probe and the server's bind;
        // then the server exits at once, and a new port is tried.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut vigil = Vigil::spawn(database_url, extra_args);
            match vigil.wait_healthy() {
                Ok(()) => return vigil,
                Err(reason) if attempts < 3 && reason.contains("in use") => continue,
                Err(reason) => panic!("{reason}"),
            }
        }
    }

    fn spawn(database_url: Option<&str>, extra_args: &[&str]) -> Vigil {
        let data_dir = tempfile::Builder::new()
            .prefix("vigil-e2e-")
            .tempdir()
            .expect("create a temporary data dir");
        let port = free_port();
        let base_url = format!("http://127.0.0.1:{port}");
        let stderr_log = data_dir.path().join("serve.stderr.log");
        let stderr = File::create(&stderr_log).expect("create the server's stderr log");
        let stdout = stderr
            .try_clone()
            .expect("share the server's log file for stdout");
        let child = serve(
            data_dir.path(),
            database_url,
            port,
            &base_url,
            stdout,
            stderr,
            extra_args,
        );
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("build an HTTP client");
        Vigil {
            child,
            data_dir,
            database_url: database_url.map(str::to_owned),
            stderr_log,
            port,
            base_url,
            token: String::new(),
            http,
        }
    }

    /// Waits for `/_health` to answer 200; the error says why it did not, with the log.
    fn wait_healthy(&mut self) -> Result<(), String> {
        let url = self.url("/_health");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the server process") {
                return Err(format!(
                    "`vigil serve` exited with {status} before it was healthy:\n{}",
                    self.log()
                ));
            }
            if let Ok(response) = self.http.get(&url).send() {
                if response.status() == 200 {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "`vigil serve` not healthy after {START_TIMEOUT:?}:\n{}",
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The PostgreSQL database the server runs on, or none for SQLite in [`Vigil::data_dir`].
    pub fn database_url(&self) -> Option<&str> {
        self.database_url.as_deref()
    }

    /// Kills the server with SIGKILL (no shutdown of any kind) and waits for it to be gone.
    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("reap the killed server");
    }

    /// Starts the server again on the same data dir and port (default flags), and waits until
    /// it is healthy.
    pub fn restart(&mut self) {
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.stderr_log)
            .expect("reopen the server's log");
        let stdout = log.try_clone().expect("share the log for stdout");
        self.child = serve(
            self.data_dir.path(),
            self.database_url.as_deref(),
            self.port,
            &self.base_url,
            stdout,
            log,
            &[],
        );
        if let Err(reason) = self.wait_healthy() {
            panic!("restart: {reason}");
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(&self.stderr_log) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// Sends SIGTERM and waits for the process to exit; the exit status is returned.
    #[track_caller]
    pub fn terminate(&mut self, timeout: Duration) -> std::process::ExitStatus {
        // The shell's builtin `kill`: a slim Debian has no /bin/kill (procps).
        let status = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", self.child.id())])
            .status()
            .expect("run `sh -c kill -TERM`");
        assert!(status.success(), "`kill -TERM {}` failed", self.child.id());
        poll("the server to exit after SIGTERM", timeout, || {
            self.child
                .try_wait()
                .expect("poll the server process")
                .ok_or("still running".into())
        })
    }

    /// A `vigil` CLI command against this server's data dir and public URL.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(vigil_bin());
        clear_vigil_env(&mut command);
        // The contract's env vars rather than flags: they hold wherever a subcommand is.
        command
            .env("VIGIL_DATA_DIR", self.data_dir.path())
            .env("VIGIL_PUBLIC_URL", &self.base_url)
            .args(args);
        if let Some(url) = &self.database_url {
            command.env("VIGIL_DATABASE_URL", url);
        }
        command
    }

    /// Runs a CLI command with `stdin`, asserts it succeeded and returns its trimmed stdout.
    #[track_caller]
    pub fn cli_with_stdin(&self, args: &[&str], stdin: &str) -> String {
        let output = run_with_stdin(self.command(args), stdin);
        assert!(
            output.status.success(),
            "`vigil {}` failed with {}:\nstdout: {}\nstderr: {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .unwrap_or_else(|_| panic!("`vigil {}` printed invalid UTF-8", args.join(" ")))
            .trim()
            .to_string()
    }

    /// Runs a CLI command with no input, asserts it succeeded and returns its trimmed stdout.
    #[track_caller]
    pub fn cli(&self, args: &[&str]) -> String {
        self.cli_with_stdin(args, "")
    }

    /// `vigil user create --admin` then `vigil token create`; returns the token.
    pub fn create_user_and_token(&self, email: &str) -> String {
        self.cli_with_stdin(
            &[
                "user",
                "create",
                "--email",
                email,
                "--password-stdin",
                "--admin",
            ],
            &format!("{ADMIN_PASSWORD}\n"),
        );
        let token = self.cli(&["token", "create", "--email", email]);
        assert!(
            token
                .strip_prefix("sntryu_")
                .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())),
            "`vigil token create` printed {token:?}, not sntryu_<64 hex> alone"
        );
        token
    }

    /// `vigil project create SLUG --platform P`; returns the DSN it printed, checked.
    #[track_caller]
    pub fn create_project(&self, slug: &str, platform: &str) -> Dsn {
        let out = self.cli(&["project", "create", slug, "--platform", platform]);
        assert!(
            !out.contains('\n'),
            "`vigil project create` printed more than the DSN: {out:?}"
        );
        let dsn = Dsn::parse(&out);
        assert_eq!(
            dsn.host,
            format!("127.0.0.1:{}", self.port),
            "the DSN's host is not the --public-url's"
        );
        dsn
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Waits until the server's ingest queue is empty (`vigil_queue_depth 0` at `/metrics`):
    /// everything acknowledged so far is processed and readable.
    #[track_caller]
    pub fn settle(&self) {
        poll("the ingest queue to drain", EVENT_TIMEOUT, || {
            let text = self
                .http
                .get(self.url("/metrics"))
                .send()
                .and_then(|r| r.text())
                .map_err(|e| format!("GET /metrics: {e}"))?;
            let depth = text
                .lines()
                .find_map(|line| line.strip_prefix("vigil_queue_depth "))
                .ok_or_else(|| format!("no vigil_queue_depth in /metrics: {text}"))?;
            if depth.trim() == "0" {
                Ok(())
            } else {
                Err(format!("vigil_queue_depth is {depth}"))
            }
        })
    }

    /// Logs the admin in through the login form; returns the `Cookie` header of the session.
    pub fn web_login(&self) -> String {
        let http = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("build an HTTP client");
        let cookies_of = |response: &reqwest::blocking::Response| -> Vec<String> {
            response
                .headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
                .filter(|c| !c.ends_with('='))
                .collect()
        };
        let form = http
            .get(self.url("/auth/login/"))
            .send()
            .expect("GET /auth/login/");
        assert_eq!(form.status(), 200, "GET /auth/login/");
        let first = cookies_of(&form);
        let html = form.text().expect("the login form");
        let csrf = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no csrf field in the login form:\n{html}"))
            .to_string();
        let response = http
            .post(self.url("/auth/login/"))
            .header("cookie", first.join("; "))
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
            ])
            .send()
            .expect("POST /auth/login/");
        assert!(
            response.status().is_redirection(),
            "the login did not redirect: {}",
            response.status()
        );
        let cookies = cookies_of(&response);
        assert!(!cookies.is_empty(), "the login set no session cookie");
        cookies.join("; ")
    }

    /// The HTML of the web page at `path`, with the session `cookie` (from [`Vigil::web_login`]).
    #[track_caller]
    pub fn web_page(&self, cookie: &str, path: &str) -> String {
        let response = self
            .http
            .get(self.url(path))
            .header("cookie", cookie)
            .send()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(response.status(), 200, "GET {path} (the web page)");
        response.text().expect("the page's HTML")
    }

    /// The HTTP client, for requests the helpers below don't make (no token, other methods).
    pub fn http(&self) -> &reqwest::blocking::Client {
        &self.http
    }

    /// `GET path` with the admin token; `query` pairs are URL-encoded.
    pub fn api_get(&self, path: &str, query: &[(&str, &str)]) -> ApiResponse {
        let request = self.http.get(self.url(path)).query(query);
        self.api_send(request, &format!("GET {path}"))
    }

    /// `PUT path` with a JSON body and the admin token.
    pub fn api_put(&self, path: &str, body: &Value) -> ApiResponse {
        let request = self.http.put(self.url(path)).json(body);
        self.api_send(request, &format!("PUT {path}"))
    }

    /// Sends `request` with the admin token; `what` names it in a panic.
    fn api_send(&self, request: reqwest::blocking::RequestBuilder, what: &str) -> ApiResponse {
        into_api_response(request.bearer_auth(&self.token).send(), what)
    }

    /// Polls `GET path` until it answers 200 and `ready` accepts the body.
    #[track_caller]
    pub fn api_poll(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, &str)],
        ready: impl Fn(&Value) -> bool,
    ) -> Value {
        poll(what, EVENT_TIMEOUT, || {
            let response = self.api_get(path, query);
            if response.status == 200 && ready(&response.body) {
                Ok(response.body)
            } else {
                Err(format!(
                    "GET {path} answered {}: {}",
                    response.status, response.body
                ))
            }
        })
    }

    /// Every issue of `project` matching `query`, following the `Link` cursors.
    pub fn project_issues(&self, project: &str, query: &str) -> Vec<Value> {
        let path = format!("/api/0/projects/default/{project}/issues/");
        self.api_pages(&path, &[("query", query)])
    }

    /// Every event id of the issue `issue_id`, following the `Link` cursors.
    pub fn issue_event_ids(&self, issue_id: &str) -> Vec<String> {
        let path = format!("/api/0/issues/{issue_id}/events/");
        self.api_pages(&path, &[("limit", "100")])
            .iter()
            .map(|e| e["eventID"].as_str().expect("eventID").to_string())
            .collect()
    }

    /// Every item of the list `GET path` answers, page after page through the `Link` cursors.
    pub fn api_pages(&self, path: &str, query: &[(&str, &str)]) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _page in 0..1000 {
            let mut params = query.to_vec();
            if let Some(cursor) = cursor.as_deref() {
                params.push(("cursor", cursor));
            }
            let response = self.api_get(path, &params);
            let next = response.next_cursor();
            let body = response.ok(&format!("GET {path} {query:?}"));
            let page = body
                .as_array()
                .unwrap_or_else(|| panic!("{path} is not a list: {body}"));
            items.extend(page.iter().cloned());
            match next {
                Some(next) => cursor = Some(next),
                None => return items,
            }
        }
        panic!("{path} {query:?}: more than 1000 pages, the cursor does not advance")
    }
}

impl Drop for Vigil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            print_log_tail(
                &format!("`vigil serve` on port {}", self.port),
                &self.log(),
                80,
            );
        }
    }
}

/// Prints the last `lines` lines of `log`, the output of `what`, for a failing test to show.
pub fn print_log_tail(what: &str, log: &str, lines: usize) {
    let tail: Vec<&str> = log.lines().rev().take(lines).collect();
    eprintln!("---- last lines of {what} ----");
    for line in tail.into_iter().rev() {
        eprintln!("{line}");
    }
    eprintln!("---- end of {what}'s log ----");
}

fn into_api_response(
    result: reqwest::Result<reqwest::blocking::Response>,
    request: &str,
) -> ApiResponse {
    let response = result.unwrap_or_else(|e| panic!("{request}: no answer from the server: {e}"));
    let status = response.status().as_u16();
    let link = response
        .headers()
        .get("link")
        .map(|v| v.to_str().expect("Link header is ASCII").to_string());
    let text = response
        .text()
        .unwrap_or_else(|e| panic!("{request}: reading the body: {e}"));
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    ApiResponse { status, link, body }
}

/// Runs `command` with `stdin` written to it and its output captured.
pub fn run_with_stdin(mut command: Command, stdin: &str) -> Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
    let mut pipe = child.stdin.take().expect("stdin was piped");
    // A command that does not read its stdin closes the pipe; that is not our failure.
    let _ = pipe.write_all(stdin.as_bytes());
    drop(pipe);
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait for {command:?}: {e}"))
}

/// Runs `command` with no input, asserts it succeeded (`what` names it in the failure, with its
/// output) and returns what it printed.
#[track_caller]
pub fn run_ok(command: Command, what: &str) -> String {
    let output = run_with_stdin(command, "");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Sentry's event id form: 32 lowercase hex digits, no dashes.
pub fn normalize_event_id(id: &str) -> String {
    id.replace('-', "").to_ascii_lowercase()
}

/// The `{key, value}` pairs of an event's `tags` as tuples.
pub fn tags(event: &Value) -> Vec<(String, String)> {
    event["tags"]
        .as_array()
        .unwrap_or_else(|| panic!("event tags are not a list: {}", event["tags"]))
        .iter()
        .map(|tag| {
            (
                tag["key"].as_str().unwrap_or_default().to_string(),
                tag["value"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The `data` of the event's entry of `kind` (`exception`, `request`, `breadcrumbs`, …).
pub fn entry<'a>(event: &'a Value, kind: &str) -> Option<&'a Value> {
    event["entries"]
        .as_array()?
        .iter()
        .find(|e| e["type"] == kind)
        .map(|e| &e["data"])
}
