//! Sentry's upload API for source maps, as `sentry-cli sourcemaps upload` calls it: the
//! chunk-upload options and chunks (`…/chunk-upload/`), assembling an artifact bundle from its
//! chunks (`…/artifactbundle/assemble/`, and the legacy `…/releases/{version}/assemble/`), and
//! a project's artifact bundles listed, inspected and deleted.
//!
//! Chunks are stored content-addressed; assembling checks the whole against its checksum,
//! reads the bundle's manifest and indexes it by debug ID and by release + URL, synchronously
//! (the CPU work on the blocking pool): the first poll already answers `ok` or `error`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use vigil_processing::symbolicate::bundle::{ArtifactBundle, BundleError, FileType};
use vigil_protocol::multipart::{parse_chunk_upload, sha1_hex, ChunkLimits};
use vigil_store::{ArtifactBundleListing, NewArtifactBundle, Organization, ReleaseFields};

use super::access::{OrgAccess, ProjectAccess};
use super::auth::Caller;
use super::error::ApiError;
use super::pagination::Page;
use crate::query::{self, QueryPairs};
use crate::serialize::iso;
use crate::AppState;

/// The most one chunk holds (Sentry's `SENTRY_CHUNK_UPLOAD_BLOB_SIZE`).
pub const CHUNK_SIZE: usize = 8 * 1024 * 1024;
/// The most chunks one upload request carries.
pub const CHUNKS_PER_REQUEST: usize = 64;
/// The largest upload request body.
pub const MAX_REQUEST_SIZE: usize = 32 * 1024 * 1024;
/// The largest bundle Vigil assembles (it is read whole into memory to be checked).
pub const MAX_FILE_SIZE: usize = 256 * 1024 * 1024;
/// Seconds sentry-cli should wait for an assemble (Vigil answers on the first request).
const MAX_WAIT: u64 = 60;
/// Parallel upload requests sentry-cli may make.
const CONCURRENCY: u64 = 8;
/// What Vigil implements of the capabilities sentry-cli looks for.
const ACCEPT: [&str; 3] = ["release_files", "artifact_bundles", "artifact_bundles_v2"];

/// Token scopes that may upload (Sentry's `OrganizationReleasePermission`).
pub const UPLOAD_SCOPES: &[&str] = &[
    "project:releases",
    "project:write",
    "project:admin",
    "org:admin",
];
/// Token scopes that may read the chunk-upload options (Sentry's
/// `OrganizationReleasePermission` for `GET`).
const OPTIONS_SCOPES: &[&str] = &[
    "project:read",
    "project:releases",
    "project:write",
    "project:admin",
    "org:admin",
];
/// Token scopes that may read artifacts.
pub const READ_SCOPES: &[&str] = &[
    "project:read",
    "project:write",
    "project:admin",
    "project:releases",
    "org:read",
    "org:write",
    "org:admin",
];

/// `GET /api/0/organizations/{org}/chunk-upload/`: where and how to upload chunks.
pub async fn chunk_upload_options(
    State(state): State<AppState>,
    OrgAccess { caller, org }: OrgAccess,
) -> Result<Json<Value>, ApiError> {
    caller.require_scope(OPTIONS_SCOPES)?;
    Ok(Json(json!({
        "url": format!("{}/api/0/organizations/{}/chunk-upload/", state.config.base_url(), org.slug),
        "chunkSize": CHUNK_SIZE,
        "chunksPerRequest": CHUNKS_PER_REQUEST,
        "maxFileSize": MAX_FILE_SIZE,
        "maxRequestSize": MAX_REQUEST_SIZE,
        "maxWait": MAX_WAIT,
        "concurrency": CONCURRENCY,
        "hashAlgorithm": "sha1",
        "compression": ["gzip"],
        "accept": ACCEPT,
    })))
}

/// The request body, at most `limit` bytes: 413 past it (by its `Content-Length` before
/// reading, or while reading).
pub async fn body_within(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<bytes::Bytes, ApiError> {
    let too_large = || ApiError::TooLarge(format!("the request body is larger than {limit} bytes"));
    let stated = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if stated.is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|err| {
        if std::error::Error::source(&err)
            .is_some_and(|e| e.is::<http_body_util::LengthLimitError>())
        {
            too_large()
        } else {
            ApiError::Invalid(format!("the request body could not be read: {err}"))
        }
    })
}

/// `POST /api/0/organizations/{org}/chunk-upload/`: stores the chunks of a multipart body;
/// 200, or 400 naming the chunk that is corrupt, too large or unlike its checksum.
pub async fn upload_chunks(
    State(state): State<AppState>,
    OrgAccess { caller, org }: OrgAccess,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    caller.require_scope(UPLOAD_SCOPES)?;
    let body = body_within(&headers, body, MAX_REQUEST_SIZE).await?;
    if body.is_empty() {
        // No chunks is fine, as in Sentry.
        return Ok(StatusCode::OK);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let limits = ChunkLimits {
        chunk_size: CHUNK_SIZE,
        chunks_per_request: CHUNKS_PER_REQUEST,
    };
    let chunks =
        tokio::task::spawn_blocking(move || parse_chunk_upload(&content_type, body, &limits))
            .await
            .map_err(|_| ApiError::Unavailable)?
            .map_err(|err| ApiError::Invalid(err.to_string()))?;
    let count = chunks.len();
    let chunks = chunks.into_iter().map(|c| (c.checksum, c.data)).collect();
    state.store.save_chunks(org.id, chunks).await?;
    tracing::debug!(org = %org.slug, count, "chunks stored");
    Ok(StatusCode::OK)
}

/// Body of `POST …/artifactbundle/assemble/`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssembleBody {
    checksum: String,
    chunks: Vec<String>,
    #[serde(default)]
    projects: Vec<String>,
    version: Option<String>,
    dist: Option<String>,
}

/// Body of the legacy `POST …/releases/{version}/assemble/`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseAssembleBody {
    checksum: String,
    chunks: Vec<String>,
}

/// The body as JSON of type `T`, or a 400 saying what is wrong with it (an unknown field is
/// named).
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|err| ApiError::Invalid(format!("invalid request body: {err}")))
}

/// 40 hex digits, lowercased; a 400 naming `what` otherwise.
fn sha1_field(what: &str, value: &str) -> Result<String, ApiError> {
    if value.len() == 40 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(ApiError::Invalid(format!(
            "{what} `{value}` is not a SHA-1 checksum (40 hex digits)"
        )))
    }
}

/// Sentry's assemble answer.
fn assemble_state(state: &str, missing: Vec<String>, detail: Option<String>) -> Json<Value> {
    Json(json!({"state": state, "missingChunks": missing, "detail": detail}))
}

/// What a bundle's manifest gave, read on the blocking pool.
struct ReadBundle {
    bundle_id: String,
    note: Option<String>,
    file_count: i64,
    debug_ids: Vec<(String, String)>,
    urls: Vec<String>,
    project_attribute: Option<String>,
}

/// Checks the whole against its checksum and reads its manifest; the error is the `detail`
/// sentry-cli prints.
fn read_bundle(bytes: Vec<u8>, checksum: &str) -> Result<ReadBundle, String> {
    let actual = sha1_hex(&bytes);
    if actual != checksum {
        return Err(format!(
            "the assembled file's SHA-1 is {actual}, not the checksum {checksum} the request names"
        ));
    }
    let bundle = ArtifactBundle::parse(bytes)
        .map_err(|err: BundleError| format!("the bundle cannot be read: {err}"))?;
    Ok(ReadBundle {
        // A legacy release bundle may have no id of its own: its checksum names it then.
        bundle_id: bundle
            .bundle_id()
            .unwrap_or_else(|| uuid_of_checksum(checksum)),
        note: bundle.attribute("note").map(str::to_owned),
        file_count: bundle.files().len() as i64,
        debug_ids: bundle
            .debug_ids()
            .into_iter()
            .map(|(id, ty)| (id, ty.as_str().to_owned()))
            .collect(),
        urls: bundle
            .files()
            .iter()
            .map(|f| f.url.clone())
            .filter(|u| !u.is_empty())
            .collect(),
        project_attribute: bundle.attribute("project").map(str::to_owned),
    })
}

/// A UUID made of the first 32 hex digits of a checksum.
fn uuid_of_checksum(checksum: &str) -> String {
    uuid::Uuid::parse_str(checksum.get(..32).unwrap_or_default())
        .map(|u| u.hyphenated().to_string())
        .unwrap_or_else(|_| uuid::Uuid::new_v4().hyphenated().to_string())
}

/// What to assemble, and what to associate it with.
struct Assemble<'a> {
    org: &'a Organization,
    checksum: String,
    chunks: Vec<String>,
    project_ids: Vec<i64>,
    release: Option<String>,
    dist: Option<String>,
    /// The legacy endpoint also takes the project a bundle's manifest names.
    manifest_project: bool,
}

/// Assembles (or, when stored already, associates) a bundle; Sentry's answer.
async fn assemble(state: &AppState, job: Assemble<'_>) -> Result<Json<Value>, ApiError> {
    let org = job.org;
    let association = |project_ids: Vec<i64>| NewArtifactBundle {
        org_id: org.id,
        bundle_id: String::new(),
        checksum: job.checksum.clone(),
        chunks: job.chunks.clone(),
        note: None,
        file_count: 0,
        size: 0,
        debug_ids: Vec::new(),
        urls: Vec::new(),
        project_ids,
        release: job.release.clone(),
        dist: job.dist.clone(),
    };
    if state
        .store
        .artifact_bundle_by_checksum(org.id, &job.checksum)
        .await?
        .is_some()
    {
        state
            .store
            .save_artifact_bundle(association(job.project_ids.clone()))
            .await?;
        // New associations: this node's lookups see them from the next event.
        state.artifacts.forget_indexes();
        return Ok(assemble_state("ok", Vec::new(), None));
    }
    if job.chunks.is_empty() {
        return Ok(assemble_state(
            "not_found",
            Vec::new(),
            Some("the request names no chunks".into()),
        ));
    }
    // Refused before asking for its chunks: no upload in vain.
    if job.chunks.len() > MAX_FILE_SIZE / CHUNK_SIZE {
        return Ok(assemble_state(
            "error",
            Vec::new(),
            Some(format!(
                "the file is larger than the maximum of {MAX_FILE_SIZE} bytes"
            )),
        ));
    }
    let missing = state.store.missing_chunks(org.id, &job.chunks).await?;
    if !missing.is_empty() {
        return Ok(assemble_state("not_found", missing, None));
    }
    let Some(bytes) = state.store.chunks_bytes(org.id, &job.chunks).await? else {
        // A chunk vanished between the two reads: ask for it again.
        let missing = state.store.missing_chunks(org.id, &job.chunks).await?;
        return Ok(assemble_state("not_found", missing, None));
    };
    if bytes.len() > MAX_FILE_SIZE {
        return Ok(assemble_state(
            "error",
            Vec::new(),
            Some(format!(
                "the file is larger than the maximum of {MAX_FILE_SIZE} bytes"
            )),
        ));
    }
    let size = bytes.len() as i64;
    let checksum = job.checksum.clone();
    let read = tokio::task::spawn_blocking(move || read_bundle(bytes, &checksum))
        .await
        .map_err(|_| ApiError::Unavailable)?;
    let read = match read {
        Ok(read) => read,
        Err(detail) => {
            tracing::info!(org = %org.slug, checksum = %job.checksum, %detail, "artifact bundle refused");
            return Ok(assemble_state("error", Vec::new(), Some(detail)));
        }
    };
    let mut project_ids = job.project_ids.clone();
    if job.manifest_project {
        if let Some(slug) = &read.project_attribute {
            if let Some(project) = state.store.project_by_slug(org.id, slug).await? {
                if !project_ids.contains(&project.id) {
                    project_ids.push(project.id);
                }
            }
        }
    }
    let bundle = NewArtifactBundle {
        bundle_id: read.bundle_id,
        note: read.note,
        file_count: read.file_count,
        size,
        debug_ids: read.debug_ids,
        urls: read.urls,
        ..association(project_ids)
    };
    let (info, created) = state.store.save_artifact_bundle(bundle).await?;
    state.artifacts.forget_indexes();
    tracing::info!(org = %org.slug, bundle_id = %info.bundle_id, files = info.file_count, created, "artifact bundle assembled");
    Ok(assemble_state("ok", Vec::new(), None))
}

/// The ids of the org's projects named by `slugs`; a 400 naming one that is not there.
async fn project_ids(
    state: &AppState,
    org: &Organization,
    slugs: &[String],
) -> Result<Vec<i64>, ApiError> {
    let mut ids = Vec::with_capacity(slugs.len());
    for slug in slugs {
        let project = state
            .store
            .project_by_slug(org.id, slug)
            .await?
            .ok_or_else(|| {
                ApiError::Invalid(format!(
                    "Invalid project: {slug} is not a project of organization {}",
                    org.slug
                ))
            })?;
        ids.push(project.id);
    }
    Ok(ids)
}

/// Creates the release if it is new (as Sentry does on upload), adding the projects to it.
async fn ensure_release(
    state: &AppState,
    org: &Organization,
    version: &str,
    project_ids: &[i64],
) -> Result<(), ApiError> {
    super::releases::validate_version(version)?;
    state
        .store
        .upsert_release(org.id, version, project_ids, &ReleaseFields::default())
        .await?;
    Ok(())
}

/// `POST /api/0/organizations/{org}/artifactbundle/assemble/`.
pub async fn assemble_artifact_bundle(
    State(state): State<AppState>,
    OrgAccess { caller, org }: OrgAccess,
    body: bytes::Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require_scope(UPLOAD_SCOPES)?;
    let body: AssembleBody = parse_json(&body)?;
    if body.projects.is_empty() {
        return Err(ApiError::Invalid(
            "projects: at least one project is required".into(),
        ));
    }
    let checksum = sha1_field("checksum", &body.checksum)?;
    let chunks = body
        .chunks
        .iter()
        .map(|c| sha1_field("chunk", c))
        .collect::<Result<Vec<_>, _>>()?;
    let project_ids = project_ids(&state, &org, &body.projects).await?;
    let release = body.version.filter(|v| !v.is_empty());
    let dist = body.dist.filter(|d| !d.is_empty());
    if dist.is_some() && release.is_none() {
        return Err(ApiError::Invalid(
            "dist: a dist needs a version (release)".into(),
        ));
    }
    if let Some(version) = &release {
        ensure_release(&state, &org, version, &project_ids).await?;
    }
    assemble(
        &state,
        Assemble {
            org: &org,
            checksum,
            chunks,
            project_ids,
            release,
            dist,
            manifest_project: false,
        },
    )
    .await
}

/// `POST /api/0/organizations/{org}/releases/{version}/assemble/`: a release bundle (the same
/// format), associated with the release and its projects (and the project its manifest names).
pub async fn assemble_release_bundle(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, version)): Path<(String, String)>,
    body: bytes::Bytes,
) -> Result<Json<Value>, ApiError> {
    let org = caller.organization(&state, &org).await?;
    caller.require_scope(UPLOAD_SCOPES)?;
    let body: ReleaseAssembleBody = parse_json(&body)?;
    let checksum = sha1_field("checksum", &body.checksum)?;
    let chunks = body
        .chunks
        .iter()
        .map(|c| sha1_field("chunk", c))
        .collect::<Result<Vec<_>, _>>()?;
    ensure_release(&state, &org, &version, &[]).await?;
    let release = state
        .store
        .release_by_version(org.id, &version)
        .await?
        .ok_or(ApiError::NotFound)?;
    let project_ids = release.projects.iter().map(|(id, _)| *id).collect();
    assemble(
        &state,
        Assemble {
            org: &org,
            checksum,
            chunks,
            project_ids,
            release: Some(version),
            dist: None,
            manifest_project: true,
        },
    )
    .await
}

/// A bundle's date as Sentry writes it: to the second, `Z`.
fn bundle_date(ts: f64) -> String {
    let iso = iso(ts);
    format!("{}Z", iso.get(..19).unwrap_or(&iso))
}

/// Sentry's artifact-bundle shape.
fn serialize_bundle(listing: &ArtifactBundleListing) -> Value {
    json!({
        "bundleId": listing.info.bundle_id,
        "associations": listing.associations.iter().map(|(release, dist)| json!({"release": release, "dist": dist})).collect::<Vec<_>>(),
        "date": bundle_date(listing.info.date_added),
        "dateModified": bundle_date(listing.date_modified),
        "fileCount": listing.info.file_count,
    })
}

/// `GET /api/0/projects/{org}/{project}/files/artifact-bundles/` (`?query=`, paginated).
pub async fn list_bundles(
    State(state): State<AppState>,
    ProjectAccess {
        caller,
        org,
        project,
    }: ProjectAccess,
    QueryPairs(params): QueryPairs,
) -> Result<Response, ApiError> {
    caller.require_scope(READ_SCOPES)?;
    refuse_unknown(&params, &["query", "cursor", "per_page", "sortBy"])?;
    if let Some(sort) =
        query::first(&params, "sortBy").filter(|s| *s != "-date_added" && *s != "date_added")
    {
        return Err(ApiError::Invalid(format!(
            "sortBy: Vigil sorts bundles by date_added only, not {sort}"
        )));
    }
    let ascending = query::first(&params, "sortBy") == Some("date_added");
    let page = Page::from_params(
        query::first(&params, "cursor"),
        query::first(&params, "per_page"),
    )?;
    let search = query::first(&params, "query");
    // Newest first is a page of the store's order; oldest first reads them all (rare: the
    // UI's other sort).
    let (offset, limit) = if ascending {
        (0, u64::MAX)
    } else {
        (page.offset, page.limit + 1)
    };
    let mut bundles = state
        .store
        .list_artifact_bundles(project.id, search, offset, limit)
        .await?;
    if ascending {
        bundles.reverse();
        bundles = bundles
            .into_iter()
            .skip(page.offset as usize)
            .take(page.limit as usize + 1)
            .collect();
    }
    let has_next = bundles.len() as u64 > page.limit;
    let body: Vec<Value> = bundles
        .iter()
        .take(page.limit as usize)
        .map(serialize_bundle)
        .collect();
    let base = format!(
        "{}/api/0/projects/{}/{}/files/artifact-bundles/",
        state.config.base_url(),
        org.slug,
        project.slug
    );
    Ok((page.link_header(&base, &params, has_next), Json(body)).into_response())
}

/// A 400 naming the first query parameter not in `known`.
fn refuse_unknown(params: &[(String, String)], known: &[&str]) -> Result<(), ApiError> {
    match params
        .iter()
        .find(|(key, _)| !known.contains(&key.as_str()))
    {
        Some((key, _)) => Err(ApiError::bad_field(
            key,
            "Vigil does not take this parameter here",
        )),
        None => Ok(()),
    }
}

/// `DELETE /api/0/projects/{org}/{project}/files/artifact-bundles/?bundleId=…`: 204.
pub async fn delete_bundle(
    State(state): State<AppState>,
    ProjectAccess {
        caller, project, ..
    }: ProjectAccess,
    QueryPairs(params): QueryPairs,
) -> Result<StatusCode, ApiError> {
    caller.require_scope(UPLOAD_SCOPES)?;
    let bundle_id = query::first(&params, "bundleId")
        .ok_or_else(|| ApiError::Invalid("Supplied an invalid value for bundle_id".into()))?;
    if state
        .store
        .delete_artifact_bundle(project.id, bundle_id)
        .await?
    {
        state.artifacts.forget_indexes();
        tracing::info!(
            project_id = project.id,
            bundle_id,
            "artifact bundle deleted"
        );
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// `GET /api/0/projects/{org}/{project}/artifact-bundles/{bundle_id}/files/`: the bundle and
/// its files (`?query=` filters by URL).
pub async fn bundle_files(
    State(state): State<AppState>,
    ProjectAccess {
        caller,
        org,
        project,
    }: ProjectAccess,
    Path((_, _, bundle_id)): Path<(String, String, String)>,
    QueryPairs(params): QueryPairs,
) -> Result<Response, ApiError> {
    caller.require_scope(READ_SCOPES)?;
    refuse_unknown(&params, &["query", "cursor", "per_page"])?;
    let listing = state
        .store
        .project_artifact_bundle(project.id, &bundle_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let bytes = state
        .store
        .artifact_bundle_bytes(listing.info.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let files = tokio::task::spawn_blocking(move || {
        ArtifactBundle::parse(bytes).map(|b| b.files().to_vec())
    })
    .await
    .map_err(|_| ApiError::Unavailable)?
    .map_err(|err| {
        tracing::error!(%err, "a stored artifact bundle cannot be read");
        ApiError::Unavailable
    })?;
    // As Sentry: by path, `query` matching a URL (any case) or a debug id.
    let search = query::first(&params, "query").map(str::to_lowercase);
    let mut files: Vec<_> = files
        .into_iter()
        .filter(|f| {
            search.as_ref().is_none_or(|q| {
                f.url.to_lowercase().contains(q) || f.debug_id().is_some_and(|id| id == *q)
            })
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let page = Page::from_params(
        query::first(&params, "cursor"),
        query::first(&params, "per_page"),
    )?;
    let has_next = files.len() as u64 > page.offset + page.limit;
    let serialized: Vec<Value> = files
        .iter()
        .skip(page.offset as usize)
        .take(page.limit as usize)
        .map(|f| {
            json!({
                "id": base64::engine::general_purpose::URL_SAFE.encode(f.path.as_bytes()),
                "filePath": f.url,
                "fileSize": f.size,
                "fileType": file_type_code(f.ty),
                "debugId": f.debug_id(),
                "sourcemap": f.sourcemap_reference(),
            })
        })
        .collect();
    let mut body = serialize_bundle(&listing);
    body["files"] = Value::Array(serialized);
    let base = format!(
        "{}/api/0/projects/{}/{}/artifact-bundles/{}/files/",
        state.config.base_url(),
        org.slug,
        project.slug,
        listing.info.bundle_id
    );
    Ok((page.link_header(&base, &params, has_next), Json(body)).into_response())
}

/// Sentry's `SourceFileType` number of a file.
fn file_type_code(ty: FileType) -> u8 {
    ty.sentry_code()
}
