//! The `X-Sentry-Rate-Limits` header: how a server tells SDKs which data categories to stop
//! sending, for how long.
//!
//! ```text
//! X-Sentry-Rate-Limits: limit *( "," SP limit )
//! limit      = retry_after ":" categories ":" scope [ ":" reason_code [ ":" namespaces ] ]
//! categories = [ category *( ";" category ) ]        ; empty = all categories
//! ```
//!
//! SDKs read it on every response, 200s included, so it is the only way to slow a client down
//! without losing what it already sent. The writer produces exactly Relay's spelling; the reader
//! is as forgiving as SDKs are (spaces, unknown fields, float seconds).

/// One active limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// Seconds until the client may send these categories again.
    pub retry_after_secs: u64,
    /// Data categories (`error`, `transaction`, …); empty means every category.
    pub categories: Vec<String>,
    /// `organization`, `project` or `key`. SDKs ignore it; Sentry sends it for humans.
    pub scope: String,
    /// A reason code such as `queue_full`, shown in SDK debug logs.
    pub reason: Option<String>,
}

/// Formats limits as the header value, Relay's way: `", "` between limits, `;` between
/// categories, and the reason only when there is one
/// (`60:transaction;error:key:reason, 2700::organization`).
pub fn format_rate_limits(limits: &[RateLimit]) -> String {
    limits
        .iter()
        .map(|limit| {
            let mut out = format!(
                "{}:{}:{}",
                limit.retry_after_secs,
                limit.categories.join(";"),
                limit.scope
            );
            if let Some(reason) = limit.reason.as_deref().filter(|r| !r.is_empty()) {
                out.push(':');
                out.push_str(reason);
            }
            out
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads a header value; limits that make no sense are skipped, never an error.
///
/// Whitespace around every part is ignored, a fractional `retry_after` is rounded up (waiting a
/// little longer is the safe side), empty categories are dropped, a missing scope is `""`, and
/// anything after the reason (metric namespaces) is ignored. A limit whose `retry_after` is not a
/// non-negative number is skipped.
pub fn parse_rate_limits(header: &str) -> Vec<RateLimit> {
    header.split(',').filter_map(parse_limit).collect()
}

fn parse_limit(text: &str) -> Option<RateLimit> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut fields = text.split(':').map(str::trim);
    let retry_after = fields.next()?.parse::<f64>().ok()?;
    if !retry_after.is_finite() || retry_after < 0.0 {
        return None;
    }
    let categories = fields
        .next()
        .unwrap_or_default()
        .split(';')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    let scope = fields.next().unwrap_or_default().to_owned();
    let reason = fields.next().filter(|r| !r.is_empty()).map(str::to_owned);
    Some(RateLimit {
        // Saturating: an absurd value still means "a very long time".
        retry_after_secs: retry_after.ceil() as u64,
        categories,
        scope,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(secs: u64, categories: &[&str], scope: &str, reason: Option<&str>) -> RateLimit {
        RateLimit {
            retry_after_secs: secs,
            categories: categories.iter().map(|c| c.to_string()).collect(),
            scope: scope.to_owned(),
            reason: reason.map(str::to_owned),
        }
    }

    #[test]
    fn formats_like_relay() {
        let limits = [
            limit(60, &["transaction", "error"], "key", Some("reason")),
            limit(2700, &[], "organization", None),
        ];
        assert_eq!(
            format_rate_limits(&limits),
            "60:transaction;error:key:reason, 2700::organization"
        );
    }

    #[test]
    fn formats_queue_full_for_all_categories() {
        let limits = [limit(60, &[], "organization", Some("queue_full"))];
        assert_eq!(format_rate_limits(&limits), "60::organization:queue_full");
    }

    #[test]
    fn formats_nothing_as_empty() {
        assert_eq!(format_rate_limits(&[]), "");
    }

    #[test]
    fn empty_reason_is_not_written() {
        let limits = [limit(1, &["error"], "project", Some(""))];
        assert_eq!(format_rate_limits(&limits), "1:error:project");
    }

    #[test]
    fn parses_documented_examples() {
        assert_eq!(
            parse_rate_limits("60:transaction:key, 2700:default;error;security:organization"),
            vec![
                limit(60, &["transaction"], "key", None),
                limit(
                    2700,
                    &["default", "error", "security"],
                    "organization",
                    None
                ),
            ]
        );
        assert_eq!(
            parse_rate_limits("60::organization:queue_full"),
            vec![limit(60, &[], "organization", Some("queue_full"))]
        );
    }

    #[test]
    fn format_then_parse_round_trips() {
        let limits = vec![
            limit(60, &["transaction", "error"], "key", Some("reason")),
            limit(2700, &[], "organization", None),
        ];
        assert_eq!(parse_rate_limits(&format_rate_limits(&limits)), limits);
    }

    #[test]
    fn parser_tolerates_spaces_floats_and_extra_fields() {
        assert_eq!(
            parse_rate_limits(" 12.5 : error ; ; span : project : over : custom:more ,,"),
            vec![limit(13, &["error", "span"], "project", Some("over"))]
        );
        assert_eq!(
            parse_rate_limits("60:metric_bucket:organization::custom"),
            vec![limit(60, &["metric_bucket"], "organization", None)]
        );
    }

    #[test]
    fn parser_keeps_unknown_categories_for_the_caller() {
        assert_eq!(
            parse_rate_limits("5:future_thing:key"),
            vec![limit(5, &["future_thing"], "key", None)]
        );
    }

    #[test]
    fn parser_skips_nonsense() {
        assert_eq!(parse_rate_limits(""), vec![]);
        assert_eq!(parse_rate_limits("soon:error:key"), vec![]);
        assert_eq!(parse_rate_limits("-5:error:key"), vec![]);
        assert_eq!(parse_rate_limits("NaN:error:key, inf::key"), vec![]);
        assert_eq!(parse_rate_limits("bad, 30"), vec![limit(30, &[], "", None)]);
    }
}
