//! What a user wrote about an error, read from the two envelope items SDKs send it in: the
//! old-style `user_report` (`{event_id, name, email, comments}`) and the new-style `feedback`
//! event, whose `contexts.feedback` holds `message`, `name`, `contact_email` and the
//! `associated_event_id` of the error it is about. Both become one report on an event, as
//! Sentry shows either kind under its issue's "User Feedback".

use serde_json::Value;
use vigil_protocol::ids::normalize_uuid;

/// Sentry's bounds on the fields (`UserReport` model: name and email 128 characters,
/// comments 4096): longer text is cut, not refused, as Relay trims.
const MAX_NAME_CHARS: usize = 128;
const MAX_EMAIL_CHARS: usize = 128;
const MAX_COMMENTS_CHARS: usize = 4096;

/// A report read from an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedReport {
    /// The event the report is about: 32 lowercase hex digits.
    pub event_id: String,
    pub name: String,
    pub email: String,
    pub comments: String,
}

/// Why an item holds no report.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReportError {
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("no valid event_id")]
    EventId,
    #[error("no comments")]
    Comments,
}

/// A `user_report` item's payload; `envelope_event_id` stands in when the payload names none.
pub fn parse_user_report(
    payload: &[u8],
    envelope_event_id: Option<&str>,
) -> Result<ParsedReport, ReportError> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| ReportError::Json(e.to_string()))?;
    let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or_default();
    let event_id = match value.get("event_id").and_then(Value::as_str) {
        Some(id) => normalize_uuid(id),
        None => envelope_event_id.and_then(normalize_uuid),
    }
    .ok_or(ReportError::EventId)?;
    report(event_id, text("name"), text("email"), text("comments"))
}

/// A `feedback` item's payload (a feedback event): about its `associated_event_id`, or about
/// itself (its own `event_id`, else the envelope's) when it names no error.
pub fn parse_feedback(
    payload: &[u8],
    envelope_event_id: Option<&str>,
) -> Result<ParsedReport, ReportError> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| ReportError::Json(e.to_string()))?;
    let feedback = value.pointer("/contexts/feedback").unwrap_or(&Value::Null);
    let text = |key: &str| {
        feedback
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let own_id = value
        .get("event_id")
        .and_then(Value::as_str)
        .or(envelope_event_id);
    let event_id = feedback
        .get("associated_event_id")
        .and_then(Value::as_str)
        .or(own_id)
        .and_then(normalize_uuid)
        .ok_or(ReportError::EventId)?;
    report(
        event_id,
        text("name"),
        text("contact_email"),
        text("message"),
    )
}

fn report(
    event_id: String,
    name: &str,
    email: &str,
    comments: &str,
) -> Result<ParsedReport, ReportError> {
    if comments.trim().is_empty() {
        return Err(ReportError::Comments);
    }
    Ok(ParsedReport {
        event_id,
        name: cut(name, MAX_NAME_CHARS),
        email: cut(email, MAX_EMAIL_CHARS),
        comments: cut(comments, MAX_COMMENTS_CHARS),
    })
}

fn cut(text: &str, max_chars: usize) -> String {
    text.trim().chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_report_item_names_its_event() {
        let report = parse_user_report(
            br#"{"event_id":"B62BF30D-4A2E-4EBE-B8A9-D7FAE7CEBCC7","name":"Jane",
                 "email":"jane@example.com","comments":"The page froze."}"#,
            None,
        )
        .unwrap();
        assert_eq!(report.event_id, "b62bf30d4a2e4ebeb8a9d7fae7cebcc7");
        assert_eq!(
            (
                report.name.as_str(),
                report.email.as_str(),
                report.comments.as_str()
            ),
            ("Jane", "jane@example.com", "The page froze.")
        );
    }

    #[test]
    fn user_report_without_event_id_takes_the_envelopes() {
        let report = parse_user_report(
            br#"{"comments":"x"}"#,
            Some("b62bf30d4a2e4ebeb8a9d7fae7cebcc7"),
        )
        .unwrap();
        assert_eq!(report.event_id, "b62bf30d4a2e4ebeb8a9d7fae7cebcc7");
        assert_eq!(
            parse_user_report(br#"{"event_id":"nope","comments":"x"}"#, None),
            Err(ReportError::EventId)
        );
        assert_eq!(
            parse_user_report(br#"{"event_id":"b62bf30d4a2e4ebeb8a9d7fae7cebcc7"}"#, None),
            Err(ReportError::Comments)
        );
    }

    #[test]
    fn feedback_is_about_its_associated_event_or_itself() {
        let about = parse_feedback(
            br#"{"event_id":"4d7c1c24e7d64f46840112b0f44b2ae2","type":"feedback",
                 "contexts":{"feedback":{"contact_email":"sam@example.com","name":"Sam",
                   "message":"I clicked pay twice","associated_event_id":"fcba15e30ec549158c080145f9639f29"}}}"#,
            None,
        )
        .unwrap();
        assert_eq!(about.event_id, "fcba15e30ec549158c080145f9639f29");
        assert_eq!(about.email, "sam@example.com");
        assert_eq!(about.comments, "I clicked pay twice");
        let alone = parse_feedback(
            br#"{"event_id":"4d7c1c24e7d64f46840112b0f44b2ae2",
                 "contexts":{"feedback":{"message":"hello"}}}"#,
            None,
        )
        .unwrap();
        assert_eq!(alone.event_id, "4d7c1c24e7d64f46840112b0f44b2ae2");
        assert_eq!(alone.name, "");
    }

    #[test]
    fn long_fields_are_cut_to_sentrys_bounds() {
        let long = "é".repeat(5000);
        let payload = serde_json::json!({
            "event_id": "b62bf30d4a2e4ebeb8a9d7fae7cebcc7",
            "name": long, "email": long, "comments": long,
        });
        let report = parse_user_report(payload.to_string().as_bytes(), None).unwrap();
        assert_eq!(report.name.chars().count(), 128);
        assert_eq!(report.comments.chars().count(), 4096);
    }
}
