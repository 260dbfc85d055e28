//! Who an email action goes to.

use serde_json::Value;
use vigil_model::User;

/// The email addresses an email action goes to, given the organization's members.
///
/// - `Member`: that user, when they are a member of the organization (a user id that is not
///   is nobody, as Sentry refuses mail to people outside the project).
/// - `Team`: Vigil has no teams, so a team is the whole organization: all members.
/// - `IssueOwners`: Vigil has no ownership rules, so no issue has owners and the action falls
///   through: `AllMembers` and `ActiveMembers` (Vigil does not track activity, so the same:
///   all members) or `NoOne`.
///
/// Each address once, in the members' order.
pub fn email_recipients(action: &Value, members: &[(User, String)]) -> Vec<String> {
    let text = |key: &str| action.get(key).and_then(Value::as_str).unwrap_or_default();
    let everyone = || members.iter().map(|(user, _)| user).collect::<Vec<_>>();
    let chosen: Vec<&User> = match text("targetType") {
        "Member" => {
            let wanted = match action.get("targetIdentifier") {
                Some(Value::Number(n)) => n.as_i64(),
                Some(Value::String(s)) => s.trim().parse().ok(),
                _ => None,
            };
            members
                .iter()
                .map(|(user, _)| user)
                .filter(|user| Some(user.id) == wanted)
                .collect()
        }
        "Team" => everyone(),
        "IssueOwners" => match text("fallthroughType") {
            "NoOne" => Vec::new(),
            // `AllMembers`, `ActiveMembers` and the default (ActiveMembers).
            _ => everyone(),
        },
        _ => Vec::new(),
    };
    let mut seen = std::collections::HashSet::new();
    chosen
        .into_iter()
        .map(|user| user.email.trim().to_string())
        .filter(|email| !email.is_empty() && seen.insert(email.to_lowercase()))
        .collect()
}
