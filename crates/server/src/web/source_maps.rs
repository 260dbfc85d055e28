//! A project's uploaded source maps, where Sentry shows them (Project Settings → Source Maps):
//! the artifact bundles `sentry-cli sourcemaps upload` sent, newest first, with the releases
//! each is associated with, and each bundle's files with their debug IDs and map references —
//! what a team checks when a browser error's frames are still minified.

use axum::extract::{Path, Query, State};
use axum::response::Html;
use maud::html;
use serde::Deserialize;
use vigil_processing::symbolicate::bundle::ArtifactBundle;
use vigil_processing::symbolicate::FileType;

use super::error::WebError;
use super::layout::{byte_size, page, pager, time_ago, Shell};
use super::projects::viewer_project;
use super::session::Viewer;
use crate::time::unix_now;
use crate::AppState;

const PAGE_SIZE: u64 = 25;

#[derive(Deserialize)]
pub struct ListParams {
    page: Option<u64>,
}

/// `GET /settings/{org}/projects/{project}/source-maps/`.
pub async fn list(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project)): Path<(String, String)>,
    Query(params): Query<ListParams>,
) -> Result<Html<String>, WebError> {
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let page_index = params.page.unwrap_or(0);
    let mut bundles = state
        .store
        .list_artifact_bundles(project.id, None, page_index * PAGE_SIZE, PAGE_SIZE + 1)
        .await?;
    let has_next = bundles.len() as u64 > PAGE_SIZE;
    bundles.truncate(PAGE_SIZE as usize);
    let prefix = state.config.path_prefix();
    let base = format!(
        "{prefix}/settings/{}/projects/{}/source-maps/",
        org.slug, project.slug
    );
    let now = unix_now();
    let body = html! {
        div.crumbs {
            a href={ (prefix) "/organizations/" (org.slug) "/projects/" (project.slug) "/" } { (project.slug) }
            " / "
            a href={ (prefix) "/settings/" (org.slug) "/projects/" (project.slug) "/performance/" } { "settings" }
            " / source maps"
        }
        h1 { "Source maps" }
        p.muted {
            "Artifact bundles uploaded with "
            code { "sentry-cli sourcemaps upload" }
            ". Browser errors are mapped with the bundle holding their files' debug IDs, else with the bundles of their release."
        }
        @if bundles.is_empty() {
            p.empty.no-bundles { "No source maps uploaded to this project yet." }
        } @else {
            table.list.artifact-bundles {
                thead { tr { th { "Bundle" } th { "Releases" } th { "Files" } th { "Size" } th { "Uploaded" } } }
                tbody {
                    @for bundle in &bundles {
                        tr {
                            td { a href={ (base) (bundle.info.bundle_id) "/" } { code { (bundle.info.bundle_id) } } }
                            td {
                                @if bundle.associations.is_empty() {
                                    span.muted { "debug IDs only" }
                                }
                                @for (release, dist) in &bundle.associations {
                                    span.badge { (release) @if let Some(dist) = dist { " (" (dist) ")" } } " "
                                }
                            }
                            td { (bundle.info.file_count) }
                            td { (byte_size(bundle.info.size)) }
                            td { (time_ago(bundle.date_modified, now)) }
                        }
                    }
                }
            }
            (pager(page_index, has_next, |p| format!("page={p}")))
        }
    };
    Ok(page(
        Shell::of_org("Source maps", &prefix, &viewer, &org),
        body,
    ))
}

/// `GET /settings/{org}/projects/{project}/source-maps/{bundle_id}/`: one bundle's files.
pub async fn bundle(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, project, bundle_id)): Path<(String, String, String)>,
) -> Result<Html<String>, WebError> {
    let (org, project) = viewer_project(&state, &viewer, &org, &project).await?;
    let listing = state
        .store
        .project_artifact_bundle(project.id, &bundle_id)
        .await?
        .ok_or(WebError::NotFound)?;
    let bytes = state
        .store
        .artifact_bundle_bytes(listing.info.id)
        .await?
        .ok_or(WebError::NotFound)?;
    // A stored bundle was read when it was assembled; one that no longer reads is shown empty
    // with the reason, not as an error page.
    let files = tokio::task::spawn_blocking(move || {
        ArtifactBundle::parse(bytes).map(|bundle| bundle.files().to_vec())
    })
    .await
    .map_err(|_| WebError::Unavailable)?;
    let prefix = state.config.path_prefix();
    let now = unix_now();
    let body = html! {
        div.crumbs {
            a href={ (prefix) "/organizations/" (org.slug) "/projects/" (project.slug) "/" } { (project.slug) }
            " / "
            a href={ (prefix) "/settings/" (org.slug) "/projects/" (project.slug) "/source-maps/" } { "source maps" }
            " / " (listing.info.bundle_id)
        }
        h1 { "Artifact bundle " code { (listing.info.bundle_id) } }
        p.muted {
            (listing.info.file_count) " files, " (byte_size(listing.info.size)) ", uploaded " (time_ago(listing.info.date_added, now))
            @for (release, dist) in &listing.associations {
                " · release " span.badge { (release) @if let Some(dist) = dist { " (" (dist) ")" } }
            }
            @if let Some(note) = &listing.info.note { " · " (note) }
        }
        @match &files {
            Ok(files) => {
                table.list.bundle-files {
                    thead { tr { th { "File" } th { "Type" } th { "Debug ID" } th { "Source map" } th { "Size" } } }
                    tbody {
                        @for file in files {
                            tr {
                                td { code { (file.url) } }
                                td { (file_type_label(file.ty)) }
                                td { @if let Some(id) = file.debug_id() { code { (id) } } }
                                td { @if let Some(map) = file.sourcemap_reference() { code { (map) } } }
                                td { (byte_size(file.size as i64)) }
                            }
                        }
                    }
                }
            }
            Err(err) => { p.error { "This bundle can no longer be read: " (err.to_string()) } }
        }
    };
    Ok(page(
        Shell::of_org(&listing.info.bundle_id, &prefix, &viewer, &org),
        body,
    ))
}

fn file_type_label(ty: FileType) -> &'static str {
    match ty {
        FileType::MinifiedSource => "minified source",
        FileType::SourceMap => "source map",
        FileType::Source => "source",
        FileType::Other => "other",
    }
}
