//! The real `sentry-cli` (3.x, `.venv/bin/sentry-cli`) uploading source maps to the real
//! binary, on SQLite and on PostgreSQL, as a team's CI does: `sourcemaps inject` writes debug
//! IDs into a minified file and its map, `sourcemaps upload` sends them as an artifact bundle
//! (chunked, gzip'd, assembled), once without and once with `--release`. What was stored is
//! read back through the API (the bundle, its files and debug IDs) and the store's own lookups
//! (by debug ID, by release + URL); the same upload again stores nothing new; and a refused
//! upload makes sentry-cli fail printing Vigil's reason.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::backend::{test_on_both_backends, Backend, Server};
use common::python::sentry_cli_command;
use common::{run_ok, run_with_stdin, Vigil};
use serde_json::Value;
use vigil_store::prelude::*;

/// The code people wrote, and what a minifier made of it (with its map).
const ORIGINAL: &str = "function applyDiscount(total) {\n  return total * 0.9;\n}\n";
const MINIFIED: &str = "function a(n){return n*.9}\n//# sourceMappingURL=app.min.js.map\n";
const MAP: &str = r#"{"version":3,"file":"app.min.js","sources":["../src/checkout.js"],"sourcesContent":["function applyDiscount(total) {\n  return total * 0.9;\n}\n"],"names":["applyDiscount","total"],"mappings":"AAAA,SAASA,EAAcC,GACrB,OAAOA,EAAQ,EACjB"}"#;

/// Runs `sentry-cli ARGS` against `vigil` (organization `default`, project `shop`).
fn sentry_cli(vigil: &Vigil, args: &[&str]) -> Output {
    let mut command = sentry_cli_command(vigil, args);
    command.env("SENTRY_LOG_LEVEL", "warn");
    run_with_stdin(command, "")
}

/// [`sentry_cli`], asserting it succeeded; what it printed.
#[track_caller]
fn sentry_cli_ok(vigil: &Vigil, args: &[&str]) -> String {
    let mut command = sentry_cli_command(vigil, args);
    command.env("SENTRY_LOG_LEVEL", "warn");
    run_ok(command, &format!("sentry-cli {args:?}"))
}

/// A build output: `dist/app.min.js` and its map.
fn write_build(dir: &Path) -> PathBuf {
    let dist = dir.join("dist");
    std::fs::create_dir_all(&dist).expect("dist");
    std::fs::write(dist.join("app.min.js"), MINIFIED).expect("minified");
    std::fs::write(dist.join("app.min.js.map"), MAP).expect("map");
    std::fs::create_dir_all(dir.join("src")).expect("src");
    std::fs::write(dir.join("src/checkout.js"), ORIGINAL).expect("source");
    dist
}

/// The artifact bundles `shop` lists.
fn bundles(vigil: &Vigil) -> Vec<Value> {
    let listed = vigil
        .api_get("/api/0/projects/default/shop/files/artifact-bundles/", &[])
        .ok("GET artifact-bundles");
    listed.as_array().cloned().unwrap_or_default()
}

/// Runs `f` on the server's store, opened beside it.
fn with_store<T>(vigil: &Vigil, f: impl AsyncFnOnce(&dyn Store) -> T) -> T {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let store: Box<dyn Store> = match vigil.database_url() {
            Some(url) => Box::new(
                vigil_store::postgres::PgStore::connect(url)
                    .await
                    .expect("open the store"),
            ),
            None => Box::new(
                vigil_store::sqlite::SqliteStore::open(&vigil.data_dir().join("vigil.sqlite3"))
                    .expect("open the store"),
            ),
        };
        f(store.as_ref()).await
    })
}

fn a_ci_uploads_source_maps_with_sentry_cli(backend: Backend) {
    let server = Server::start(backend);
    let vigil = &server.vigil;
    let dsn = vigil.create_project("shop", "javascript");
    let project_id: i64 = dsn.project_id.parse().expect("a project id");
    let build = tempfile::tempdir().expect("a build dir");
    let dist = write_build(build.path());
    let dist_arg = dist.to_str().expect("a UTF-8 path");

    // `inject` writes one debug id into the file and its map.
    sentry_cli_ok(vigil, &["sourcemaps", "inject", dist_arg]);
    let minified = std::fs::read_to_string(dist.join("app.min.js")).expect("minified");
    let map: Value =
        serde_json::from_str(&std::fs::read_to_string(dist.join("app.min.js.map")).expect("map"))
            .expect("a JSON map");
    let debug_id = map["debugId"]
        .as_str()
        .expect("inject wrote debugId into the map")
        .to_owned();
    assert!(
        minified.contains(&format!("//# debugId={debug_id}")),
        "{minified}"
    );

    // `upload` without a release: one bundle of two files, found by the debug id.
    let printed = sentry_cli_ok(vigil, &["sourcemaps", "upload", dist_arg]);
    let listed = bundles(vigil);
    assert_eq!(listed.len(), 1, "{listed:?}\n{printed}");
    assert_eq!(listed[0]["fileCount"], 2);
    assert_eq!(listed[0]["associations"], serde_json::json!([]));
    let bundle_id = listed[0]["bundleId"]
        .as_str()
        .expect("a bundle id")
        .to_owned();
    let files = vigil
        .api_get(
            &format!("/api/0/projects/default/shop/artifact-bundles/{bundle_id}/files/"),
            &[],
        )
        .ok("GET bundle files");
    let mut seen: Vec<(String, i64, String)> = files["files"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["filePath"].as_str().unwrap_or_default().to_owned(),
                f["fileType"].as_i64().unwrap_or_default(),
                f["debugId"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("~/app.min.js".to_owned(), 2, debug_id.clone()),
            ("~/app.min.js.map".to_owned(), 3, debug_id.clone())
        ],
        "{files}"
    );
    let (found, chunks_before) = with_store(vigil, async |store| {
        (
            store
                .artifact_bundles_for_debug_id(project_id, &debug_id)
                .await
                .expect("lookup"),
            store.chunk_totals().await.expect("chunk totals"),
        )
    });
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].bundle_id, bundle_id);
    let bytes = with_store(vigil, async |store| {
        store
            .artifact_bundle_bytes(found[0].id)
            .await
            .expect("bytes")
    });
    let bytes = bytes.expect("the bundle's bytes");
    assert_eq!(bytes.len() as i64, found[0].size);
    assert!(bytes.starts_with(b"SYSB"), "sentry-cli's bundle header");

    // The same upload again stores nothing new.
    let again = sentry_cli_ok(vigil, &["sourcemaps", "upload", dist_arg]);
    assert!(
        again.contains("Nothing to upload, all files are on the server"),
        "{again}"
    );
    let chunks_after = with_store(vigil, async |store| {
        store.chunk_totals().await.expect("chunk totals")
    });
    assert_eq!(
        chunks_after, chunks_before,
        "the same bytes are stored once"
    );
    let listed = bundles(vigil);
    assert_eq!(listed.len(), 1, "{listed:?}");

    // With a release (and dist): associated with it, the release made, found by URL.
    sentry_cli_ok(
        vigil,
        &[
            "sourcemaps",
            "upload",
            "--release",
            "shop@1.0",
            "--dist",
            "web",
            dist_arg,
        ],
    );
    let release = vigil
        .api_get("/api/0/organizations/default/releases/shop@1.0/", &[])
        .ok("GET release");
    assert_eq!(release["version"], "shop@1.0");
    let associated: Vec<Value> = bundles(vigil)
        .into_iter()
        .flat_map(|b| b["associations"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(
        associated,
        [serde_json::json!({"release": "shop@1.0", "dist": "web"})]
    );
    let by_url = with_store(vigil, async |store| {
        store
            .artifact_bundles_for_url(project_id, "shop@1.0", Some("web"), "~/app.min.js")
            .await
            .expect("lookup")
    });
    assert_eq!(by_url.len(), 1, "{by_url:?}");
    assert_eq!(by_url[0].release.as_deref(), Some("shop@1.0"));

    // A refused upload fails, and sentry-cli prints why.
    let refused = sentry_cli(
        vigil,
        &["sourcemaps", "upload", "--project", "nope", dist_arg],
    );
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        !refused.status.success(),
        "an unknown project was accepted:\n{printed}"
    );
    assert!(
        printed.contains("nope is not a project of organization default"),
        "{printed}"
    );
}

test_on_both_backends!(
    a_ci_uploads_source_maps_with_sentry_cli,
    sourcemaps_upload_against_sqlite,
    sourcemaps_upload_against_postgres
);
