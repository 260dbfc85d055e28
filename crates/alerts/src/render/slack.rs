//! A Slack incoming-webhook message: `text` for notifications and for the receivers that do
//! not read blocks (Mattermost, Rocket.Chat and Discord's `/slack` endpoints), `blocks` for
//! Slack itself.

use serde_json::{json, Value};

use super::{cut, event_environment, event_str, one_line, trigger_sentence, AlertContext};

pub(super) fn render_slack(ctx: &AlertContext) -> Value {
    let issue = ctx.issue;
    let title = cut(&one_line(&issue.title), 200);
    let level = event_str(ctx.event, "level").unwrap_or(&issue.level);
    let environment = event_environment(ctx.event).unwrap_or_else(|| "-".into());
    let headline = trigger_sentence(ctx.trigger);
    let link = escape_mrkdwn(ctx.permalink);
    let text = format!(
        "[{}] {headline}: <{link}|{}>",
        escape_mrkdwn(&ctx.project.slug),
        escape_mrkdwn(&title)
    );
    let mut summary = format!("*<{link}|{}>*", escape_mrkdwn(&title));
    if !issue.culprit.is_empty() {
        summary.push('\n');
        summary.push_str(&escape_mrkdwn(&cut(&one_line(&issue.culprit), 200)));
    }
    let field = |label: &str, value: &str| json!({ "type": "mrkdwn", "text": format!("*{label}*\n{}", escape_mrkdwn(value)) });
    json!({
        "text": text,
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": summary } },
            { "type": "section", "fields": [
                field("Project", &ctx.project.slug),
                field("Environment", &environment),
                field("Level", level),
                field("Events", &issue.times_seen.to_string()),
            ] },
            { "type": "context", "elements": [{
                "type": "mrkdwn",
                "text": format!(
                    "{headline} · alert rule {}",
                    escape_mrkdwn(&cut(&ctx.rule.name, 100))
                ),
            }] },
        ],
    })
}

/// Slack's control characters in message text: `&`, `<` and `>` (a `<` from event data
/// would otherwise start a link or a mention).
fn escape_mrkdwn(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mrkdwn_escapes_links_and_mentions() {
        assert_eq!(
            escape_mrkdwn("<!channel> & <http://x|y>"),
            "&lt;!channel&gt; &amp; &lt;http://x|y&gt;"
        );
    }
}
