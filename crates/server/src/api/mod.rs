//! The `/api/0/` web API: a subset of Sentry's, with the same paths and JSON shapes, so that
//! sentry-cli and scripts written for Sentry work against Vigil.

pub mod access;
pub mod artifacts;
pub mod attachments;
pub mod auth;
pub mod discover;
pub mod error;
pub mod events;
pub mod filters;
pub mod issue_tag_values;
pub mod issues;
pub mod pagination;
pub mod performance_settings;
pub mod projects;
pub mod quotas;
pub mod release_files;
pub mod releases;
pub mod root;
pub mod rules;
pub mod stats;
pub mod traces;
pub mod triage;
pub mod user_reports;

use axum::routing::get;
use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(root::index))
        .route("/auth/", get(root::current_user))
        .route("/organizations/", get(projects::list_organizations))
        .route("/organizations/{org}/", get(projects::organization))
        .route(
            "/organizations/{org}/spike-protections/",
            axum::routing::post(quotas::enable_spike_protection)
                .delete(quotas::disable_spike_protection),
        )
        .route(
            "/organizations/{org}/projects/",
            get(projects::list_org_projects),
        )
        .route(
            "/organizations/{org}/issues/",
            get(issues::list_org_issues)
                .put(triage::bulk_update_org)
                .delete(triage::bulk_delete_org),
        )
        .route(
            "/organizations/{org}/issues/{issue_id}/",
            get(triage::get_issue)
                .put(triage::update_issue)
                .delete(triage::delete_issue),
        )
        .route(
            "/organizations/{org}/releases/",
            get(releases::list_releases).post(releases::create_release),
        )
        .route(
            "/organizations/{org}/releases/{version}/",
            get(releases::get_release)
                .put(releases::update_release)
                .delete(releases::delete_release),
        )
        .route(
            "/organizations/{org}/releases/{version}/deploys/",
            get(releases::list_deploys).post(releases::create_deploy),
        )
        .route(
            "/organizations/{org}/releases/{version}/files/",
            get(release_files::org_list).post(release_files::org_upload),
        )
        .route(
            "/organizations/{org}/releases/{version}/files/{file_id}/",
            get(release_files::org_detail)
                .put(release_files::org_update)
                .delete(release_files::org_delete),
        )
        .route(
            "/organizations/{org}/releases/{version}/assemble/",
            axum::routing::post(artifacts::assemble_release_bundle),
        )
        .route(
            "/organizations/{org}/chunk-upload/",
            get(artifacts::chunk_upload_options).post(artifacts::upload_chunks),
        )
        .route(
            "/organizations/{org}/artifactbundle/assemble/",
            axum::routing::post(artifacts::assemble_artifact_bundle),
        )
        .route("/organizations/{org}/events/", get(discover::list_events))
        .route(
            "/organizations/{org}/events/validate/",
            get(discover::validate::validate_events),
        )
        .route(
            "/organizations/{org}/events/{project_event}/",
            get(traces::org_event),
        )
        .route(
            "/organizations/{org}/events-stats/",
            get(discover::events_stats),
        )
        .route("/organizations/{org}/stats_v2/", get(stats::stats_v2))
        .route(
            "/organizations/{org}/events-trace/{trace_id}/",
            get(traces::trace),
        )
        .route(
            "/organizations/{org}/trace-meta/{trace_id}/",
            get(traces::trace_meta),
        )
        .route(
            "/organizations/{org}/trace/{trace_id}/",
            get(traces::trace_spans),
        )
        .route(
            "/projects/{org}/{project}/performance-issues/configure/",
            get(performance_settings::get_issue_settings)
                .put(performance_settings::update_issue_settings),
        )
        .route(
            "/projects/{org}/{project}/transaction-threshold/configure/",
            get(performance_settings::get_transaction_threshold)
                .post(performance_settings::set_transaction_threshold)
                .put(performance_settings::set_transaction_threshold)
                .delete(performance_settings::delete_transaction_threshold),
        )
        .route(
            "/projects/{org}/{project}/rules/",
            get(rules::list_rules).post(rules::create_rule),
        )
        .route(
            "/projects/{org}/{project}/rules/{rule_id}/",
            get(rules::get_rule)
                .put(rules::update_rule)
                .delete(rules::delete_rule),
        )
        .route(
            "/projects/{org}/{project}/notifications/",
            get(rules::list_notifications),
        )
        .route("/projects/", get(projects::list_all_projects))
        .route(
            "/projects/{org}/{project}/releases/",
            get(releases::list_project_releases).post(releases::create_project_release),
        )
        .route(
            "/projects/{org}/{project}/releases/{version}/files/",
            get(release_files::project_list).post(release_files::project_upload),
        )
        .route(
            "/projects/{org}/{project}/releases/{version}/files/{file_id}/",
            get(release_files::project_detail)
                .put(release_files::project_update)
                .delete(release_files::project_delete),
        )
        .route(
            "/projects/{org}/{project}/files/artifact-bundles/",
            get(artifacts::list_bundles).delete(artifacts::delete_bundle),
        )
        .route(
            "/projects/{org}/{project}/artifact-bundles/{bundle_id}/files/",
            get(artifacts::bundle_files),
        )
        .route(
            "/projects/{org}/{project}/",
            get(projects::project).put(projects::update_project),
        )
        .route(
            "/projects/{org}/{project}/filters/",
            get(filters::list_filters),
        )
        .route(
            "/projects/{org}/{project}/filters/{filter_id}/",
            axum::routing::put(filters::update_filter),
        )
        .route(
            "/projects/{org}/{project}/keys/",
            get(projects::list_keys).post(projects::create_key),
        )
        .route(
            "/projects/{org}/{project}/keys/{key_id}/",
            axum::routing::put(projects::update_key).delete(projects::delete_key),
        )
        .route(
            "/projects/{org}/{project}/issues/",
            get(issues::list_project_issues)
                .put(triage::bulk_update_project)
                .delete(triage::bulk_delete_project),
        )
        .route(
            "/projects/{org}/{project}/events/",
            get(events::list_project_events),
        )
        .route(
            "/projects/{org}/{project}/events/{event_id}/",
            get(events::project_event),
        )
        .route(
            "/projects/{org}/{project}/events/{event_id}/attachments/",
            get(attachments::list),
        )
        .route(
            "/projects/{org}/{project}/events/{event_id}/attachments/{attachment_id}/",
            get(attachments::detail).delete(attachments::delete),
        )
        .route(
            "/projects/{org}/{project}/user-reports/",
            get(user_reports::list_project),
        )
        .route(
            "/projects/{org}/{project}/user-feedback/",
            axum::routing::post(user_reports::submit),
        )
        .route(
            "/issues/{issue_id}/",
            get(triage::get_issue)
                .put(triage::update_issue)
                .delete(triage::delete_issue),
        )
        .nest("/issues/{issue_id}", issue_routes())
        .nest("/organizations/{org}/issues/{issue_id}", issue_routes())
        .fallback(|| async { error::ApiError::NotFound })
}

/// An issue's sub-resources, served under `/issues/{issue_id}/…` and under
/// `/organizations/{org}/issues/{issue_id}/…` alike (Sentry serves both; its MCP server calls
/// the second). `{issue_id}` is a numeric id or a short id (`SHOP-1A`).
fn issue_routes() -> Router<AppState> {
    Router::new()
        .route("/tags/", get(issues::issue_tags))
        .route("/tags/{key}/", get(issue_tag_values::issue_tag))
        .route(
            "/tags/{key}/values/",
            get(issue_tag_values::issue_tag_values),
        )
        .route("/activities/", get(triage::issue_activities))
        .route("/user-reports/", get(user_reports::list_issue))
        // Sentry serves an issue's notes as `comments/` and `notes/` alike (the MCP server
        // calls the second).
        .route(
            "/comments/",
            get(triage::list_notes).post(triage::create_note),
        )
        .route(
            "/comments/{note_id}/",
            axum::routing::put(triage::update_note).delete(triage::delete_note),
        )
        .route("/notes/", get(triage::list_notes).post(triage::create_note))
        .route(
            "/notes/{note_id}/",
            axum::routing::put(triage::update_note).delete(triage::delete_note),
        )
        .route(
            "/hashes/",
            get(triage::list_hashes)
                .put(triage::unmerge_hashes)
                .delete(triage::unmerge_hashes),
        )
        .route("/events/", get(events::list_issue_events))
        .route("/events/{which}/", get(events::issue_event))
}
