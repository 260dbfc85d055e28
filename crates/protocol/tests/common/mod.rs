//! Loading the captured SDK requests of `shared/fixtures/sdk-payloads` (see its README).

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde_json::Value;

/// One captured request whose body is an envelope.
pub struct EnvelopeFixture {
    /// `scenario/NNN-method-path`, e.g. `python-attachment/001-post-api-42-envelope`.
    pub name: String,
    /// The decoded body: `body.decoded` when the request was compressed, else `body.bin`.
    pub body: Bytes,
}

pub fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/sdk-payloads")
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Every envelope request, in scenario and arrival order. The legacy `/store/` bodies (plain
/// event JSON) and `/api/0/` web-API calls are not envelopes and are left out.
pub fn envelope_fixtures() -> Vec<EnvelopeFixture> {
    let mut fixtures = Vec::new();
    for scenario in sorted_dirs(&fixtures_root()) {
        for request in sorted_dirs(&scenario) {
            let meta = fs::read_to_string(request.join("request.json"))
                .unwrap_or_else(|e| panic!("{}: {e}", request.display()));
            let meta: Value = serde_json::from_str(&meta).expect("request.json is JSON");
            let path = meta["path"].as_str().expect("request.json has a path");
            if path.contains("/store/") || path.starts_with("/api/0/") {
                continue;
            }
            let decoded = request.join("body.decoded");
            let body_path = if decoded.exists() {
                decoded
            } else {
                request.join("body.bin")
            };
            let body =
                fs::read(&body_path).unwrap_or_else(|e| panic!("{}: {e}", body_path.display()));
            let name = format!(
                "{}/{}",
                scenario.file_name().unwrap_or_default().to_string_lossy(),
                request.file_name().unwrap_or_default().to_string_lossy()
            );
            fixtures.push(EnvelopeFixture {
                name,
                body: Bytes::from(body),
            });
        }
    }
    fixtures
}
