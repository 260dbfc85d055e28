//! Issue alert rules (Sentry's `/organizations/{org}/alerts/rules/` pages): every rule of the
//! organization's projects ([`list`]), a form to create and edit one with the same choices as
//! the rules API and deleting with a confirmation ([`edit`]), and what was sent: the project's
//! recent notifications with their attempts and last errors, and an issue's alert activity
//! ([`notifications`]).
//!
//! The form ([`form`]) is turned into the API's JSON body and validated by
//! `vigil_alerts::parse_rule`, so the page and the API accept exactly the same rules and name the
//! same field when one is wrong; its choices and their words come from
//! `vigil_alerts::vocabulary`, as the API's do.

mod edit;
mod form;
mod list;
mod notifications;

use serde_json::Value;
use vigil_store::{AlertRule, Organization, Project};

use super::error::WebError;
use crate::AppState;

pub use edit::{create, delete, delete_form, edit_form, new_form, update, DeleteForm};
pub use list::list;
pub use notifications::activity_list;

/// A JSON scalar as the form shows it; anything else as empty.
fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// The rule `{rule_id}` of the project, or 404.
async fn project_rule(
    state: &AppState,
    project: &Project,
    rule_id: &str,
) -> Result<AlertRule, WebError> {
    crate::lookup::project_rule(state, project, rule_id)
        .await?
        .ok_or(WebError::NotFound)
}

fn rules_url(prefix: &str, org: &Organization) -> String {
    format!("{prefix}/organizations/{}/alerts/rules/", org.slug)
}

fn rule_url(prefix: &str, org: &Organization, project: &Project, rule_id: i64) -> String {
    format!(
        "{prefix}/organizations/{}/alerts/rules/{}/{rule_id}/",
        org.slug, project.slug
    )
}
