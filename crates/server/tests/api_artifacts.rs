//! Sentry's upload API on the real router and a real SQLite store (the store's suite runs the
//! artifact store on PostgreSQL too; `crates/vigil/tests/sourcemaps_upload_e2e.rs` drives it
//! with the real sentry-cli): the chunk-upload options, chunks stored once, and every bad
//! upload refused with a status and a reason — a chunk unlike its checksum, corrupt,
//! truncated or over the chunk size, a body over the request size, missing chunks, a whole
//! unlike its checksum, a bundle that is not a zip or is cut short, an unknown project — then
//! assembling, re-associating, listing and deleting bundles, and the release-file endpoints.

mod common;

use std::io::Write;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::Harness;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use vigil_store::prelude::*;
use vigil_store::ReleaseFields;

const CHUNKS: &str = "/api/0/organizations/default/chunk-upload/";
const ASSEMBLE: &str = "/api/0/organizations/default/artifactbundle/assemble/";
const BUNDLES: &str = "/api/0/projects/default/shop/files/artifact-bundles/";
const BOUNDARY: &str = "vigil-test-boundary";
const DEBUG_ID: &str = "c8a1f5a2-0c6b-4b4e-9d44-0f0e6b2b9b6a";
const BUNDLE_ID: &str = "11111111-2222-3333-4444-555555555555";

fn sha1_hex(data: &[u8]) -> String {
    hex::encode(Sha1::digest(data))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

/// A multipart body of `(field, file name, bytes)` parts.
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, file_name, data) in parts {
        write!(
            out,
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\""
        )
        .unwrap();
        if let Some(file_name) = file_name {
            write!(out, "; filename=\"{file_name}\"").unwrap();
        }
        out.extend_from_slice(b"\r\nContent-Type: application/octet-stream\r\n\r\n");
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
    write!(out, "--{BOUNDARY}--\r\n").unwrap();
    out
}

/// A bundle as sentry-cli writes one: the `SYSB` header, then a zip with a manifest.
fn bundle_bytes(release: Option<&str>) -> Vec<u8> {
    let manifest = json!({
        "files": {
            "files/_/_/app.min.js": {"url": "~/app.min.js", "type": "minified_source",
                "headers": {"debug-id": DEBUG_ID, "sourcemap": "app.min.js.map"}},
            "files/_/_/app.min.js.map": {"url": "~/app.min.js.map", "type": "source_map",
                "headers": {"debug-id": DEBUG_ID}},
        },
        "debug_id": BUNDLE_ID,
        "org": "default",
        "release": release,
    });
    let mut out = std::io::Cursor::new(Vec::new());
    out.write_all(b"SYSB\x02\0\0\0").unwrap();
    let mut zip = zip::ZipWriter::new(out);
    let options = zip::write::SimpleFileOptions::default();
    for (path, text) in [
        ("files/_/_/app.min.js", "function a(n){return n*.9}"),
        (
            "files/_/_/app.min.js.map",
            "{\"version\":3,\"sources\":[],\"names\":[],\"mappings\":\"\"}",
        ),
        ("manifest.json", &manifest.to_string()),
    ] {
        zip.start_file(path, options).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

async fn uploader(h: &Harness) -> String {
    h.token_for(h.admin.id, &["project:releases"]).await
}

/// POSTs a multipart body with `token`.
async fn post_multipart(
    h: &Harness,
    token: &str,
    path: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let request = Request::post(path)
        .header("authorization", format!("Bearer {token}"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(body))
        .expect("request");
    let (status, _, body) = h.send_only(request).await;
    (status, body)
}

/// Uploads `data` as gzip'd chunks of at most `size` bytes; their checksums.
async fn upload_in_chunks(h: &Harness, token: &str, data: &[u8], size: usize) -> Vec<String> {
    let pieces: Vec<(String, Vec<u8>)> = data
        .chunks(size)
        .map(|piece| (sha1_hex(piece), gzip(piece)))
        .collect();
    let parts: Vec<(&str, Option<&str>, &[u8])> = pieces
        .iter()
        .map(|(name, gz)| ("file_gzip", Some(name.as_str()), gz.as_slice()))
        .collect();
    let (status, body) = post_multipart(h, token, CHUNKS, multipart(&parts)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    pieces.into_iter().map(|(name, _)| name).collect()
}

async fn assemble(h: &Harness, token: &str, body: Value) -> (StatusCode, Value) {
    let (status, _, body) = h.api_as(token, "POST", ASSEMBLE, Some(body)).await;
    (status, body)
}

#[tokio::test]
async fn the_options_offer_what_vigil_implements() {
    let h = Harness::new().await;
    let token = uploader(&h).await;
    let (status, _, options) = h.api_as(&token, "GET", CHUNKS, None).await;
    assert_eq!(status, StatusCode::OK, "{options}");
    assert_eq!(
        options["url"],
        "http://127.0.0.1:9000/api/0/organizations/default/chunk-upload/"
    );
    assert_eq!(options["chunkSize"], 8388608);
    assert_eq!(options["chunksPerRequest"], 64);
    assert_eq!(options["maxRequestSize"], 33554432);
    assert_eq!(options["hashAlgorithm"], "sha1");
    assert_eq!(options["compression"], json!(["gzip"]));
    assert_eq!(
        options["accept"],
        json!(["release_files", "artifact_bundles", "artifact_bundles_v2"])
    );
    // The harness's own token reads but may not upload.
    let (status, _, _) = h.get(CHUNKS).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn chunks_are_stored_once_and_bad_ones_refused_by_name() {
    let h = Harness::new().await;
    let token = uploader(&h).await;
    let data = b"function applyDiscount(total) { return total * 0.9 }";
    let names = upload_in_chunks(&h, &token, data, 1 << 20).await;
    upload_in_chunks(&h, &token, data, 1 << 20).await;
    assert_eq!(
        h.store.chunk_totals().await.unwrap(),
        (1, data.len() as i64)
    );
    assert!(h
        .store
        .missing_chunks(h.project.organization_id, &names)
        .await
        .unwrap()
        .is_empty());

    let refused = |status: StatusCode, body: &Value, needle: &str| {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(needle), "{needle:?} not in {detail:?}");
    };
    let wrong_name = sha1_hex(b"something else");
    let (status, body) = post_multipart(
        &h,
        &token,
        CHUNKS,
        multipart(&[("file_gzip", Some(&wrong_name), &gzip(data))]),
    )
    .await;
    refused(
        status,
        &body,
        &format!("chunk {wrong_name} does not match its checksum"),
    );

    let name = sha1_hex(data);
    let (status, body) = post_multipart(
        &h,
        &token,
        CHUNKS,
        multipart(&[("file_gzip", Some(&name), b"\x1f\x8b\x08garbage")]),
    )
    .await;
    refused(status, &body, &format!("chunk {name} is not valid gzip"));

    let mut truncated = gzip(data);
    truncated.truncate(truncated.len() / 2);
    let (status, body) = post_multipart(
        &h,
        &token,
        CHUNKS,
        multipart(&[("file_gzip", Some(&name), &truncated)]),
    )
    .await;
    refused(status, &body, &format!("chunk {name} is not valid gzip"));

    let big = vec![0u8; 8 * 1024 * 1024 + 1];
    let big_name = sha1_hex(&big);
    let (status, body) = post_multipart(
        &h,
        &token,
        CHUNKS,
        multipart(&[("file_gzip", Some(&big_name), &gzip(&big))]),
    )
    .await;
    refused(
        status,
        &body,
        &format!("chunk {big_name} is larger than the chunk size"),
    );

    let (status, body) = post_multipart(&h, &token, CHUNKS, b"--nope".to_vec()).await;
    refused(status, &body, "multipart");

    // A body over maxRequestSize: 413, whether or not it says its length first.
    let huge = vec![b'x'; 32 * 1024 * 1024 + 1];
    let (status, body) = post_multipart(&h, &token, CHUNKS, huge.clone()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let request = Request::post(CHUNKS)
        .header("authorization", format!("Bearer {token}"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header("content-length", huge.len().to_string())
        .body(Body::from(huge))
        .expect("request");
    let (status, _, body) = h.send_only(request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("larger than"),
        "{body}"
    );
    assert_eq!(
        h.store.chunk_totals().await.unwrap().0,
        1,
        "nothing refused was stored"
    );
}

#[tokio::test]
async fn a_bundle_is_assembled_from_its_chunks_and_indexed() {
    let h = Harness::new().await;
    let token = uploader(&h).await;
    let bytes = bundle_bytes(None);
    let checksum = sha1_hex(&bytes);
    let chunk_names: Vec<String> = bytes.chunks(100).map(sha1_hex).collect();
    let request = json!({"checksum": checksum, "chunks": chunk_names, "projects": ["shop"]});

    // Nothing uploaded yet: every chunk is missing (sentry-cli asks first, then uploads those).
    let (status, answer) = assemble(&h, &token, request.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["state"], "not_found");
    let mut expected_missing = chunk_names.clone();
    expected_missing.dedup();
    assert_eq!(answer["missingChunks"], json!(expected_missing));

    upload_in_chunks(&h, &token, &bytes, 100).await;
    let (_, answer) = assemble(&h, &token, request.clone()).await;
    assert_eq!(
        answer,
        json!({"state": "ok", "missingChunks": [], "detail": null})
    );
    let found = h
        .store
        .artifact_bundles_for_debug_id(h.project.id, DEBUG_ID)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].bundle_id.as_str(), found[0].file_count),
        (BUNDLE_ID, 2)
    );
    assert_eq!(
        h.store.artifact_bundle_bytes(found[0].id).await.unwrap(),
        Some(bytes.clone())
    );

    // Again, for another project and a release: associated, not duplicated.
    let org_id = h.project.organization_id;
    let (api, _) = h
        .store
        .create_project(org_id, "api", Some("javascript"))
        .await
        .unwrap();
    let again = json!({"checksum": checksum, "chunks": chunk_names, "projects": ["api"], "version": "2.0", "dist": "web"});
    let (_, answer) = assemble(&h, &token, again).await;
    assert_eq!(answer["state"], "ok", "{answer}");
    let by_url = h
        .store
        .artifact_bundles_for_url(api.id, "2.0", Some("web"), "~/app.min.js")
        .await
        .unwrap();
    assert_eq!(
        by_url.iter().map(|b| b.id).collect::<Vec<_>>(),
        [found[0].id]
    );
    assert!(
        h.store
            .release_by_version(org_id, "2.0")
            .await
            .unwrap()
            .is_some(),
        "the release is made"
    );

    let (status, _, listed) = h.api_as(&token, "GET", BUNDLES, None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["bundleId"], BUNDLE_ID);
    assert_eq!(listed[0]["fileCount"], 2);
    assert_eq!(
        listed[0]["associations"],
        json!([{"release": "2.0", "dist": "web"}])
    );
    let files_path = format!("/api/0/projects/default/shop/artifact-bundles/{BUNDLE_ID}/files/");
    let (status, _, files) = h.api_as(&token, "GET", &files_path, None).await;
    assert_eq!(status, StatusCode::OK, "{files}");
    let minified = files["files"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["filePath"] == "~/app.min.js")
        .expect("the minified file");
    assert_eq!(minified["fileType"], 2);
    assert_eq!(minified["debugId"], DEBUG_ID);
    assert_eq!(minified["sourcemap"], "app.min.js.map");
    let date = files["date"].as_str().unwrap_or_default();
    assert!(
        date.len() == 20 && date.ends_with('Z'),
        "Sentry's bundle date form: {date}"
    );
    assert_eq!(files["associations"], listed[0]["associations"]);
    let (_, _, by_id) = h
        .api_as(
            &token,
            "GET",
            &format!("{files_path}?query={DEBUG_ID}"),
            None,
        )
        .await;
    assert_eq!(by_id["files"].as_array().map(Vec::len), Some(2), "{by_id}");
    let (_, _, by_url) = h
        .api_as(&token, "GET", &format!("{files_path}?query=.MAP"), None)
        .await;
    assert_eq!(
        by_url["files"].as_array().map(Vec::len),
        Some(1),
        "{by_url}"
    );

    // Deleting it from shop leaves api's.
    let (status, _, _) = h
        .api_as(
            &token,
            "DELETE",
            &format!("{BUNDLES}?bundleId={BUNDLE_ID}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(h
        .store
        .artifact_bundles_for_debug_id(h.project.id, DEBUG_ID)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        h.store
            .artifact_bundles_for_debug_id(api.id, DEBUG_ID)
            .await
            .unwrap()
            .len(),
        1
    );
    let (status, _, _) = h
        .api_as(
            &token,
            "DELETE",
            &format!("{BUNDLES}?bundleId={BUNDLE_ID}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_bundles_are_refused_with_the_reason() {
    let h = Harness::new().await;
    let token = uploader(&h).await;
    let error_of = |answer: &Value| -> String {
        assert_eq!(answer["state"], "error", "{answer}");
        answer["detail"].as_str().unwrap_or_default().to_owned()
    };

    // The whole is not what the checksum says.
    let bytes = bundle_bytes(None);
    let chunks = upload_in_chunks(&h, &token, &bytes, 1 << 20).await;
    let wrong = sha1_hex(b"another file");
    let (_, answer) = assemble(
        &h,
        &token,
        json!({"checksum": wrong, "chunks": chunks, "projects": ["shop"]}),
    )
    .await;
    let detail = error_of(&answer);
    assert!(
        detail.contains(&format!("not the checksum {wrong}")),
        "{detail}"
    );

    // Not a zip.
    let text = b"this is not a bundle".to_vec();
    let chunks = upload_in_chunks(&h, &token, &text, 1 << 20).await;
    let (_, answer) = assemble(
        &h,
        &token,
        json!({"checksum": sha1_hex(&text), "chunks": chunks, "projects": ["shop"]}),
    )
    .await;
    let detail = error_of(&answer);
    assert!(
        detail.starts_with("the bundle cannot be read: not a zip archive"),
        "{detail}"
    );

    // A bundle cut short.
    let cut = bytes[..bytes.len() - 30].to_vec();
    let chunks = upload_in_chunks(&h, &token, &cut, 1 << 20).await;
    let (_, answer) = assemble(
        &h,
        &token,
        json!({"checksum": sha1_hex(&cut), "chunks": chunks, "projects": ["shop"]}),
    )
    .await;
    let detail = error_of(&answer);
    assert!(detail.starts_with("the bundle cannot be read"), "{detail}");
    assert!(h
        .store
        .list_artifact_bundles(h.project.id, None, 0, 10)
        .await
        .unwrap()
        .is_empty());

    // Over the largest file, refused before any chunk is asked for.
    let many: Vec<String> = (0..33)
        .map(|i| sha1_hex(format!("chunk {i}").as_bytes()))
        .collect();
    let (_, answer) = assemble(
        &h,
        &token,
        json!({"checksum": sha1_hex(b"big"), "chunks": many, "projects": ["shop"]}),
    )
    .await;
    let detail = error_of(&answer);
    assert!(detail.contains("larger than the maximum"), "{detail}");

    // A project that is not there, a checksum that is not one, a field Vigil does not take.
    let (status, body) = assemble(
        &h,
        &token,
        json!({"checksum": sha1_hex(&bytes), "chunks": [], "projects": ["nope"]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"].as_str().unwrap_or_default().contains("nope"),
        "{body}"
    );
    let (status, body) = assemble(
        &h,
        &token,
        json!({"checksum": "xyz", "chunks": [], "projects": ["shop"]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("checksum `xyz`"),
        "{body}"
    );
    let (status, body) = assemble(
        &h,
        &token,
        json!({"checksum": sha1_hex(&bytes), "chunks": [], "projects": ["shop"], "upload": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("upload"),
        "{body}"
    );
}

#[tokio::test]
async fn the_legacy_release_assemble_takes_a_release_bundle() {
    let h = Harness::new().await;
    let token = uploader(&h).await;
    let org_id = h.project.organization_id;
    h.store
        .upsert_release(org_id, "1.0", &[h.project.id], &ReleaseFields::default())
        .await
        .unwrap();
    let bytes = bundle_bytes(Some("1.0"));
    let chunks = upload_in_chunks(&h, &token, &bytes, 1 << 20).await;
    let path = "/api/0/organizations/default/releases/1.0/assemble/";
    let (status, _, answer) = h
        .api_as(
            &token,
            "POST",
            path,
            Some(json!({"checksum": sha1_hex(&bytes), "chunks": chunks})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["state"], "ok", "{answer}");
    let found = h
        .store
        .artifact_bundles_for_url(h.project.id, "1.0", None, "~/app.min.js.map")
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
}

#[tokio::test]
async fn release_files_are_uploaded_listed_renamed_and_deleted() {
    let h = Harness::new().await;
    let token = uploader(&h).await;
    let org_id = h.project.organization_id;
    h.store
        .upsert_release(org_id, "1.0", &[h.project.id], &ReleaseFields::default())
        .await
        .unwrap();
    let files = "/api/0/projects/default/shop/releases/1.0/files/";
    let form = multipart(&[
        ("file", Some("app.js"), b"function a(){}"),
        ("name", None, b"~/static/app.js"),
        ("header", None, b"Sourcemap: app.js.map"),
    ]);
    let (status, created) = post_multipart(&h, &token, files, form.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["name"], "~/static/app.js");
    assert_eq!(
        created["headers"],
        json!({"Content-Type": "application/octet-stream", "Sourcemap": "app.js.map"})
    );
    assert_eq!(created["size"], 14);
    assert_eq!(created["sha1"], sha1_hex(b"function a(){}"));
    let (status, body) = post_multipart(&h, &token, files, form).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) =
        post_multipart(&h, &token, files, multipart(&[("name", None, b"x")])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["detail"], "Missing uploaded file");
    let (status, body) = post_multipart(
        &h,
        &token,
        files,
        multipart(&[("file", Some("a"), b"x"), ("header", None, b"nocolon")]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("header"),
        "{body}"
    );

    let (status, body) = post_multipart(
        &h,
        &token,
        files,
        multipart(&[("file", Some("a"), b"x"), ("name", None, b"~/bad\tname.js")]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["detail"],
        "File name must not contain special whitespace characters"
    );
    let second = multipart(&[("file", Some("vendor.js"), b"v"), ("dist", None, b"web")]);
    let (status, body) = post_multipart(&h, &token, files, second).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (body["name"].as_str(), body["dist"].as_str()),
        (Some("vendor.js"), Some("web"))
    );
    let (_, headers, page) = h
        .api_as(&token, "GET", &format!("{files}?per_page=1"), None)
        .await;
    assert_eq!(page.as_array().map(Vec::len), Some(1));
    let link = headers
        .get("link")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default();
    assert!(link.contains("rel=\"next\"; results=\"true\""), "{link}");
    let (_, _, found) = h
        .api_as(&token, "GET", &format!("{files}?query=VENDOR"), None)
        .await;
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    let vendor_id = body["id"].as_str().expect("an id").to_owned();
    let (status, _, _) = h
        .api_as(&token, "DELETE", &format!("{files}{vendor_id}/"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let org_files = "/api/0/organizations/default/releases/1.0/files/";
    let (status, _, listed) = h.api_as(&token, "GET", org_files, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let id = created["id"].as_str().expect("an id");
    let (status, _, bytes) = h
        .respond(
            Request::get(format!("{files}{id}/?download=1"))
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&bytes[..], b"function a(){}");
    let (found, _) = h
        .store
        .release_file_by_url(h.project.id, "1.0", None, "~/static/app.js")
        .await
        .unwrap()
        .expect("found by its name");
    assert_eq!(found.id.to_string(), id);

    let (status, _, renamed) = h
        .api_as(
            &token,
            "PUT",
            &format!("{files}{id}/"),
            Some(json!({"name": "~/app.js"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["name"], "~/app.js");
    let (status, _, body) = h
        .api_as(
            &token,
            "PUT",
            &format!("{files}{id}/"),
            Some(json!({"name": "~/x.js", "size": 3})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"].as_str().unwrap_or_default().contains("size"),
        "{body}"
    );
    let (status, _, _) = h
        .api_as(&token, "DELETE", &format!("{org_files}{id}/"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = h
        .api_as(&token, "GET", &format!("{files}{id}/"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = h
        .api_as(
            &token,
            "GET",
            "/api/0/projects/default/shop/releases/9.9/files/",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bundles_are_listed_newest_first_in_pages() {
    let h = Harness::new().await;
    let token = uploader(&h).await;
    for release in ["1.0", "2.0", "3.0"] {
        let bytes = bundle_bytes(Some(release));
        let chunks = upload_in_chunks(&h, &token, &bytes, 1 << 20).await;
        let request = json!({"checksum": sha1_hex(&bytes), "chunks": chunks, "projects": ["shop"], "version": release});
        let (_, answer) = assemble(&h, &token, request).await;
        assert_eq!(answer["state"], "ok", "{answer}");
    }
    let release_of = |listed: &Value| listed[0]["associations"][0]["release"].clone();
    let (status, headers, first) = h
        .api_as(&token, "GET", &format!("{BUNDLES}?per_page=1"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first.as_array().map(Vec::len), Some(1));
    assert_eq!(release_of(&first), "3.0");
    let link = headers
        .get("link")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default();
    assert!(link.contains("rel=\"next\"; results=\"true\""), "{link}");
    let (_, _, oldest) = h
        .api_as(
            &token,
            "GET",
            &format!("{BUNDLES}?per_page=1&sortBy=date_added"),
            None,
        )
        .await;
    assert_eq!(release_of(&oldest), "1.0");
    let (_, _, found) = h
        .api_as(&token, "GET", &format!("{BUNDLES}?query=2.0"), None)
        .await;
    assert_eq!(found.as_array().map(Vec::len), Some(1));
    assert_eq!(release_of(&found), "2.0");
    let (status, _, body) = h
        .api_as(&token, "GET", &format!("{BUNDLES}?sortBy=size"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _, body) = h
        .api_as(&token, "GET", &format!("{BUNDLES}?release=2.0"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.get("release").is_some(), "{body}");
}
