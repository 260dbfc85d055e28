//! The Python side of the end-to-end tests: the venv's interpreter, and the apps and scripts of
//! `tests/python` run the way a user runs them, with what they print read back as JSON lines.
//! One copy, so that every test finds the venv and reports a failing script the same way.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

use super::{repo_root, run_with_stdin, Dsn, Vigil};

/// The Python that has the pinned `sentry-sdk`, Django, Celery, redis, aiosmtpd and Selenium:
/// `.venv/bin/python` (made by `scripts/test.sh`), or `$VIGIL_TEST_PYTHON`.
pub fn python() -> PathBuf {
    let python = match std::env::var_os("VIGIL_TEST_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => repo_root().join(".venv/bin/python"),
    };
    assert!(
        python.exists(),
        "no Python for the end-to-end tests at {}: run `bash scripts/test.sh` once (it makes \
         .venv with tests/python/requirements.txt), or set VIGIL_TEST_PYTHON",
        python.display()
    );
    python
}

/// The venv's `sentry-cli` (PyPI, pinned in `tests/python/requirements.txt`), beside its Python.
pub fn sentry_cli_path() -> PathBuf {
    let python = python();
    let cli = python
        .parent()
        .expect("the venv's bin directory")
        .join("sentry-cli");
    assert!(
        cli.is_file(),
        "no sentry-cli at {}: run `bash scripts/test.sh` once (it installs \
         tests/python/requirements.txt into .venv)",
        cli.display()
    );
    cli
}

/// `sentry-cli ARGS` against `vigil` for organization `default` and project `shop`, as a team's
/// CI runs it (token and URL in the environment, no update check, no DSN).
pub fn sentry_cli_command(vigil: &Vigil, args: &[&str]) -> Command {
    let mut command = Command::new(sentry_cli_path());
    command
        .args(args)
        .env("SENTRY_URL", format!("{}/", vigil.base_url))
        .env("SENTRY_AUTH_TOKEN", &vigil.token)
        .env("SENTRY_ORG", "default")
        .env("SENTRY_PROJECT", "shop")
        .env("SENTRY_DISABLE_UPDATE_CHECK", "1")
        .env("SENTRYCLI_SKIP_DOWNLOAD", "1")
        .env_remove("SENTRY_DSN");
    command
}

/// `tests/python`, where the apps and scripts live.
pub fn python_dir() -> PathBuf {
    repo_root().join("tests/python")
}

/// The venv's Python, run from `tests/python`. The apps' own directory is their project root,
/// as `manage.py runserver` has it: the SDK marks frames under the working directory in-app.
pub fn python_command() -> Command {
    let mut command = Command::new(python());
    command.current_dir(python_dir());
    command
}

/// `python tests/python/<script>`, run from `tests/python`; add the arguments.
pub fn python_script(script: &str) -> Command {
    let mut command = python_command();
    command.arg(python_dir().join(script));
    command
}

/// Runs `tests/python/<script> <args>` and returns the JSON lines it printed.
pub fn run_python(script: &str, args: &[&str]) -> Vec<Value> {
    let mut command = python_script(script);
    command.args(args);
    json_lines(&format!("{script} {args:?}"), run_with_stdin(command, ""))
}

/// The JSON lines a successful command printed; panics with its output otherwise.
pub fn json_lines(what: &str, output: Output) -> Vec<Value> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{what} failed with {}:\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{what} printed a line that is not JSON ({e}): {line}"))
        })
        .collect()
}

/// Requests each of `paths` of the Django app (`tests/python/django_app.py`, given `options`
/// first) reporting to `dsn`; returns what it printed for each: `{"status", "body", …}`.
pub fn request_django_paths(dsn: &Dsn, options: &[&str], paths: &[&str]) -> Vec<Value> {
    let mut args = options.to_vec();
    args.push(dsn.raw.as_str());
    args.extend_from_slice(paths);
    let results = run_python("django_app.py", &args);
    assert_eq!(
        results.len(),
        paths.len(),
        "django_app.py answered {results:?}"
    );
    results
}
