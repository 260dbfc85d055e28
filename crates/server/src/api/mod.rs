//! The `/api/0/` web API: a subset of Sentry's, with the same paths and JSON shapes, so that
//! sentry-cli and scripts written for Sentry work against Vigil.

pub mod access;
pub mod activities;
pub mod attachments;
pub mod auth;
pub mod discover;
pub mod error;
pub mod events;
pub mod filters;
pub mod issues;
pub mod pagination;
pub mod performance_settings;
pub mod projects;
pub mod quotas;
pub mod releases;
pub mod root;
pub mod rules;
pub mod stats;
pub mod traces;
pub mod user_reports;

use axum::routing::get;
use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(root::index))
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
        .route("/organizations/{org}/issues/", get(issues::list_org_issues))
        .route(
            "/organizations/{org}/issues/{issue_id}/",
            get(issues::get_issue).put(issues::update_org_issue),
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
        .route("/organizations/{org}/events/", get(discover::list_events))
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
            get(issues::list_project_issues).put(issues::bulk_update_project_issues),
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
            get(issues::get_issue).put(issues::update_issue),
        )
        .route(
            "/issues/{issue_id}/user-reports/",
            get(user_reports::list_issue),
        )
        .route("/issues/{issue_id}/tags/", get(issues::issue_tags))
        .route(
            "/issues/{issue_id}/activities/",
            get(activities::issue_activities),
        )
        .route("/issues/{issue_id}/events/", get(events::list_issue_events))
        .route(
            "/issues/{issue_id}/events/{which}/",
            get(events::issue_event),
        )
        .fallback(|| async { error::ApiError::NotFound })
}
