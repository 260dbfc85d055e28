//! One issue (`/organizations/{org}/issues/{id}/`, the API's `permalink`): its summary, status
//! actions, charts, tag facets, user feedback and one of its events (the latest unless `?event=`
//! names another) with its attachments, plus the list of all its events.

use axum::extract::{Path, Query, State};
use axum::response::{Html, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;
use vigil_store::{Issue, IssueStatus, Organization, Project, StoredEvent, TagValueCount};

use super::charts;
use super::error::WebError;
use super::event;
use super::layout::{count, csrf_field, level_badge, page, redirect_to, time_ago, Shell};
use super::session::Viewer;
use crate::lookup;
use crate::serialize::issue::short_id;
use crate::serialize::{serialize_event, set_neighbours};
use crate::time::unix_now;
use crate::AppState;
use vigil_processing::tags::is_search_only_tag;

/// Events per page of an issue's event list.
const EVENTS_PAGE: u64 = 50;
/// Values shown per tag key.
const TOP_VALUES: usize = 5;

/// The organization `org` and its issue `id`, if the viewer may read them; anything else is 404.
async fn viewer_issue(
    state: &AppState,
    viewer: &Viewer,
    org: &str,
    id: &str,
) -> Result<(Organization, Project, Issue), WebError> {
    let org = viewer.organization(org)?;
    let id: i64 = id.parse().map_err(|_| WebError::NotFound)?;
    let (project, issue) = org_issue(state, &org, id).await?;
    Ok((org, project, issue))
}

/// The issue `id` if it belongs to `org`; anything else is 404, never another org's data.
pub async fn org_issue(
    state: &AppState,
    org: &Organization,
    id: i64,
) -> Result<(Project, Issue), WebError> {
    lookup::issue_with_project(state, id)
        .await?
        .filter(|(project, _)| project.organization_id == org.id)
        .ok_or(WebError::NotFound)
}

#[derive(Debug, Default, Deserialize)]
pub struct DetailParams {
    /// `latest` (default), `oldest`, or an event id.
    event: Option<String>,
    /// `full`: system frames too.
    frames: Option<String>,
    /// `minified`: the frames as the SDK sent them, before source maps applied.
    stack: Option<String>,
}

/// `GET /organizations/{org}/issues/{id}/`: opening it marks the issue seen by the viewer.
pub async fn detail(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    Query(params): Query<DetailParams>,
) -> Result<Html<String>, WebError> {
    render_detail(&viewer, &state, &org, &id, Some(params), None).await
}

/// The issue page; `draft` is a note being previewed.
pub async fn render_detail(
    viewer: &Viewer,
    state: &AppState,
    org: &str,
    id: &str,
    params: Option<DetailParams>,
    draft: Option<&str>,
) -> Result<Html<String>, WebError> {
    let params = params.unwrap_or_default();
    let (org, project, issue) = viewer_issue(state, viewer, org, id).await?;
    let state = state.clone();
    let viewer = viewer.clone();
    let which = params.event.as_deref().unwrap_or("latest");
    let stored: Option<StoredEvent> = lookup::issue_event(&state, &issue, which).await?;
    if params.event.is_some() && stored.is_none() {
        return Err(WebError::NotFound);
    }
    let event = match &stored {
        Some(stored) => {
            let mut body = serialize_event(stored);
            let (older, newer) = state
                .store
                .issue_event_neighbours(issue.id, stored.project_id, &stored.event_id)
                .await
                .map_err(|_| WebError::Unavailable)?;
            set_neighbours(&mut body, older, newer);
            Some(body)
        }
        None => None,
    };
    let now = unix_now();
    let hourly = state
        .store
        .issue_hourly_counts(&[issue.id], charts::series_start(now, 30, 86_400))
        .await?;
    let activities = state.store.issue_activities(issue.id).await?;
    let triage = state
        .store
        .issue_triage(issue.id, Some(viewer.user.id))
        .await?
        .unwrap_or_default();
    state
        .store
        .set_seen(issue.id, viewer.user.id, Some(now))
        .await?;
    let members = super::triage::members(&state, &org).await?;
    let hashes = state.store.issue_hashes(issue.id).await?;
    let (alerts, timeline): (Vec<_>, Vec<_>) = activities
        .into_iter()
        .partition(|a| a.kind == "notification");
    let mut tag_values = state.store.issue_tag_values(issue.id).await?;
    tag_values.retain(|value| !is_search_only_tag(&value.key));

    let prefix = state.config.path_prefix();
    let base = format!("{prefix}/organizations/{}/issues/{}/", org.slug, issue.id);
    let full_frames = params.frames.as_deref() == Some("full");
    let minified = params.stack.as_deref() == Some("minified");
    let evidence = match &stored {
        Some(s) if issue.event_type.starts_with("performance_") => {
            Some(super::transaction::issue_evidence(&state, &org, &project, s).await)
        }
        _ => None,
    };
    let trace_href = stored
        .as_ref()
        .and_then(|s| super::transaction::event_trace_id(&s.data))
        .map(|id| super::performance::trace_url(&prefix, &org.slug, &id));
    let extras = match &stored {
        Some(s) => html! {
            (super::attachments::event_section(&state, &prefix, &org.slug, &project, &s.event_id).await?)
            (super::user_feedback::event_section(&state, project.id, &s.event_id, now).await?)
        },
        None => html! {},
    };
    let issue_feedback = super::user_feedback::issue_section(&state, &issue, now).await?;
    let issue_attachments = super::attachments::issue_count(&state, &issue).await?;
    let body = html! {
        (summary(&viewer, &base, &project, &issue, stored.as_ref(), now))
        div.issue-layout {
            div.event-column {
                @match (&event, &stored) {
                    (Some(event), Some(stored)) => {
                        (event_nav(&base, event, stored, full_frames, now, trace_href.as_deref()))
                        @if let Some(evidence) = &evidence { (evidence) }
                        (extras)
                        (event::render(event, &stored.data, &frames_view(&base, which, full_frames, minified)))
                    }
                    _ => { p.empty { "This issue has no stored events (they may have expired)." } }
                }
            }
            aside.sidebar {
                section.charts {
                    h2 { "Events" }
                    h3 { "Last 24 hours" }
                    (charts::bars(&charts::bucket_counts(&hourly, issue.id, now, 24, 3600), 280, 48, |i| format!("{} h ago", 23 - i)))
                    h3 { "Last 30 days" }
                    (charts::bars(&charts::bucket_counts(&hourly, issue.id, now, 30, 86_400), 280, 48, |i| format!("{} d ago", 29 - i)))
                }
                (super::triage::panel(&viewer, &super::triage::Panel {
                    base: &base,
                    issue: &issue,
                    triage: &triage,
                    members: &members,
                    activities: &timeline,
                    hashes: &hashes,
                    draft,
                    now,
                }))
                (issue_feedback)
                (issue_attachments)
                (facets(&tag_values))
                (super::alerts::activity_list(&alerts, now))
            }
        }
    };
    Ok(page(
        Shell::of_org(&issue.title, &prefix, &viewer, &org),
        body,
    ))
}

/// How the event's frames are shown, and the links that switch system frames and minified
/// frames on or off (each keeping the other).
fn frames_view(base: &str, which: &str, full: bool, minified: bool) -> event::FramesView {
    let link = |full: bool, minified: bool| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if which != "latest" {
            q.append_pair("event", which);
        }
        if full {
            q.append_pair("frames", "full");
        }
        if minified {
            q.append_pair("stack", "minified");
        }
        format!("{base}?{}#exception", q.finish())
    };
    event::FramesView {
        full,
        minified,
        full_toggle: link(!full, minified),
        minified_toggle: link(full, !minified),
    }
}

fn summary(
    viewer: &Viewer,
    base: &str,
    project: &Project,
    issue: &Issue,
    event: Option<&StoredEvent>,
    now: f64,
) -> Markup {
    let value = issue
        .metadata
        .get("value")
        .and_then(Value::as_str)
        .unwrap_or("");
    let last_release = event.and_then(|e| e.release.as_deref());
    html! {
        section.issue-head {
            div.crumbs {
                span.project { (project.slug) } " / " span.short-id { (short_id(project, issue.short_id)) }
            }
            h1.issue-title { (issue.title) }
            div.meta {
                (level_badge(&issue.level))
                @if !issue.culprit.is_empty() { span.culprit { (issue.culprit) } }
                @if issue.is_unhandled { span.badge.unhandled { "Unhandled" } }
                span class={ "status status-" (issue.status.as_str()) } { (issue.status.as_str()) }
            }
            @if !value.is_empty() && !issue.title.contains(value) { p.value { (value) } }
            div.head-row {
                form.status-actions method="post" action={ (base) "status/" } {
                    (csrf_field(viewer))
                    @if issue.status == IssueStatus::Unresolved {
                        button.primary type="submit" name="status" value="resolved" { "Resolve" }
                        button type="submit" name="status" value="ignored" { "Ignore" }
                    } @else {
                        button.primary type="submit" name="status" value="unresolved" { "Unresolve" }
                    }
                }
                dl.counts {
                    div { dt { "Events" } dd { (count(issue.times_seen)) } }
                    div { dt { "Users" } dd { (count(issue.user_count)) } }
                    div { dt { "First seen" } dd { (time_ago(issue.first_seen, now))
                        @if let Some(r) = &issue.first_release { br; small { "in " code { (r) } } } } }
                    div { dt { "Last seen" } dd { (time_ago(issue.last_seen, now))
                        @if let Some(r) = last_release { br; small { "in " code { (r) } } } } }
                }
            }
        }
    }
}

fn event_nav(
    base: &str,
    event: &Value,
    stored: &StoredEvent,
    full: bool,
    now: f64,
    trace_href: Option<&str>,
) -> Markup {
    let link = |which: &str| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("event", which);
        if full {
            q.append_pair("frames", "full");
        }
        format!("{base}?{}", q.finish())
    };
    let older = event.get("previousEventID").and_then(Value::as_str);
    let newer = event.get("nextEventID").and_then(Value::as_str);
    html! {
        nav.event-nav aria-label="Events of this issue" {
            div {
                "Event " a href=(link(&stored.event_id)) { code { (stored.event_id.get(..8).unwrap_or(&stored.event_id)) } }
                " · " (time_ago(stored.timestamp, now))
                @if let Some(env) = &stored.environment { " · " span.env { (env) } }
                @if let Some(rel) = &stored.release { " · " code { (rel) } }
                @if let Some(href) = trace_href { " · " a.trace-link href=(href) { "View trace" } }
            }
            div.buttons {
                a href=(link("oldest")) { "Oldest" }
                @match older { Some(id) => a href=(link(id)) rel="prev" { "Older" }, None => span.disabled { "Older" } }
                @match newer { Some(id) => a href=(link(id)) rel="next" { "Newer" }, None => span.disabled { "Newer" } }
                a href=(link("latest")) { "Newest" }
                a href={ (base) "events/" } { "All events" }
            }
        }
    }
}

/// Each tag key with its top values and their shares of the issue's events.
fn facets(values: &[TagValueCount]) -> Markup {
    let mut groups: Vec<(&str, Vec<&TagValueCount>)> = Vec::new();
    for v in values {
        match groups.last_mut() {
            Some((key, group)) if *key == v.key => group.push(v),
            _ => groups.push((&v.key, vec![v])),
        }
    }
    html! {
        section.facets #tags {
            h2 { "Tags" }
            @for (key, group) in &groups {
                @let total: i64 = group.iter().map(|v| v.times_seen).sum::<i64>().max(1);
                div.facet {
                    h3 { (key) }
                    ul {
                        @for v in group.iter().take(TOP_VALUES) {
                            @let share = v.times_seen as f64 * 100.0 / total as f64;
                            li title={ (v.value) ": " (v.times_seen) } {
                                span.bar style={ "width:" (format!("{share:.0}")) "%" } {}
                                span.facet-value { (v.value) }
                                span.facet-share { (format!("{share:.0}")) "%" }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    csrf: String,
    status: String,
}

/// `POST /organizations/{org}/issues/{id}/status/`.
pub async fn set_status(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    Form(form): Form<StatusForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let (org, _, issue) = viewer_issue(&state, &viewer, &org, &id).await?;
    let status = IssueStatus::parse(&form.status)
        .ok_or_else(|| WebError::BadRequest(format!("unknown status {:?}", form.status)))?;
    state.store.set_issue_status(issue.id, status).await?;
    tracing::info!(
        issue_id = issue.id,
        status = status.as_str(),
        user_id = viewer.user.id,
        "issue status set"
    );
    Ok(redirect_to(
        &state,
        &format!("/organizations/{}/issues/{}/", org.slug, issue.id),
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct EventsParams {
    page: Option<u64>,
}

/// `GET /organizations/{org}/issues/{id}/events/`: every event of the issue, newest first.
pub async fn events(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    Query(params): Query<EventsParams>,
) -> Result<Html<String>, WebError> {
    let (org, project, issue) = viewer_issue(&state, &viewer, &org, &id).await?;
    let page_no = params.page.unwrap_or(0);
    let events = state
        .store
        .issue_events(issue.id, page_no * EVENTS_PAGE, EVENTS_PAGE + 1)
        .await?;
    let has_next = events.len() as u64 > EVENTS_PAGE;
    let now = unix_now();
    let prefix = state.config.path_prefix();
    let base = format!("{prefix}/organizations/{}/issues/{}/", org.slug, issue.id);
    let body = html! {
        div.crumbs { a href=(base) { (short_id(&project, issue.short_id)) } " / events" }
        h1 { (issue.title) }
        table.events {
            thead { tr { th { "Event" } th { "Time" } th { "Environment" } th { "Release" } th { "User" } } }
            tbody {
                @for e in events.iter().take(EVENTS_PAGE as usize) {
                    tr {
                        td { a href={ (base) "?event=" (e.event_id) } { code { (e.event_id) } } }
                        td { (time_ago(e.timestamp, now)) }
                        td { (e.environment.as_deref().unwrap_or("")) }
                        td { (e.release.as_deref().unwrap_or("")) }
                        td { (e.user_tag.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        nav.pager {
            @if page_no > 0 { a href={ "?page=" (page_no - 1) } rel="prev" { "← Newer" } }
            @if has_next { a href={ "?page=" (page_no + 1) } rel="next" { "Older →" } }
        }
    };
    Ok(page(
        Shell::of_org(&issue.title, &prefix, &viewer, &org),
        body,
    ))
}
