//! Sentry's shapes of event attachments (`EventAttachmentSerializer`) and user reports
//! (`UserReportSerializer`, and `UserReportWithGroupSerializer` with the issue).

use serde_json::{json, Value};
use vigil_store::{EventAttachment, UserReport};

use super::iso;

pub fn serialize_attachment(attachment: &EventAttachment) -> Value {
    json!({
        "id": attachment.id.to_string(),
        "event_id": attachment.event_id,
        "type": attachment.attachment_type,
        "name": attachment.name,
        "mimetype": attachment.content_type,
        "dateCreated": iso(attachment.received),
        "size": attachment.size,
        "headers": {"Content-Type": attachment.content_type},
        "sha1": attachment.sha1,
    })
}

/// A report; `issue` is its issue's serialized form where the endpoint includes it (the
/// project's list), `None` where it does not (an issue's own list).
pub fn serialize_user_report(report: &UserReport, issue: Option<Value>) -> Value {
    // Sentry shows the email where the user gave no name.
    let name = if report.name.is_empty() {
        &report.email
    } else {
        &report.name
    };
    let mut body = json!({
        "id": report.id.to_string(),
        "eventID": report.event_id,
        "name": name,
        "email": report.email,
        "comments": report.comments,
        "dateCreated": iso(report.received),
        "user": null,
        "event": {"id": report.event_id, "eventID": report.event_id},
    });
    if let (Some(issue), Some(object)) = (issue, body.as_object_mut()) {
        object.insert("issue".into(), issue);
    }
    body
}
