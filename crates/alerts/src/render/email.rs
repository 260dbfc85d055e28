//! The email of one firing: subject, a text part and an HTML part, plus the issue's facts in
//! the payload so that a digest can list the issue without rendering it again.

use serde_json::{json, Value};

use super::{
    cut, escape_html, event_environment, event_str, human_time, one_line, top_in_app_frames,
    trigger_sentence, AlertContext, FrameLine,
};

/// `{"subject", "text", "html"}` and the facts a digest lists (`title`, `culprit`,
/// `permalink`, `project`, `level`, `count`, `issue_id`, `short_id`, `trigger`, `rule`).
pub(super) fn render_email(ctx: &AlertContext) -> Value {
    let issue = ctx.issue;
    let short = ctx.project.short_id(issue.short_id);
    let title = one_line(&issue.title);
    let level = event_str(ctx.event, "level").unwrap_or(&issue.level);
    let environment = event_environment(ctx.event);
    let release = event_str(ctx.event, "release");
    let frames = top_in_app_frames(ctx.event);
    let headline = trigger_sentence(ctx.trigger);
    let subject = format!("[Vigil] {short} - {}", cut(&title, 180));

    let facts: Vec<(&str, String)> = vec![
        ("Issue", short.clone()),
        ("Culprit", issue.culprit.clone()),
        ("Project", ctx.project.slug.clone()),
        (
            "Environment",
            environment.clone().unwrap_or_else(|| "-".into()),
        ),
        ("Release", release.unwrap_or("-").to_string()),
        ("Level", level.to_string()),
        ("Events", issue.times_seen.to_string()),
        ("Users", issue.user_count.to_string()),
        ("First seen", human_time(issue.first_seen)),
    ];

    let body = EmailBody {
        ctx,
        headline,
        title: &title,
        facts: &facts,
        frames: &frames,
    };
    json!({
        "subject": subject,
        "text": body.text(),
        "html": body.html(),
        "title": issue.title,
        "culprit": issue.culprit,
        "permalink": ctx.permalink,
        "project": ctx.project.slug,
        "level": level,
        "count": issue.times_seen,
        "issue_id": issue.id,
        "short_id": short,
        "environment": environment,
        "trigger": ctx.trigger,
        "rule": ctx.rule.name,
    })
}

/// What both parts of the email show, in the same order.
struct EmailBody<'a> {
    ctx: &'a AlertContext<'a>,
    headline: &'a str,
    title: &'a str,
    facts: &'a [(&'a str, String)],
    frames: &'a [FrameLine],
}

impl EmailBody<'_> {
    /// The plain-text part.
    fn text(&self) -> String {
        let mut text = format!("{}\n\n{}\n\n", self.headline, self.title);
        for (label, value) in self.facts {
            text.push_str(&format!("{:<12} {value}\n", format!("{label}:")));
        }
        if !self.frames.is_empty() {
            text.push_str("\nStack trace (most recent call first):\n");
            for frame in self.frames {
                text.push_str(&format!("  {}\n", frame.location));
                if let Some(context) = &frame.context {
                    text.push_str(&format!("      {context}\n"));
                }
            }
        }
        text.push_str(&format!("\nView the issue: {}\n", self.ctx.permalink));
        text.push_str(&format!(
            "\n--\nSent by the alert rule \"{}\" of project {}/{}.\n",
            self.ctx.rule.name, self.ctx.organization.slug, self.ctx.project.slug
        ));
        text
    }

    /// The HTML part: the same, escaped.
    fn html(&self) -> String {
        let link = escape_html(self.ctx.permalink);
        let mut html = String::from(
            "<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif;color:#1d1127\">\n",
        );
        html.push_str(&format!(
            "<p style=\"color:#6c5fc7\">{}</p>\n<h2><a href=\"{link}\">{}</a></h2>\n",
            escape_html(self.headline),
            escape_html(self.title)
        ));
        html.push_str("<table cellpadding=\"4\">\n");
        for (label, value) in self.facts {
            html.push_str(&format!(
                "<tr><th align=\"left\">{}</th><td>{}</td></tr>\n",
                escape_html(label),
                escape_html(value)
            ));
        }
        html.push_str("</table>\n");
        if !self.frames.is_empty() {
            html.push_str("<h3>Stack trace (most recent call first)</h3>\n<pre>");
            for frame in self.frames {
                html.push_str(&escape_html(&frame.location));
                html.push('\n');
                if let Some(context) = &frame.context {
                    html.push_str(&format!("    {}\n", escape_html(context)));
                }
            }
            html.push_str("</pre>\n");
        }
        html.push_str(&format!(
            "<p><a href=\"{link}\">View the issue</a>: {link}</p>\n"
        ));
        html.push_str(&format!(
            "<p style=\"color:#80708f;font-size:small\">Sent by the alert rule \"{}\" of project \
         {}/{}.</p>\n</body></html>\n",
            escape_html(&self.ctx.rule.name),
            escape_html(&self.ctx.organization.slug),
            escape_html(&self.ctx.project.slug)
        ));
        html
    }
}
