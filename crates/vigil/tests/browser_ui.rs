//! The web UI in a real headless Chromium: the person's path from logging in to resolving the
//! Django app's error, driven by `tests/python/browser_ui.py` (Selenium with Debian's `chromium`
//! and `chromium-driver`, which `scripts/test.sh` installs when missing) against the real binary.
//! Screenshots of every page land in `target/screenshots/`.

mod common;

use std::path::Path;

use common::python::python_script;
use common::{repo_root, run_with_stdin, Vigil, ADMIN_EMAIL};
use serde_json::Value;

fn require(path: &str, variable: &str) {
    let path = std::env::var(variable).unwrap_or_else(|_| path.to_string());
    assert!(
        Path::new(&path).exists(),
        "no {path}: install Debian's chromium and chromium-driver (`bash scripts/test.sh` does, \
         as root), or point {variable} at them"
    );
}

#[test]
fn a_person_logs_in_onboards_django_finds_the_error_and_resolves_it() {
    require("/usr/bin/chromium", "VIGIL_CHROMIUM");
    require("/usr/bin/chromedriver", "VIGIL_CHROMEDRIVER");
    let vigil = Vigil::start();
    let shots = repo_root().join("target/screenshots");
    // The Django app runs from its own directory, as in django_e2e: frames under it are in-app.
    let mut command = python_script("browser_ui.py");
    command
        .arg(&vigil.base_url)
        .arg(ADMIN_EMAIL)
        .arg("correct horse battery staple")
        .arg(&shots);
    let output = run_with_stdin(command, "");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "browser_ui.py failed with {} (screenshots in {}):\nstdout: {stdout}\nstderr: {}\nserver log:\n{}",
        output.status,
        shots.display(),
        String::from_utf8_lossy(&output.stderr),
        vigil.log()
    );
    let result: Value = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("browser_ui.py printed no JSON result: {stdout}"));

    // What the browser did is what the API sees: the issue is resolved.
    let issues = vigil
        .api_get(
            "/api/0/organizations/default/issues/",
            &[("query", "is:resolved")],
        )
        .ok("GET resolved issues");
    let issue = issues
        .as_array()
        .and_then(|l| l.first())
        .unwrap_or_else(|| panic!("no resolved issue: {issues}"));
    assert_eq!(issue["title"], "ZeroDivisionError: division by zero");
    assert_eq!(
        issue["permalink"].as_str(),
        result["issue_url"].as_str(),
        "the page the browser opened is the API's permalink"
    );
    for shot in result["screenshots"].as_array().into_iter().flatten() {
        let path = shot.as_str().unwrap_or_default();
        assert!(
            std::fs::metadata(path).is_ok_and(|m| m.len() > 1000),
            "no screenshot at {path}"
        );
    }
}
