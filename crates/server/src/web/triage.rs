//! Triage on the issue page: the assignee picker, bookmark, subscription and review buttons,
//! notes with a Markdown preview, the activity timeline and the grouping hashes with their
//! unmerge buttons. Every form goes through the API's own update code, so the page and the
//! API record the same activities and send the same notifications.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::{Html, Response};
use axum::Form;
use maud::{html, Markup, PreEscaped};
use serde_json::{Map, Value};
use vigil_store::{Issue, IssueActivity, IssueTriage, Organization, User};

use super::error::WebError;
use super::layout::{csrf_field, redirect_to, time_ago};
use super::session::Viewer;
use crate::api::error::ApiError;
use crate::api::triage as api;
use crate::query;
use crate::AppState;

/// The API's refusal as the page's.
fn web_error(err: ApiError) -> WebError {
    match err {
        ApiError::NotFound => WebError::NotFound,
        ApiError::BadField { field, message } => {
            WebError::BadRequest(format!("{field}: {message}"))
        }
        other => WebError::BadRequest(other.to_string()),
    }
}

/// What the triage panel shows.
pub struct Panel<'a> {
    pub base: &'a str,
    pub issue: &'a Issue,
    pub triage: &'a IssueTriage,
    pub members: &'a [User],
    pub activities: &'a [IssueActivity],
    pub hashes: &'a [String],
    /// A note being previewed, with its rendering.
    pub draft: Option<&'a str>,
    pub now: f64,
}

fn who(users: &HashMap<i64, &User>, id: Option<i64>) -> String {
    match id.and_then(|id| users.get(&id)) {
        Some(user) => user.email.clone(),
        None => "Vigil".into(),
    }
}

/// A sentence for each activity type of Sentry's the timeline shows.
fn sentence(activity: &IssueActivity) -> String {
    let data = &activity.data;
    let text = |key: &str| {
        data.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    match activity.kind.as_str() {
        "set_resolved" => "marked this issue as resolved".into(),
        "set_unresolved" => "marked this issue as unresolved".into(),
        "set_ignored" => {
            let details: Vec<String> = [
                "ignoreCount",
                "ignoreUserCount",
                "ignoreWindow",
                "ignoreUserWindow",
                "ignoreDuration",
                "ignoreUntil",
            ]
            .iter()
            .filter_map(|k| data.get(*k).map(|v| format!("{k} {v}")))
            .collect();
            if details.is_empty() {
                "archived this issue forever".into()
            } else {
                format!("archived this issue until {}", details.join(", "))
            }
        }
        "set_regression" => "saw this issue regress".into(),
        "assigned" => format!("assigned this issue to {}", text("assigneeEmail")),
        "unassigned" => "unassigned this issue".into(),
        "mark_reviewed" => "marked this issue as reviewed".into(),
        "merge" => {
            let n = data
                .get("issues")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            format!("merged {n} issue(s) into this issue")
        }
        "unmerge_source" => format!("unmerged a hash into issue {}", text("destination_id")),
        "unmerge_destination" => format!("unmerged a hash from issue {}", text("source_id")),
        "note" => "left a note".into(),
        "notification" => format!("sent an alert to {}", text("target")),
        other => other.replace('_', " "),
    }
}

pub fn panel(viewer: &Viewer, panel: &Panel) -> Markup {
    let users: HashMap<i64, &User> = panel.members.iter().map(|u| (u.id, u)).collect();
    let triage = panel.triage;
    let action = format!("{}triage/", panel.base);
    html! {
        section.triage {
            h2 { "Triage" }
            form.assignee method="post" action=(action) {
                (csrf_field(viewer))
                label {
                    "Assignee "
                    select name="assignedTo" {
                        option value="" selected[triage.assignee_id.is_none()] { "Unassigned" }
                        @for user in panel.members {
                            option value={ "user:" (user.id) } selected[triage.assignee_id == Some(user.id)] { (user.email) }
                        }
                    }
                }
                button type="submit" { "Assign" }
            }
            form.marks method="post" action=(action) {
                (csrf_field(viewer))
                @if triage.bookmarked {
                    button type="submit" name="isBookmarked" value="false" { "Remove bookmark" }
                } @else {
                    button type="submit" name="isBookmarked" value="true" { "Bookmark" }
                }
                @if triage.subscribed == Some(true) {
                    button type="submit" name="isSubscribed" value="false" { "Unsubscribe" }
                } @else {
                    button type="submit" name="isSubscribed" value="true" { "Subscribe" }
                }
                @if triage.reviewed_at.is_none() && panel.issue.status == vigil_store::IssueStatus::Unresolved {
                    button type="submit" name="inbox" value="false" { "Mark reviewed" }
                }
            }
        }
        section.notes {
            h2 { "Notes" }
            form.note method="post" action={ (panel.base) "notes/" } {
                (csrf_field(viewer))
                textarea name="text" rows="4" aria-label="Note (Markdown; @email mentions a member)"
                    placeholder="Markdown; @email mentions a member" { (panel.draft.unwrap_or("")) }
                button type="submit" name="action" value="preview" { "Preview" }
                button.primary type="submit" name="action" value="save" { "Add note" }
            }
            @if let Some(draft) = panel.draft {
                div.note-preview aria-label="Preview" { (PreEscaped(super::markdown::render(draft))) }
            }
        }
        section.timeline {
            h2 { "Timeline" }
            ol.timeline {
                @for activity in panel.activities {
                    li class={ "activity activity-" (activity.kind) } {
                        strong { (who(&users, activity.user_id)) } " " (sentence(activity))
                        " · " (time_ago(activity.date_created, panel.now))
                        @if activity.kind == "note" {
                            div.note-body {
                                (PreEscaped(super::markdown::render(
                                    activity.data.get("text").and_then(Value::as_str).unwrap_or_default())))
                            }
                        }
                    }
                }
                li.activity.activity-first_seen { "First seen · " (time_ago(panel.issue.first_seen, panel.now)) }
            }
        }
        @if panel.hashes.len() > 1 {
            section.hashes {
                h2 { "Grouping hashes" }
                ul.hashes {
                    @for hash in panel.hashes {
                        li {
                            code { (hash) }
                            form.inline method="post" action={ (panel.base) "unmerge/" } {
                                (csrf_field(viewer))
                                input type="hidden" name="hash" value=(hash);
                                button type="submit" { "Unmerge" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The members of the organization, for the picker and the timeline's names.
pub async fn members(state: &AppState, org: &Organization) -> Result<Vec<User>, WebError> {
    Ok(state
        .store
        .organization_members(org.id)
        .await?
        .into_iter()
        .map(|(user, _)| user)
        .collect())
}

/// The form's fields as the API's update body (`true`/`false` as booleans).
fn body_of(form: &[(String, String)]) -> Map<String, Value> {
    form.iter()
        .filter(|(k, _)| k != "csrf")
        .map(|(k, v)| {
            let value = match v.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::String(v.clone()),
            };
            (k.clone(), value)
        })
        .collect()
}

/// `POST /organizations/{org}/issues/{id}/triage/`: assignee, bookmark, subscription, review.
pub async fn update(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    viewer.check_csrf(query::first(&form, "csrf").unwrap_or(""))?;
    let org = viewer.organization(&org)?;
    let id: i64 = id.parse().map_err(|_| WebError::NotFound)?;
    let (project, issue) = super::issue::org_issue(&state, &org, id).await?;
    let body = body_of(&form);
    let update = api::parse_update(&state, &org, &viewer.user, &body)
        .await
        .map_err(web_error)?;
    api::apply(&state, &viewer.user, &project, &[issue], &update)
        .await
        .map_err(web_error)?;
    Ok(redirect_to(
        &state,
        &format!("/organizations/{}/issues/{id}/", org.slug),
    ))
}

/// `POST /organizations/{org}/issues/{id}/notes/`: `action=save` writes the note,
/// `action=preview` shows the page again with the note rendered.
pub async fn note(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org_slug, id)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    viewer.check_csrf(query::first(&form, "csrf").unwrap_or(""))?;
    let org = viewer.organization(&org_slug)?;
    let issue_id: i64 = id.parse().map_err(|_| WebError::NotFound)?;
    let (project, issue) = super::issue::org_issue(&state, &org, issue_id).await?;
    let text = query::first(&form, "text").unwrap_or("").to_owned();
    if query::first(&form, "action") == Some("preview") {
        let page: Html<String> =
            super::issue::render_detail(&viewer, &state, &org_slug, &id, None, Some(&text)).await?;
        return Ok(axum::response::IntoResponse::into_response(page));
    }
    let mut body = Map::new();
    body.insert("text".into(), Value::String(text));
    api::add_note(&state, &viewer.user, &org, &project, &issue, &body)
        .await
        .map_err(web_error)?;
    Ok(redirect_to(
        &state,
        &format!("/organizations/{}/issues/{issue_id}/", org.slug),
    ))
}

/// `POST /organizations/{org}/issues/{id}/unmerge/`: the hash's events become a new issue,
/// which the page then shows.
pub async fn unmerge(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    viewer.check_csrf(query::first(&form, "csrf").unwrap_or(""))?;
    let org = viewer.organization(&org)?;
    let id: i64 = id.parse().map_err(|_| WebError::NotFound)?;
    let (_, issue) = super::issue::org_issue(&state, &org, id).await?;
    let hash = query::first(&form, "hash").unwrap_or("");
    let target = api::unmerge_one(&state, &viewer.user, &issue, hash)
        .await
        .map_err(web_error)?;
    Ok(redirect_to(
        &state,
        &format!("/organizations/{}/issues/{target}/", org.slug),
    ))
}
