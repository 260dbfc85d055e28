//! Issue triage through Sentry's API: the fields of `PUT /issues/{id}/` and of the bulk
//! `PUT /projects/{org}/{p}/issues/?id=…` (assignee, seen, bookmark, subscription, status with
//! its ignore conditions, review, merge), deleting issues, notes (`/comments/`) and hashes.
//! Every change is recorded as an activity of Sentry's type, with who made it.
//!
//! A field the API does not apply is refused with a 400 naming it, never accepted and dropped.
//! The issue's activities and notes are in [`notes`], its grouping hashes in [`hashes`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};
use vigil_store::{
    Issue, IssueStatus, IssueTriage, NewNotification, Organization, Project, Snooze, User,
};

use super::access::IssueAccess;
use super::auth::Caller;
use super::error::{json_body, ApiError};
use crate::query::{self, QueryPairs};
use crate::serialize::{iso, serialize_issue};
use crate::time::unix_now;
use crate::AppState;

mod hashes;
mod notes;

pub(crate) use hashes::unmerge_one;
pub use hashes::{list_hashes, unmerge_hashes};
use notes::activity_list;
pub(crate) use notes::add_note;
pub use notes::{create_note, delete_note, issue_activities, list_notes, update_note};

/// The most issues one bulk request changes (Sentry's `BULK_MUTATION_LIMIT`).
const BULK_LIMIT: usize = 1000;

/// Sentry's substatuses of an ignored issue that Vigil applies.
const IGNORED_SUBSTATUSES: [&str; 2] = ["archived_forever", "archived_until_condition_met"];

/// A parsed update: each field is applied as a whole or the request is refused.
#[derive(Debug, Default)]
pub(crate) struct Update {
    status: Option<IssueStatus>,
    substatus: Option<String>,
    snooze: Snooze,
    /// `statusDetails` as received, for the `set_ignored` activity.
    ignore_details: Map<String, Value>,
    /// `Some(None)`: unassign.
    assigned_to: Option<Option<User>>,
    has_seen: Option<bool>,
    is_bookmarked: Option<bool>,
    is_subscribed: Option<bool>,
    inbox: Option<bool>,
    merge: bool,
}

fn positive(details: &Map<String, Value>, key: &str) -> Result<Option<i64>, ApiError> {
    match details.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_i64() {
            Some(n) if n > 0 => Ok(Some(n)),
            _ => Err(ApiError::bad_field(
                key,
                "Ensure this value is a positive integer.",
            )),
        },
    }
}

fn boolean(map: &Map<String, Value>, key: &str) -> Result<Option<bool>, ApiError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" || s == "1" => Ok(Some(true)),
        Some(Value::String(s)) if s == "false" || s == "0" => Ok(Some(false)),
        Some(Value::Number(n)) if n.as_i64() == Some(1) => Ok(Some(true)),
        Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(Some(false)),
        Some(_) => Err(ApiError::bad_field(key, "Must be a valid boolean.")),
    }
}

/// A member of `org` named as Sentry's actor fields name users: `user:ID`, an id, or an
/// email; `None` when no member has that name.
async fn member(
    state: &AppState,
    org: &Organization,
    name: &str,
) -> Result<Option<User>, ApiError> {
    let members = state.store.organization_members(org.id).await?;
    let name = name.trim();
    let id = name
        .strip_prefix("user:")
        .unwrap_or(name)
        .parse::<i64>()
        .ok();
    Ok(members
        .into_iter()
        .map(|(user, _)| user)
        .find(|user| Some(user.id) == id || user.email.eq_ignore_ascii_case(name)))
}

/// The update `body` asks for, checked; `me` is who asks (`assignedTo: "me"`).
pub(crate) async fn parse_update(
    state: &AppState,
    org: &Organization,
    me: &User,
    body: &Map<String, Value>,
) -> Result<Update, ApiError> {
    // Sentry's older top-level `snoozeDuration` (minutes; sentry-cli sends it, `null` when
    // muting without one) is `statusDetails.ignoreDuration`.
    let rewritten;
    let body = match body.get("snoozeDuration") {
        None => body,
        Some(duration) => {
            let mut copy = body.clone();
            copy.remove("snoozeDuration");
            if !duration.is_null() {
                let details = copy
                    .entry("statusDetails")
                    .or_insert_with(|| Value::Object(Map::new()));
                if details.is_null() {
                    *details = Value::Object(Map::new());
                }
                match details {
                    Value::Object(details) => {
                        details
                            .entry("ignoreDuration")
                            .or_insert_with(|| duration.clone());
                    }
                    _ => return Err(ApiError::bad_field("statusDetails", "Must be an object.")),
                }
            }
            rewritten = copy;
            &rewritten
        }
    };
    let mut update = Update::default();
    for key in body.keys() {
        if ![
            "status",
            "statusDetails",
            "substatus",
            "assignedTo",
            "hasSeen",
            "isBookmarked",
            "isSubscribed",
            "inbox",
            "merge",
        ]
        .contains(&key.as_str())
        {
            return Err(ApiError::bad_field(
                key,
                "Vigil does not apply this field to issues.",
            ));
        }
    }
    update.status = match body.get("status") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "resolved" => IssueStatus::Resolved,
            "resolvedInNextRelease" => {
                return Err(ApiError::bad_field(
                    "status",
                    "resolvedInNextRelease is not supported: Vigil does not resolve in a \
                     release yet; use \"resolved\".",
                ))
            }
            "unresolved" => IssueStatus::Unresolved,
            "ignored" | "muted" | "archived" => IssueStatus::Ignored,
            _ => {
                return Err(ApiError::bad_field(
                    "status",
                    format!("\"{s}\" is not a valid choice."),
                ))
            }
        }),
        Some(_) => return Err(ApiError::bad_field("status", "Not a valid string.")),
    };
    if let Some(substatus) = body.get("substatus").filter(|v| !v.is_null()) {
        let substatus = substatus
            .as_str()
            .ok_or_else(|| ApiError::bad_field("substatus", "Not a valid string."))?;
        let implied = if IGNORED_SUBSTATUSES.contains(&substatus) {
            IssueStatus::Ignored
        } else if ["ongoing", "escalating", "regressed", "new"].contains(&substatus) {
            IssueStatus::Unresolved
        } else if substatus == "archived_until_escalating" {
            return Err(ApiError::bad_field(
                "substatus",
                "archived_until_escalating is not supported: Vigil keeps no escalation \
                 forecasts; use statusDetails (ignoreCount, ignoreWindow, ...) instead.",
            ));
        } else {
            return Err(ApiError::bad_field(
                "substatus",
                format!("\"{substatus}\" is not a valid choice."),
            ));
        };
        match update.status {
            None => update.status = Some(implied),
            Some(status) if status == implied => {}
            Some(_) => {
                return Err(ApiError::bad_field(
                    "substatus",
                    format!("The substatus \"{substatus}\" does not go with that status."),
                ))
            }
        }
        update.substatus = Some(substatus.to_owned());
    }
    if let Some(details) = body.get("statusDetails").filter(|v| !v.is_null()) {
        let details = details
            .as_object()
            .ok_or_else(|| ApiError::bad_field("statusDetails", "Must be an object."))?;
        for key in details.keys() {
            match key.as_str() {
                "ignoreCount" | "ignoreUserCount" | "ignoreWindow" | "ignoreUserWindow"
                | "ignoreDuration" | "ignoreUntil" => {}
                "inRelease" | "inNextRelease" | "inUpcomingRelease" | "inCommit" => {
                    return Err(ApiError::bad_field(
                        key,
                        "Resolving in a release or commit is not supported by Vigil yet.",
                    ))
                }
                _ => {
                    return Err(ApiError::bad_field(
                        key,
                        "Vigil does not apply this status detail.",
                    ))
                }
            }
        }
        let mut snooze = Snooze {
            count: positive(details, "ignoreCount")?,
            window: positive(details, "ignoreWindow")?,
            user_count: positive(details, "ignoreUserCount")?,
            user_window: positive(details, "ignoreUserWindow")?,
            until: None,
        };
        // Minutes; a fraction is taken as it is (Sentry's field is an integer, but nothing is
        // lost by honouring a shorter snooze).
        match details.get("ignoreDuration") {
            None | Some(Value::Null) => {}
            Some(value) => match value.as_f64() {
                Some(minutes) if minutes.is_finite() && minutes > 0.0 => {
                    snooze.until = Some(unix_now() + minutes * 60.0);
                }
                _ => {
                    return Err(ApiError::bad_field(
                        "ignoreDuration",
                        "Ensure this value is a positive number of minutes.",
                    ))
                }
            },
        }
        if let Some(until) = details.get("ignoreUntil").filter(|v| !v.is_null()) {
            let at = until
                .as_str()
                .and_then(vigil_protocol::timestamp::parse_rfc3339)
                .ok_or_else(|| ApiError::bad_field("ignoreUntil", "Invalid date"))?;
            snooze.until = Some(at);
        }
        if snooze.window.is_some() && snooze.count.is_none() {
            return Err(ApiError::bad_field(
                "ignoreWindow",
                "ignoreWindow needs ignoreCount.",
            ));
        }
        if snooze.user_window.is_some() && snooze.user_count.is_none() {
            return Err(ApiError::bad_field(
                "ignoreUserWindow",
                "ignoreUserWindow needs ignoreUserCount.",
            ));
        }
        if !snooze.is_empty() {
            match update.status {
                None | Some(IssueStatus::Ignored) => update.status = Some(IssueStatus::Ignored),
                Some(_) => {
                    return Err(ApiError::bad_field(
                        "statusDetails",
                        "Ignore conditions need the status ignored.",
                    ))
                }
            }
            if update.substatus.as_deref() == Some("archived_forever") {
                return Err(ApiError::bad_field(
                    "substatus",
                    "archived_forever has no conditions; use archived_until_condition_met.",
                ));
            }
        }
        update.snooze = snooze;
        update.ignore_details = details.clone();
    }
    if let Some(assignee) = body.get("assignedTo") {
        update.assigned_to = Some(match assignee {
            Value::Null => None,
            Value::String(s) if s.is_empty() => None,
            Value::String(s) if s == "me" => Some(me.clone()),
            Value::String(s) => Some(member(state, org, s).await?.ok_or_else(|| {
                ApiError::bad_field(
                    "assignedTo",
                    format!("Unknown actor \"{s}\": no such member."),
                )
            })?),
            Value::Number(n) => {
                let name = n.to_string();
                Some(member(state, org, &name).await?.ok_or_else(|| {
                    ApiError::bad_field("assignedTo", format!("Unknown actor \"{name}\"."))
                })?)
            }
            _ => return Err(ApiError::bad_field("assignedTo", "Not a valid actor.")),
        });
    }
    update.has_seen = boolean(body, "hasSeen")?;
    update.is_bookmarked = boolean(body, "isBookmarked")?;
    update.is_subscribed = boolean(body, "isSubscribed")?;
    update.inbox = boolean(body, "inbox")?;
    update.merge = boolean(body, "merge")?.unwrap_or(false);
    Ok(update)
}

/// A user as an actor (`assignedTo`): Sentry's `{"type": "user", …}`.
fn actor_json(user: &User) -> Value {
    json!({"type": "user", "id": user.id.to_string(), "name": user.email, "email": user.email})
}

/// Applies `update` to each issue in turn; the changed fields as Sentry's bulk update
/// answers them.
pub(crate) async fn apply(
    state: &AppState,
    actor_user: &User,
    project: &Project,
    issues: &[Issue],
    update: &Update,
) -> Result<Map<String, Value>, ApiError> {
    let actor = Some(actor_user.id);
    let mut result = Map::new();
    if update.merge {
        if issues.len() < 2 {
            return Err(ApiError::bad_field(
                "merge",
                "Merging needs at least two issues (?id=…&id=…).",
            ));
        }
        // Sentry's `handle_merge`: the issue seen most often is the primary.
        let mut by_events: Vec<&Issue> = issues.iter().collect();
        by_events.sort_by_key(|i| (std::cmp::Reverse(i.times_seen), i.id));
        let primary = by_events[0];
        let children: Vec<i64> = by_events[1..].iter().map(|i| i.id).collect();
        state.store.merge_issues(primary.id, &children).await?;
        let data = json!({"issues": children.iter().map(|id| json!({"id": id.to_string()})).collect::<Vec<_>>()});
        state
            .store
            .add_activity(primary.id, "merge", &data, actor)
            .await?;
        result.insert(
            "merge".into(),
            json!({"parent": primary.id.to_string(),
                   "children": children.iter().map(|id| id.to_string()).collect::<Vec<_>>()}),
        );
        // The other fields apply to what is left: the primary.
        let primary = primary.clone();
        let rest = apply_fields(state, actor_user, project, &[primary], update).await?;
        result.extend(rest);
        return Ok(result);
    }
    result.extend(apply_fields(state, actor_user, project, issues, update).await?);
    Ok(result)
}

async fn apply_fields(
    state: &AppState,
    actor_user: &User,
    project: &Project,
    issues: &[Issue],
    update: &Update,
) -> Result<Map<String, Value>, ApiError> {
    let actor = Some(actor_user.id);
    let user = actor_user.id;
    let mut result = Map::new();
    for issue in issues {
        if let Some(status) = update.status {
            match status {
                IssueStatus::Ignored => {
                    let substatus = update.substatus.clone().unwrap_or_else(|| {
                        if update.snooze.is_empty() {
                            "archived_forever".into()
                        } else {
                            "archived_until_condition_met".into()
                        }
                    });
                    state
                        .store
                        .ignore_issue(issue.id, &substatus, &update.snooze)
                        .await?;
                    state
                        .store
                        .add_activity(
                            issue.id,
                            "set_ignored",
                            &Value::Object(update.ignore_details.clone()),
                            actor,
                        )
                        .await?;
                }
                other => {
                    state.store.set_issue_status(issue.id, other).await?;
                    let kind = if other == IssueStatus::Resolved {
                        "set_resolved"
                    } else {
                        "set_unresolved"
                    };
                    state
                        .store
                        .add_activity(issue.id, kind, &json!({}), actor)
                        .await?;
                }
            }
            state
                .store
                .set_subscription(issue.id, user, true, "status_change", true)
                .await?;
        }
        if let Some(assignee) = &update.assigned_to {
            let before = state.store.issue_triage(issue.id, None).await?;
            let previous = before.and_then(|t| t.assignee_id);
            let now = assignee.as_ref().map(|u| u.id);
            if previous != now {
                state.store.set_assignee(issue.id, now).await?;
                match assignee {
                    Some(to) => {
                        state
                            .store
                            .add_activity(
                                issue.id,
                                "assigned",
                                &json!({"assignee": to.id.to_string(), "assigneeEmail": to.email,
                                        "assigneeType": "user"}),
                                actor,
                            )
                            .await?;
                        state
                            .store
                            .set_subscription(issue.id, to.id, true, "assigned", true)
                            .await?;
                        if to.id != user {
                            notify(
                                state,
                                project,
                                issue,
                                to,
                                "assigned",
                                &format!("{} assigned {} to you", actor_user.email, issue.title),
                                "",
                            )
                            .await?;
                        }
                    }
                    None => {
                        state
                            .store
                            .add_activity(issue.id, "unassigned", &json!({}), actor)
                            .await?;
                    }
                }
            }
        }
        if let Some(seen) = update.has_seen {
            state
                .store
                .set_seen(issue.id, user, seen.then(unix_now))
                .await?;
        }
        if let Some(on) = update.is_bookmarked {
            state.store.set_bookmark(issue.id, user, on).await?;
            if on {
                state
                    .store
                    .set_subscription(issue.id, user, true, "bookmarked", true)
                    .await?;
            }
        }
        if let Some(on) = update.is_subscribed {
            state
                .store
                .set_subscription(issue.id, user, on, "unknown", false)
                .await?;
        }
        if let Some(inbox) = update.inbox {
            state
                .store
                .set_reviewed(issue.id, (!inbox).then(unix_now))
                .await?;
            if !inbox {
                state
                    .store
                    .add_activity(issue.id, "mark_reviewed", &json!({}), actor)
                    .await?;
            }
        }
    }
    if let Some(status) = update.status {
        result.insert("status".into(), json!(status.as_str()));
        result.insert(
            "statusDetails".into(),
            Value::Object(update.ignore_details.clone()),
        );
        let substatus = match status {
            IssueStatus::Ignored => update.substatus.clone().unwrap_or_else(|| {
                if update.snooze.is_empty() {
                    "archived_forever".into()
                } else {
                    "archived_until_condition_met".into()
                }
            }),
            IssueStatus::Unresolved => "ongoing".into(),
            IssueStatus::Resolved => String::new(),
        };
        result.insert(
            "substatus".into(),
            if substatus.is_empty() {
                Value::Null
            } else {
                json!(substatus)
            },
        );
    }
    if let Some(assignee) = &update.assigned_to {
        result.insert(
            "assignedTo".into(),
            assignee.as_ref().map(actor_json).unwrap_or(Value::Null),
        );
    }
    for (key, value) in [
        ("hasSeen", update.has_seen),
        ("isBookmarked", update.is_bookmarked),
        ("isSubscribed", update.is_subscribed),
        ("inbox", update.inbox),
    ] {
        if let Some(value) = value {
            result.insert(key.into(), json!(value));
        }
    }
    Ok(result)
}

/// Queues an email to `to` about the issue through the alert outbox (rule 0: not a rule's).
async fn notify(
    state: &AppState,
    project: &Project,
    issue: &Issue,
    to: &User,
    trigger: &str,
    headline: &str,
    body: &str,
) -> Result<(), ApiError> {
    let short = crate::serialize::issue::short_id(project, issue.short_id);
    let subject = format!("[Vigil] {short} - {headline}");
    let text = if body.is_empty() {
        format!("{headline}\n\n{}\n", issue.title)
    } else {
        format!("{headline}\n\n{body}\n\n{}\n", issue.title)
    };
    let html = format!(
        "<p>{}</p><pre>{}</pre><p>{}</p>",
        vigil_alerts::escape_html(headline),
        vigil_alerts::escape_html(body),
        vigil_alerts::escape_html(&issue.title)
    );
    let at = unix_now();
    let firing = vigil_store::Firing {
        rule_id: 0,
        project_id: project.id,
        issue_id: issue.id,
        event_id: String::new(),
        trigger: trigger.to_owned(),
        at,
        frequency_secs: 0.0,
        dedup_key: format!("{trigger}:{}:{}:{at}", issue.id, to.id),
        notifications: vec![NewNotification {
            kind: "email".into(),
            target: to.email.clone(),
            payload: json!({"subject": subject, "text": text, "html": html}),
        }],
    };
    let recorded = state.store.record_firings(vec![firing]).await?;
    if recorded.iter().any(|&new| new) {
        state.alerts.outbox_changed();
    }
    Ok(())
}

/// Token scopes that may change issues (Sentry's `GroupPermission` for writes). Vigil's tokens
/// have no separate admin tier for deleting, so `event:write` deletes too.
pub(crate) const ISSUE_WRITE_SCOPES: &[&str] = &["event:write", "event:admin", "org:admin"];

/// The issue as Sentry's `GroupSerializer` shows it to `user`, with the triage fields.
pub async fn issue_json(
    state: &AppState,
    issue: &Issue,
    project: &Project,
    org: &Organization,
    user: i64,
) -> Result<Value, ApiError> {
    let mut value = serialize_issue(issue, project, org, &state.config);
    let triage = state
        .store
        .issue_triage(issue.id, Some(user))
        .await?
        .unwrap_or_default();
    add_triage(state, &mut value, issue, &triage).await?;
    Ok(value)
}

async fn add_triage(
    state: &AppState,
    value: &mut Value,
    issue: &Issue,
    triage: &IssueTriage,
) -> Result<(), ApiError> {
    let assignee = match triage.assignee_id {
        Some(id) => state.store.user_by_id(id).await?.map(|u| actor_json(&u)),
        None => None,
    };
    value["assignedTo"] = assignee.unwrap_or(Value::Null);
    value["isBookmarked"] = json!(triage.bookmarked);
    value["isSubscribed"] = json!(triage.subscribed == Some(true));
    value["subscriptionDetails"] = match (triage.subscribed, &triage.subscription_reason) {
        (Some(true), reason) => json!({"reason": reason.as_deref().unwrap_or("unknown")}),
        (Some(false), _) => json!({"disabled": true}),
        (None, _) => Value::Null,
    };
    value["hasSeen"] = json!(triage.seen_at.is_some_and(|at| at >= issue.last_seen));
    value["inbox"] = if issue.status == IssueStatus::Unresolved && triage.reviewed_at.is_none() {
        json!({"reason": 0, "reason_details": null, "date_added": iso(issue.first_seen)})
    } else {
        Value::Null
    };
    if issue.status == IssueStatus::Ignored {
        let mut details = Map::new();
        let snooze = &triage.snooze;
        if let Some(until) = snooze.until {
            details.insert("ignoreUntil".into(), json!(iso(until)));
        }
        for (key, v) in [
            ("ignoreCount", snooze.count),
            ("ignoreWindow", snooze.window),
            ("ignoreUserCount", snooze.user_count),
            ("ignoreUserWindow", snooze.user_window),
        ] {
            if let Some(v) = v {
                details.insert(key.into(), json!(v));
            }
        }
        value["statusDetails"] = Value::Object(details);
    }
    let activities = state.store.issue_activities(issue.id).await?;
    value["numComments"] = json!(activities.iter().filter(|a| a.kind == "note").count());
    Ok(())
}

/// `GET /issues/{id}/`: the issue with its triage fields and activity (Sentry's group details).
pub async fn get_issue(
    State(state): State<AppState>,
    IssueAccess {
        caller,
        org,
        project,
        issue,
    }: IssueAccess,
) -> Result<Json<Value>, ApiError> {
    let mut value = issue_json(&state, &issue, &project, &org, caller.user.id).await?;
    value["activity"] = Value::Array(activity_list(&state, &issue).await?);
    Ok(Json(value))
}

/// `PUT /issues/{id}/`: applies the update and answers the whole issue.
pub async fn update_issue(
    State(state): State<AppState>,
    IssueAccess {
        caller,
        org,
        project,
        issue,
    }: IssueAccess,
    body: Option<Json<Map<String, Value>>>,
) -> Result<Json<Value>, ApiError> {
    caller.require_scope(ISSUE_WRITE_SCOPES)?;
    let body = json_body(body)?;
    let update = parse_update(&state, &org, &caller.user, &body).await?;
    if update.merge {
        return Err(ApiError::bad_field(
            "merge",
            "Merging needs at least two issues: PUT /projects/{org}/{project}/issues/?id=…&id=…",
        ));
    }
    apply(
        &state,
        &caller.user,
        &project,
        std::slice::from_ref(&issue),
        &update,
    )
    .await?;
    let issue = state
        .store
        .issue_by_id(issue.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(
        issue_json(&state, &issue, &project, &org, caller.user.id).await?,
    ))
}

/// `DELETE /issues/{id}/`: 202, as Sentry answers a scheduled deletion (done at once here).
pub async fn delete_issue(
    State(state): State<AppState>,
    IssueAccess { caller, issue, .. }: IssueAccess,
) -> Result<StatusCode, ApiError> {
    caller.require_scope(ISSUE_WRITE_SCOPES)?;
    state.store.delete_issue(issue.id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// The issues `?id=` names, each of the caller's organization (and project, when given).
async fn named_issues(
    state: &AppState,
    caller: &Caller,
    org: &Organization,
    project: Option<&Project>,
    params: &[(String, String)],
) -> Result<Vec<(Project, Issue)>, ApiError> {
    let ids = query::all(params, "id");
    if ids.is_empty() {
        return Err(ApiError::bad_field(
            "id",
            "Name the issues to change with ?id=…&id=….",
        ));
    }
    if ids.len() > BULK_LIMIT {
        return Err(ApiError::bad_field("id", "Too many issues at once."));
    }
    let mut out = Vec::new();
    for id in ids {
        let (issue_org, issue_project, issue) = caller.issue(state, id).await?;
        if issue_org.id != org.id || project.is_some_and(|p| p.id != issue_project.id) {
            return Err(ApiError::NotFound);
        }
        out.push((issue_project, issue));
    }
    Ok(out)
}

async fn bulk_update(
    state: &AppState,
    caller: &Caller,
    org: &Organization,
    targets: Vec<(Project, Issue)>,
    body: Map<String, Value>,
) -> Result<Json<Value>, ApiError> {
    let update = parse_update(state, org, &caller.user, &body).await?;
    let Some((project, _)) = targets.first() else {
        return Err(ApiError::NotFound);
    };
    if update.merge && targets.iter().any(|(p, _)| p.id != project.id) {
        return Err(ApiError::bad_field(
            "merge",
            "Only issues of one project can be merged.",
        ));
    }
    let project = project.clone();
    let issues: Vec<Issue> = targets.into_iter().map(|(_, i)| i).collect();
    let result = apply(state, &caller.user, &project, &issues, &update).await?;
    Ok(Json(Value::Object(result)))
}

/// `PUT /projects/{org}/{project}/issues/?id=…` with triage fields or `merge`; without `?id=`
/// the existing status-only bulk update answers.
pub async fn bulk_update_project(
    state: State<AppState>,
    caller: Caller,
    Path((org_slug, project_slug)): Path<(String, String)>,
    QueryPairs(params): QueryPairs,
    body: Option<Json<Map<String, Value>>>,
) -> Result<Json<Value>, ApiError> {
    caller.require_scope(ISSUE_WRITE_SCOPES)?;
    let (org, project) = caller.project(&state, &org_slug, &project_slug).await?;
    let body = json_body(body)?;
    let only_status = body.keys().all(|k| k == "status");
    if query::all(&params, "id").is_empty() && only_status {
        let update = super::issues::IssueUpdate {
            status: body
                .get("status")
                .and_then(Value::as_str)
                .map(str::to_owned),
            _other: Map::new(),
        };
        return super::issues::bulk_update_project_issues(
            state,
            caller,
            Path((org_slug, project_slug)),
            QueryPairs(params),
            Some(Json(update)),
        )
        .await;
    }
    let targets = named_issues(&state, &caller, &org, Some(&project), &params).await?;
    bulk_update(&state, &caller, &org, targets, body).await
}

/// `PUT /organizations/{org}/issues/?id=…`.
pub async fn bulk_update_org(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_slug): Path<String>,
    QueryPairs(params): QueryPairs,
    body: Option<Json<Map<String, Value>>>,
) -> Result<Json<Value>, ApiError> {
    caller.require_scope(ISSUE_WRITE_SCOPES)?;
    let org = caller
        .organizations(&state)
        .await?
        .into_iter()
        .find(|o| o.slug == org_slug)
        .ok_or(ApiError::NotFound)?;
    let body = json_body(body)?;
    let targets = named_issues(&state, &caller, &org, None, &params).await?;
    bulk_update(&state, &caller, &org, targets, body).await
}

async fn bulk_delete(
    state: &AppState,
    targets: Vec<(Project, Issue)>,
) -> Result<StatusCode, ApiError> {
    for (_, issue) in targets {
        state.store.delete_issue(issue.id).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /projects/{org}/{project}/issues/?id=…`: 204.
pub async fn bulk_delete_project(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_slug, project_slug)): Path<(String, String)>,
    QueryPairs(params): QueryPairs,
) -> Result<StatusCode, ApiError> {
    caller.require_scope(ISSUE_WRITE_SCOPES)?;
    let (org, project) = caller.project(&state, &org_slug, &project_slug).await?;
    let targets = named_issues(&state, &caller, &org, Some(&project), &params).await?;
    bulk_delete(&state, targets).await
}

/// `DELETE /organizations/{org}/issues/?id=…`: 204.
pub async fn bulk_delete_org(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_slug): Path<String>,
    QueryPairs(params): QueryPairs,
) -> Result<StatusCode, ApiError> {
    caller.require_scope(ISSUE_WRITE_SCOPES)?;
    let org = caller
        .organizations(&state)
        .await?
        .into_iter()
        .find(|o| o.slug == org_slug)
        .ok_or(ApiError::NotFound)?;
    let targets = named_issues(&state, &caller, &org, None, &params).await?;
    bulk_delete(&state, targets).await
}
