//! The page shell every page shares (head, navigation, the logout form) and small pieces of
//! markup used across pages: times, CSRF fields, links.

use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{html, Markup, DOCTYPE};
use vigil_store::Organization;

use super::session::Viewer;
use crate::serialize::iso;
use crate::AppState;

/// What the shell needs to know about a page.
pub struct Shell<'a> {
    pub title: &'a str,
    /// The public URL's path (`""` or `/sentry`): every link starts with it.
    pub prefix: &'a str,
    pub viewer: Option<&'a Viewer>,
    /// The organization the page belongs to, for the navigation.
    pub org: Option<&'a Organization>,
    /// Reload the page after this many seconds (the onboarding page waiting for an event).
    pub refresh_secs: Option<u32>,
}

impl<'a> Shell<'a> {
    /// The shell of a page inside an organization, seen by a signed-in viewer: most pages.
    pub fn of_org(
        title: &'a str,
        prefix: &'a str,
        viewer: &'a Viewer,
        org: &'a Organization,
    ) -> Shell<'a> {
        Shell {
            title,
            prefix,
            viewer: Some(viewer),
            org: Some(org),
            refresh_secs: None,
        }
    }
}

/// The answer to a form post: see the page at `path` (below the public URL's path).
pub fn redirect_to(state: &AppState, path: &str) -> Response {
    Redirect::to(&format!("{}{path}", state.config.path_prefix())).into_response()
}

/// A whole HTML document.
pub fn page(shell: Shell<'_>, body: Markup) -> Html<String> {
    let prefix = shell.prefix;
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(secs) = shell.refresh_secs {
                    meta http-equiv="refresh" content=(secs);
                }
                title { (shell.title) " · Vigil" }
                // No favicon request (and no 404 for it) until Vigil has an icon.
                link rel="icon" href="data:,";
                link rel="stylesheet" href={ (prefix) "/_static/vigil.css?v=" (super::assets::VERSION) };
                script src={ (prefix) "/_static/vigil.js?v=" (super::assets::VERSION) } defer {}
            }
            body {
                header.top {
                    a.brand href={ (prefix) "/" } { "Vigil" }
                    @if let (Some(viewer), Some(org)) = (shell.viewer, shell.org) {
                        nav {
                            a href={ (prefix) "/organizations/" (org.slug) "/issues/" } { "Issues" }
                            a href={ (prefix) "/organizations/" (org.slug) "/performance/" } { "Performance" }
                            a href={ (prefix) "/organizations/" (org.slug) "/projects/" } { "Projects" }
                            a href={ (prefix) "/organizations/" (org.slug) "/stats/" } { "Stats" }
                        }
                        @if viewer.organizations.len() > 1 {
                            details.orgs {
                                summary { (org.name) }
                                ul {
                                    @for other in &viewer.organizations {
                                        li { a href={ (prefix) "/organizations/" (other.slug) "/issues/" } { (other.name) } }
                                    }
                                }
                            }
                        } @else {
                            span.org { (org.name) }
                        }
                    }
                    @if let Some(viewer) = shell.viewer {
                        form.logout method="post" action={ (prefix) "/auth/logout/" } {
                            (csrf_field(viewer))
                            span.who { (viewer.user.email) }
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    };
    Html(markup.into_string())
}

/// The previous and next links of a paged list; `query` gives the query string of a page.
pub fn pager(page: u64, has_next: bool, query: impl Fn(u64) -> String) -> Markup {
    html! {
        nav.pager {
            @if page > 0 {
                a href={ "?" (query(page - 1)) } rel="prev" { "← Previous" }
            }
            @if has_next {
                a href={ "?" (query(page + 1)) } rel="next" { "Next →" }
            }
        }
    }
}

/// The hidden CSRF field of a form.
pub fn csrf_field(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(viewer.csrf); }
}

/// Bytes as people read them: `512 B`, `1.5 KiB`, `2.0 MiB`.
pub fn byte_size(bytes: i64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{:.1} MiB", b / KIB / KIB)
    }
}

/// "3 minutes ago", with the exact UTC time on hover.
pub fn time_ago(ts: f64, now: f64) -> Markup {
    let exact = iso(ts);
    html! { time datetime=(exact) title=(exact) { (ago(ts, now)) } }
}

/// A short relative time.
pub fn ago(ts: f64, now: f64) -> String {
    let secs = (now - ts).max(0.0) as i64;
    let (n, unit) = match secs {
        0..=59 => return "just now".into(),
        60..=3599 => (secs / 60, "minute"),
        3600..=86_399 => (secs / 3600, "hour"),
        86_400..=2_591_999 => (secs / 86_400, "day"),
        _ => (secs / 2_592_000, "month"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// A count as "1,234".
pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut groups: Vec<&str> = Vec::new();
    let mut end = digits.len();
    while end > 3 {
        groups.push(&digits[end - 3..end]);
        end -= 3;
    }
    groups.push(&digits[..end]);
    groups.reverse();
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", groups.join(","))
}

/// A level as a coloured badge.
pub fn level_badge(level: &str) -> Markup {
    html! { span class={ "level level-" (level) } { (level) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_and_counts() {
        assert_eq!(ago(100.0, 130.0), "just now");
        assert_eq!(ago(0.0, 60.0), "1 minute ago");
        assert_eq!(ago(0.0, 7300.0), "2 hours ago");
        assert_eq!(ago(0.0, 3.0 * 86400.0), "3 days ago");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(12), "12");
        assert_eq!(count(-1000), "-1,000");
    }
}
