//! Inbound filters: whether a project wants an event dropped before it is stored, and by which
//! filter, as Relay's `relay-filter` decides it with the settings Sentry sends it.
//!
//! The check runs on the normalized event tree, before scrubbing (Relay filters before it
//! strips personal data, and a dropped event is not worth scrubbing), in Relay's order: the
//! CSP report's source, the sender's IP address, the release, the error message, localhost, browser extensions, legacy
//! browsers, web crawlers, health-check transactions, then Sentry's generic filters
//! (`chunk-load-error`, `react-hydration-errors`). The first that matches names the outcome.
//!
//! Every pattern list is compiled once per project settings read ([`Filters::new`]), and the
//! built-in patterns once per process, so an event pays for a few string searches.

mod browsers;
pub mod csp;
mod glob;

use std::net::IpAddr;
use std::sync::LazyLock;

use regex::{Regex, RegexBuilder};
use vigil_model::{InboundFilters, IpRange};

use crate::json::Json;

pub use glob::GlobList;

/// The filter that dropped an event, by the name Sentry reports in outcomes (Relay's
/// `FilterStatKey`, a generic filter by its id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterId {
    InvalidCsp,
    IpAddress,
    ReleaseVersion,
    ErrorMessage,
    BrowserExtensions,
    LegacyBrowsers,
    Localhost,
    WebCrawlers,
    FilteredTransaction,
    ChunkLoadError,
    ReactHydrationErrors,
}

impl FilterId {
    pub fn as_str(self) -> &'static str {
        match self {
            FilterId::InvalidCsp => "invalid-csp",
            FilterId::IpAddress => "ip-address",
            FilterId::ReleaseVersion => "release-version",
            FilterId::ErrorMessage => "error-message",
            FilterId::BrowserExtensions => "browser-extensions",
            FilterId::LegacyBrowsers => "legacy-browsers",
            FilterId::Localhost => "localhost",
            FilterId::WebCrawlers => "web-crawlers",
            FilterId::FilteredTransaction => "filtered-transaction",
            FilterId::ChunkLoadError => "chunk-load-error",
            FilterId::ReactHydrationErrors => "react-hydration-errors",
        }
    }
}

impl std::fmt::Display for FilterId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event a filter dropped: which filter, and the event's data category as Sentry counts
/// outcomes (`error`, `transaction`, `security`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filtered {
    pub filter: FilterId,
    pub category: &'static str,
}

/// A project's inbound filters, ready to run: the settings and their compiled pattern lists.
#[derive(Debug, Clone)]
pub struct Filters {
    settings: InboundFilters,
    error_messages: GlobList,
    releases: GlobList,
    ips: Vec<IpRange>,
    csp_sources: csp::IgnoredSources,
}

impl Filters {
    /// Compiles `settings`' patterns; entries that do not parse are left out, as Relay leaves
    /// them out (the API refuses bad IP entries before they are stored).
    pub fn new(settings: InboundFilters) -> Filters {
        Filters {
            error_messages: GlobList::new(&settings.error_messages),
            releases: GlobList::new(&settings.releases),
            ips: settings
                .blacklisted_ips
                .iter()
                .filter_map(|e| IpRange::parse(e))
                .collect(),
            csp_sources: csp::IgnoredSources::new(
                settings
                    .csp_ignored_sources_defaults
                    .then_some(csp::DEFAULT_IGNORED_SOURCES)
                    .into_iter()
                    .flatten()
                    .chain(settings.csp_ignored_sources.iter().map(String::as_str)),
            ),
            settings,
        }
    }

    pub fn settings(&self) -> &InboundFilters {
        &self.settings
    }
}

/// Sentry's defaults for a new project.
impl Default for Filters {
    fn default() -> Self {
        Filters::new(InboundFilters::default())
    }
}

/// Two filter sets are equal when their settings are (the compiled parts follow from them).
impl PartialEq for Filters {
    fn eq(&self, other: &Self) -> bool {
        self.settings == other.settings
    }
}

/// The filter that drops `event` (normalized), if any. `client_ip` is the sender's address
/// (the request's peer after trusted proxies), which the IP filter reads as Relay does.
pub fn check(event: &Json<'_>, filters: &Filters, client_ip: Option<&str>) -> Option<FilterId> {
    let s = &filters.settings;
    if !filters.csp_sources.is_empty() && csp_source_ignored(event, &filters.csp_sources) {
        return Some(FilterId::InvalidCsp);
    }
    if !filters.ips.is_empty() && ip_blocked(event, filters, client_ip) {
        return Some(FilterId::IpAddress);
    }
    if !filters.releases.is_empty() {
        let release = event.get("release").and_then(Json::as_str);
        if release.is_some_and(|r| filters.releases.is_match(r)) {
            return Some(FilterId::ReleaseVersion);
        }
    }
    if !filters.error_messages.is_empty() && error_message_matches(event, &filters.error_messages) {
        return Some(FilterId::ErrorMessage);
    }
    if s.localhost && is_localhost(event) {
        return Some(FilterId::Localhost);
    }
    if s.browser_extensions && from_browser_extension(event) {
        return Some(FilterId::BrowserExtensions);
    }
    let legacy = !matches!(s.legacy_browsers, vigil_model::LegacyBrowsers::Off);
    if legacy || s.web_crawlers {
        if let Some(ua) = user_agent(event) {
            if legacy {
                if let Some((family, major)) = browsers::detect(ua) {
                    if browsers::is_legacy(&s.legacy_browsers, family, major) {
                        return Some(FilterId::LegacyBrowsers);
                    }
                }
            }
            if s.web_crawlers && WEB_CRAWLERS.is_match(ua) {
                return Some(FilterId::WebCrawlers);
            }
        }
    }
    let is_transaction = event.get("type").and_then(Json::as_str) == Some("transaction");
    if s.filtered_transaction && is_transaction {
        let name = event.get("transaction").and_then(Json::as_str);
        if name.is_some_and(|n| HEALTH_CHECKS.is_match(n)) {
            return Some(FilterId::FilteredTransaction);
        }
    }
    if s.chunk_load_error && any_exception(event, is_chunk_load_error) {
        return Some(FilterId::ChunkLoadError);
    }
    if s.react_hydration_errors && any_exception(event, is_hydration_error) {
        return Some(FilterId::ReactHydrationErrors);
    }
    None
}

/// The data category Sentry counts an event of this `type` in.
pub fn category(event: &Json<'_>) -> &'static str {
    match event.get("type").and_then(Json::as_str) {
        Some("transaction") => "transaction",
        Some("csp" | "hpkp" | "expectct" | "expectstaple" | "nel") => "security",
        _ => "error",
    }
}

/// A CSP report whose blocked URI or source file is one of the ignored sources.
fn csp_source_ignored(event: &Json<'_>, sources: &csp::IgnoredSources) -> bool {
    if event.get("type").and_then(Json::as_str) != Some("csp") {
        return false;
    }
    let Some(report) = event.get("csp") else {
        return false;
    };
    let field = |name| report.get(name).and_then(Json::as_str);
    sources.matches(field("blocked_uri")) || sources.matches(field("source_file"))
}

/// Relay reads the envelope's client address; an event that arrived without one (an old
/// queue entry) is judged by the user's address instead.
fn ip_blocked(event: &Json<'_>, filters: &Filters, client_ip: Option<&str>) -> bool {
    let ip = client_ip.or_else(|| event.pointer("/user/ip_address").and_then(Json::as_str));
    let Some(ip) = ip.and_then(|ip| ip.parse::<IpAddr>().ok()) else {
        return false;
    };
    filters.ips.iter().any(|range| range.contains(ip))
}

/// The log message (`formatted`, else `message`), then each exception as `Type: value` (or
/// whichever of the two it has), as Relay's error-message filter reads them.
fn error_message_matches(event: &Json<'_>, patterns: &GlobList) -> bool {
    if let Some(logentry) = event.get("logentry") {
        let message = logentry
            .get("formatted")
            .and_then(Json::as_str)
            .or_else(|| logentry.get("message").and_then(Json::as_str));
        if message.is_some_and(|m| patterns.is_match(m)) {
            return true;
        }
    }
    let mut text = String::new();
    exceptions(event).any(|exception| {
        let ty = exception.get("type").and_then(Json::as_str).unwrap_or("");
        let value = exception.get("value").and_then(Json::as_str).unwrap_or("");
        let message = match (ty, value) {
            ("", value) => value,
            (ty, "") => ty,
            (ty, value) => {
                text.clear();
                text.push_str(ty);
                text.push_str(": ");
                text.push_str(value);
                &text
            }
        };
        patterns.is_match(message)
    })
}

fn exceptions<'e, 'a>(event: &'e Json<'a>) -> impl Iterator<Item = &'e Json<'a>> {
    event
        .get("exception")
        .and_then(|e| e.get("values"))
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
}

fn any_exception(event: &Json<'_>, test: impl Fn(&str, &str) -> bool) -> bool {
    exceptions(event).any(|exception| {
        let ty = exception.get("type").and_then(Json::as_str).unwrap_or("");
        let value = exception.get("value").and_then(Json::as_str).unwrap_or("");
        test(ty, value)
    })
}

/// The value of request header `name` (any case), from normalized pairs or an object.
fn header<'e>(event: &'e Json<'_>, name: &str) -> Option<&'e str> {
    match event.get("request")?.get("headers")? {
        Json::Array(pairs) => pairs
            .iter()
            .find(|p| {
                p.get(0)
                    .and_then(Json::as_str)
                    .is_some_and(|k| k.eq_ignore_ascii_case(name))
            })
            .and_then(|p| p.get(1))
            .and_then(Json::as_str),
        Json::Object(map) => map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str()),
        _ => None,
    }
}

fn user_agent<'e>(event: &'e Json<'_>) -> Option<&'e str> {
    header(event, "User-Agent")
}

const LOCAL_IPS: [&str; 2] = ["127.0.0.1", "::1"];
const LOCAL_DOMAINS: [&str; 2] = ["127.0.0.1", "localhost"];

/// Relay's localhost filter: the user's address is a loopback one, the page is a `file://` one
/// or on `localhost` / `127.0.0.1` (or a subdomain of them), the request was forwarded for a
/// loopback address, or (without a URL) its `Host` / `X-Forwarded-Host` names localhost.
fn is_localhost(event: &Json<'_>) -> bool {
    let user_ip = event.pointer("/user/ip_address").and_then(Json::as_str);
    if user_ip.is_some_and(|ip| LOCAL_IPS.contains(&ip)) {
        return true;
    }
    let url = event
        .pointer("/request/url")
        .and_then(Json::as_str)
        .and_then(|u| url::Url::parse(u).ok());
    if let Some(url) = &url {
        if url.scheme() == "file" {
            return true;
        }
        if let Some(host) = url.host_str() {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let local = LOCAL_DOMAINS.iter().any(|d| {
                host.strip_suffix(d)
                    .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
            });
            if local {
                return true;
            }
        }
    }
    if header(event, "X-Forwarded-For").is_some_and(|v| LOCAL_IPS.contains(&v)) {
        return true;
    }
    if url.is_none() {
        for name in ["Host", "X-Forwarded-Host"] {
            let domain = header(event, name).and_then(|h| h.split(':').next());
            if domain.is_some_and(|d| LOCAL_DOMAINS.contains(&d)) {
                return true;
            }
        }
    }
    false
}

/// Relay's browser-extensions filter: the first exception's value names a known extension's
/// error, or its innermost frame's `abs_path` is an extension's or a known injector's script.
fn from_browser_extension(event: &Json<'_>) -> bool {
    let Some(first) = exceptions(event).next() else {
        return false;
    };
    if let Some(value) = first.get("value").and_then(Json::as_str) {
        if EXTENSION_VALUES.is_match(value) {
            return true;
        }
    }
    let source = first
        .get("stacktrace")
        .and_then(|s| s.get("frames"))
        .and_then(Json::as_array)
        .and_then(|frames| frames.last())
        .and_then(|frame| frame.get("abs_path"))
        .and_then(Json::as_str);
    source.is_some_and(|s| EXTENSION_SOURCES.is_match(s))
}

fn case_insensitive(pattern: &str) -> Regex {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .ignore_whitespace(true)
        .build()
        .expect("built-in filter pattern")
}

/// Exception values of known browser-extension errors (Relay's list).
static EXTENSION_VALUES: LazyLock<Regex> = LazyLock::new(|| {
    case_insensitive(
        r"top\.GLOBALS
        | originalCreateNotification
        | canvas.contentDocument
        | MyApp_RemoveAllHighlights
        | http://tt\.epicplay\.com
        | Can't\sfind\svariable:\sZiteReader
        | jigsaw\sis\snot\sdefined
        | ComboSearch\sis\snot\sdefined
        | http://loading\.retry\.widdit\.com/
        | atomicFindClose
        | fb_xd_fragment
        | bmi_SafeAddOnload
        | EBCallBackMessageReceived
        | _gCrWeb
        | conduitPage
        | null\sis\snot\san\sobject\s\(evaluating\s'elt.parentNode'\)
        | plugin\.setSuspendState\sis\snot\sa\sfunction
        | Extension\scontext\sinvalidated",
    )
});

/// Script URLs of browser extensions and known injected scripts (Relay's list).
static EXTENSION_SOURCES: LazyLock<Regex> = LazyLock::new(|| {
    case_insensitive(
        r"graph\.facebook\.com
        | connect\.facebook\.net
        | eatdifferent\.com\.woopra-ns\.com
        | static\.woopra\.com/js/woopra\.js
        | ^chrome(-extension)?://
        | ^moz-extension://
        | ^safari-extension://
        | 127\.0\.0\.1:4001/isrunning
        | webappstoolbarba\.texthelp\.com/
        | metrics\.itunes\.apple\.com\.edgesuite\.net/
        | kaspersky-labs\.com",
    )
});

/// User-Agents of known crawlers (Relay's list).
static WEB_CRAWLERS: LazyLock<Regex> = LazyLock::new(|| {
    case_insensitive(
        r"Mediapartners-Google
        | AdsBot-Google
        | Googlebot
        | FeedFetcher-Google
        | BingBot
        | BingPreview
        | Baiduspider
        | Slurp
        | Sogou
        | facebook
        | ia_archiver
        | bots?[/\s\);]
        | spider[/\s\);]
        | Slack
        | Calypso\sAppCrawler
        | pingdom
        | lyticsbot
        | AWS\sSecurity\sScanner
        | HubSpot\sCrawler",
    )
});

/// Transaction names of health checks (Sentry's `HEALTH_CHECK_GLOBS`).
static HEALTH_CHECKS: LazyLock<GlobList> = LazyLock::new(|| {
    GlobList::new(&[
        "*healthcheck*",
        "*heartbeat*",
        "*/health",
        "*/healthy",
        "*/healthz",
        "*/live",
        "*/livez",
        "*/ready",
        "*/readyz",
        "*/ping",
    ])
});

/// One `(type, value)` glob pair of a generic filter; `None` matches any.
struct Pair {
    ty: Option<GlobList>,
    value: Option<GlobList>,
}

impl Pair {
    fn new(ty: Option<&str>, value: Option<&str>) -> Pair {
        Pair {
            ty: ty.map(|t| GlobList::new(&[t])),
            value: value.map(|v| GlobList::new(&[v])),
        }
    }

    fn matches(&self, ty: &str, value: &str) -> bool {
        self.ty.as_ref().is_none_or(|g| g.is_match(ty))
            && self.value.as_ref().is_none_or(|g| g.is_match(value))
    }
}

/// Sentry's `chunk-load-error` filter (webpack's and Turbopack's chunk load failures).
static CHUNK_LOAD_ERRORS: LazyLock<Vec<Pair>> = LazyLock::new(|| {
    vec![
        Pair::new(Some("ChunkLoadError"), Some("Loading chunk *")),
        Pair::new(Some("*Uncaught *"), Some("ChunkLoadError: Loading chunk *")),
        Pair::new(Some("ChunkLoadError"), Some("Failed to load chunk *")),
        Pair::new(
            Some("*Uncaught *"),
            Some("ChunkLoadError: Failed to load chunk *"),
        ),
        Pair::new(
            Some("Error"),
            Some("Uncaught (in promise): ChunkLoadError*"),
        ),
    ]
});

/// Sentry's `react-hydration-errors` filter (React's minified errors 418–425).
static HYDRATION_ERRORS: LazyLock<Vec<Pair>> = LazyLock::new(|| {
    vec![
        Pair::new(
            None,
            Some(
                "*https://reactjs.org/docs/error-decoder.html?invariant={418,419,421,422,423,425}*",
            ),
        ),
        Pair::new(
            None,
            Some("*https://react.dev/errors/{418,419,421,422,423,425}*"),
        ),
    ]
});

fn is_chunk_load_error(ty: &str, value: &str) -> bool {
    // Every pattern needs "chunk" in the value: most exceptions are passed over at that test.
    contains_ignore_case(value, "chunk") && CHUNK_LOAD_ERRORS.iter().any(|p| p.matches(ty, value))
}

fn is_hydration_error(ty: &str, value: &str) -> bool {
    contains_ignore_case(value, "react") && HYDRATION_ERRORS.iter().any(|p| p.matches(ty, value))
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests;
