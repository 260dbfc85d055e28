//! Runs the load generator against a real `vigil serve`, the way BENCHMARKS.md does.
//!
//! The `vigil` binary belongs to another package, so Cargo does not build it for this test:
//! the newest of `target/release/vigil` and `target/debug/vigil` is used, and the test is
//! skipped (with a message) when neither exists. It asserts counts only, never timings: the
//! machine running the suite may be busy with other tests.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The newest `vigil` binary Cargo left in the workspace's target dir.
fn vigil_bin() -> Option<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| workspace_root().join(dir))
        .unwrap_or_else(|| workspace_root().join("target"));
    ["release", "debug"]
        .iter()
        .map(|profile| target.join(profile).join("vigil"))
        .filter_map(|path| {
            let modified = path.metadata().ok()?.modified().ok()?;
            Some((modified, path))
        })
        .max()
        .map(|(_, path)| path)
}

fn fixtures_dir() -> PathBuf {
    workspace_root().join("../shared/fixtures/sdk-payloads")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind 127.0.0.1:0 to find a free port")
        .port()
}

fn vigil(bin: &Path) -> Command {
    let mut command = Command::new(bin);
    // No `VIGIL_*` setting of the machine may point the server or the CLI somewhere other
    // than the temp dir, or change its limits.
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|name| name.starts_with("VIGIL_")) {
            command.env_remove(name);
        }
    }
    command
}

/// Kills the server when the test ends, passed or not.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.strip_prefix(name))
        .filter(|rest| rest.starts_with([' ', '{']))
        .filter_map(|rest| rest.rsplit(' ').next()?.parse::<f64>().ok())
        .reduce(|a, b| a + b)
}

/// A running `vigil serve` on a fresh data dir with one project, or `None` (after saying why)
/// when there is no binary or no fixtures to test with.
struct Running {
    server: Server,
    data_dir: tempfile::TempDir,
    dsn: String,
    base_url: String,
    http: reqwest::blocking::Client,
}

fn start_vigil() -> Option<Running> {
    let Some(bin) = vigil_bin() else {
        eprintln!(
            "skipped: no vigil binary in target/release or target/debug \
             (build it with `cargo build -p vigil`)"
        );
        return None;
    };
    if !fixtures_dir().is_dir() {
        eprintln!("skipped: no SDK fixtures at {}", fixtures_dir().display());
        return None;
    }

    let data_dir = tempfile::Builder::new()
        .prefix("vigil-loadgen-")
        .tempdir()
        .expect("create a temporary data dir");
    let port = free_port();
    let base_url = format!("http://127.0.0.1:{port}");

    let created = vigil(&bin)
        .arg("--data-dir")
        .arg(data_dir.path())
        .args(["--public-url", &base_url, "project", "create", "load"])
        .output()
        .expect("run `vigil project create`");
    assert!(
        created.status.success(),
        "`vigil project create load` failed: {}",
        String::from_utf8_lossy(&created.stderr)
    );
    let dsn = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    assert!(dsn.starts_with("http://"), "not a DSN: {dsn:?}");

    let log = data_dir.path().join("serve.log");
    let log_file = File::create(&log).expect("create the server log");
    let server = Server {
        child: vigil(&bin)
            .arg("serve")
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(["--public-url", &base_url])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("share the log file"))
            .stderr(log_file)
            .spawn()
            .expect("spawn `vigil serve`"),
        log,
    };

    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("build an HTTP client");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http
        .get(format!("{base_url}/_health"))
        .send()
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(
            Instant::now() < deadline,
            "`vigil serve` not healthy after 30 s:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Running {
        server,
        data_dir,
        dsn,
        base_url,
        http,
    })
}

/// Runs `vigil-loadgen` as `command` has it; asserts it succeeded and returns what it printed.
fn run_loadgen(mut command: Command) -> String {
    let output = command.output().expect("run vigil-loadgen");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "vigil-loadgen failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn loadgen_events_are_all_accepted_by_vigil() {
    let Some(Running {
        server,
        data_dir: _data_dir,
        dsn,
        base_url,
        http,
    }) = start_vigil()
    else {
        return;
    };

    let mut loadgen = Command::new(env!("CARGO_BIN_EXE_vigil-loadgen"));
    loadgen
        .args(["--dsn", &dsn, "--fixtures"])
        .arg(fixtures_dir())
        .args(["--events", "300", "--concurrency", "8", "--issues", "5"])
        .args(["--template", "django-zerodivision", "--json"]);
    let stdout = run_loadgen(loadgen);
    assert_eq!(
        stdout.lines().count(),
        1,
        "--json prints one line: {stdout}"
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("the report is JSON");

    assert_eq!(report["sent"], 300, "{report}");
    assert_eq!(report["status"]["200"], 300, "{report}\n{}", server.log());
    for other in [
        "429",
        "4xx",
        "5xx",
        "other",
        "connection_errors",
        "interrupted",
    ] {
        assert_eq!(report["status"][other], 0, "{other}: {report}");
    }
    assert_eq!(report["templates"], 1, "{report}");
    assert!(
        report["latency_ms"]["p99"].as_f64().is_some(),
        "latency measured: {report}"
    );
    assert!(
        report["processed"]["events"].as_f64() >= Some(300.0),
        "the drain saw the events processed: {report}"
    );

    let metrics = http
        .get(format!("{base_url}/metrics"))
        .send()
        .and_then(|r| r.text())
        .expect("GET /metrics");
    let accepted = metric(&metrics, "vigil_events_accepted_total")
        .unwrap_or_else(|| panic!("no vigil_events_accepted_total in /metrics:\n{metrics}"));
    assert!(accepted >= 300.0, "/metrics says {accepted} accepted");
}

#[test]
fn loadgen_transactions_are_all_stored_by_vigil() {
    let Some(running) = start_vigil() else {
        return;
    };
    let mut loadgen = Command::new(env!("CARGO_BIN_EXE_vigil-loadgen"));
    loadgen
        .args(["--dsn", &running.dsn, "--transactions", "--spans", "30"])
        .args(["--transaction-names", "7", "--n-plus-one-percent", "50"])
        .args(["--events", "120", "--concurrency", "8", "--json"]);
    let stdout = run_loadgen(loadgen);
    let report: Value = serde_json::from_str(stdout.trim()).expect("the report is JSON");
    assert_eq!(
        report["status"]["200"],
        120,
        "{report}\n{}",
        running.server.log()
    );
    assert_eq!(report["transactions"]["spans"], 30, "{report}");
    assert_eq!(report["processed"]["drained"], true, "{report}");
    assert_eq!(report["processed"]["events"], 120.0, "{report}");

    // The drain is read from the queue: check that every transaction and span was stored.
    let db = rusqlite::Connection::open_with_flags(
        running.data_dir.path().join("vigil.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the server's database");
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |row| row.get(0)).expect(sql) };
    assert_eq!(count("SELECT count(*) FROM transactions"), 120);
    assert_eq!(
        count("SELECT count(*) FROM spans"),
        120 * 30,
        "fresh span ids"
    );
    assert_eq!(
        count("SELECT count(DISTINCT trace_id) FROM transactions"),
        120
    );
    assert_eq!(count("SELECT count(DISTINCT name) FROM transactions"), 7);
    // About half of the sends carry an N+1 run; each name's run is one issue.
    let issues = count("SELECT count(*) FROM issues");
    assert!((1..=7).contains(&issues), "{issues} issues");
}
