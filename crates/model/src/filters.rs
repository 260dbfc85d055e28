//! A project's inbound filters, as Sentry's Settings → Inbound Filters names them.
//!
//! Events a filter matches are counted, not stored. The store keeps the filters per project,
//! the API (`/filters/` and the project's `options`) and the web UI change them, and the worker
//! hands them to processing, which decides per event (`vigil_processing::filter`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The legacy-browser subfilters Sentry's `PUT …/filters/legacy-browsers/` accepts: the current
/// ones first, then the deprecated ones older projects may still have.
pub const LEGACY_BROWSER_SUBFILTERS: [&str; 17] = [
    "ie",
    "edge",
    "safari",
    "firefox",
    "chrome",
    "opera",
    "android",
    "opera_mini",
    "ie_pre_9",
    "ie9",
    "ie10",
    "ie11",
    "opera_pre_15",
    "android_pre_4",
    "safari_pre_6",
    "opera_mini_pre_8",
    "edge_pre_79",
];

/// The subfilters Sentry turns on for a new project (`set_default_inbound_filters`), sorted as
/// Sentry stores them.
pub const DEFAULT_LEGACY_BROWSERS: [&str; 8] = [
    "android",
    "chrome",
    "edge",
    "firefox",
    "ie",
    "opera",
    "opera_mini",
    "safari",
];

/// The `legacy-browsers` filter's state, which Sentry keeps as `"0"`, `"1"` or a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LegacyBrowsers {
    /// `"0"`: off.
    Off,
    /// `"1"` (`{"active": true}`): Relay's built-in default set of old browsers.
    Default,
    /// Only these subfilters, sorted and without repeats (never empty: an empty list is `Off`).
    Only(Vec<String>),
}

impl LegacyBrowsers {
    /// The state of a subfilter list as Sentry stores it: sorted and deduplicated, `Off` when
    /// empty.
    pub fn only<I: IntoIterator<Item = S>, S: Into<String>>(subfilters: I) -> Self {
        let mut list: Vec<String> = subfilters.into_iter().map(Into::into).collect();
        list.sort();
        list.dedup();
        if list.is_empty() {
            LegacyBrowsers::Off
        } else {
            LegacyBrowsers::Only(list)
        }
    }

    /// `active` as Sentry's API answers it: `false`, `true` or the sorted subfilter list.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            LegacyBrowsers::Off => false.into(),
            LegacyBrowsers::Default => true.into(),
            LegacyBrowsers::Only(list) => list.clone().into(),
        }
    }

    /// Reads [`Self::to_json`]'s form back (the store keeps it so).
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        match value {
            serde_json::Value::Bool(false) => Some(LegacyBrowsers::Off),
            serde_json::Value::Bool(true) => Some(LegacyBrowsers::Default),
            serde_json::Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(LegacyBrowsers::only),
            _ => None,
        }
    }
}

/// What a project filters out before anything is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundFilters {
    /// `browser-extensions`: errors known to come from browser extensions.
    pub browser_extensions: bool,
    /// `localhost`: events from 127.0.0.1, ::1, `localhost` and `file://` pages.
    pub localhost: bool,
    /// `web-crawlers`: events whose User-Agent is a known crawler's.
    pub web_crawlers: bool,
    /// `filtered-transaction`: transactions named like health checks.
    pub filtered_transaction: bool,
    /// `legacy-browsers`.
    pub legacy_browsers: LegacyBrowsers,
    /// `react-hydration-errors` (a generic filter, set through the project's `options`).
    pub react_hydration_errors: bool,
    /// `chunk-load-error` (a generic filter, set through the project's `options`).
    pub chunk_load_error: bool,
    /// `filters:error_messages`: glob patterns on the message / `Type: value`.
    pub error_messages: Vec<String>,
    /// `filters:releases`: glob patterns on the release.
    pub releases: Vec<String>,
    /// `filters:blacklisted_ips`: IP addresses and CIDR ranges of senders.
    pub blacklisted_ips: Vec<String>,
    /// `sentry:csp_ignored_sources_defaults`: CSP reports about Sentry's built-in list of
    /// extension and injected-script sources are dropped.
    pub csp_ignored_sources_defaults: bool,
    /// `sentry:csp_ignored_sources`: more sources (`scheme://domain:port`, parts may be `*`)
    /// whose CSP reports are dropped.
    pub csp_ignored_sources: Vec<String>,
}

/// What Sentry gives a new project: the defaults of its project options at the latest epoch,
/// with `set_default_inbound_filters` applied on creation (browser extensions, legacy browsers
/// with the current subfilters, web crawlers and health checks on; localhost off).
impl Default for InboundFilters {
    fn default() -> Self {
        InboundFilters {
            browser_extensions: true,
            localhost: false,
            web_crawlers: true,
            filtered_transaction: true,
            legacy_browsers: LegacyBrowsers::only(DEFAULT_LEGACY_BROWSERS),
            react_hydration_errors: true,
            chunk_load_error: true,
            error_messages: Vec::new(),
            releases: Vec::new(),
            blacklisted_ips: Vec::new(),
            csp_ignored_sources_defaults: true,
            csp_ignored_sources: Vec::new(),
        }
    }
}

/// The filters Sentry's `/filters/` endpoints list and toggle, in Sentry's order.
pub const TOGGLED_FILTERS: [&str; 5] = [
    "localhost",
    "browser-extensions",
    "legacy-browsers",
    "web-crawlers",
    "filtered-transaction",
];

impl InboundFilters {
    /// Every filter off: what a tool that only inspects events (`vigil event group`) runs with.
    pub fn none() -> Self {
        InboundFilters {
            browser_extensions: false,
            localhost: false,
            web_crawlers: false,
            filtered_transaction: false,
            legacy_browsers: LegacyBrowsers::Off,
            react_hydration_errors: false,
            chunk_load_error: false,
            error_messages: Vec::new(),
            releases: Vec::new(),
            blacklisted_ips: Vec::new(),
            csp_ignored_sources_defaults: false,
            csp_ignored_sources: Vec::new(),
        }
    }

    /// Whether the boolean filter `id` (one of [`TOGGLED_FILTERS`] but `legacy-browsers`) is on.
    pub fn is_active(&self, id: &str) -> Option<bool> {
        Some(match id {
            "localhost" => self.localhost,
            "browser-extensions" => self.browser_extensions,
            "web-crawlers" => self.web_crawlers,
            "filtered-transaction" => self.filtered_transaction,
            _ => return None,
        })
    }

    /// Turns the boolean filter `id` on or off; `false` for an id that is not one.
    pub fn set_active(&mut self, id: &str, on: bool) -> bool {
        let flag = match id {
            "localhost" => &mut self.localhost,
            "browser-extensions" => &mut self.browser_extensions,
            "web-crawlers" => &mut self.web_crawlers,
            "filtered-transaction" => &mut self.filtered_transaction,
            _ => return false,
        };
        *flag = on;
        true
    }
}

/// One entry of `filters:blacklisted_ips`: an address or a CIDR range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    addr: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// `1.2.3.4`, `10.0.0.0/8`, `::1`, `a:b:c::/48`; `None` for anything else.
    pub fn parse(entry: &str) -> Option<IpRange> {
        let (addr, prefix) = match entry.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (entry, None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= max)?
            }
            Some(_) => return None,
            None => max,
        };
        Some(IpRange { addr, prefix })
    }

    /// Whether `ip` is in the range (an IPv4 range holds no IPv6 address and the reverse).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let masked = |bits: u128, width: u32| {
            let keep = u32::from(self.prefix);
            if keep == 0 {
                0
            } else {
                bits >> (width - keep)
            }
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), 32) == masked(u32::from(ip).into(), 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), 128) == masked(u128::from(ip), 128)
            }
            _ => false,
        }
    }
}

/// Splits a textarea's value (one entry per line) as Sentry's `clean_newline_inputs` does:
/// entries trimmed, blank lines dropped.
pub fn newline_list(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_a_new_sentry_projects() {
        let d = InboundFilters::default();
        assert!(d.browser_extensions && d.web_crawlers && d.filtered_transaction);
        assert!(!d.localhost);
        assert!(d.react_hydration_errors && d.chunk_load_error);
        assert_eq!(
            d.legacy_browsers.to_json().as_array().map(Vec::len),
            Some(8)
        );
    }

    #[test]
    fn legacy_browser_states_round_trip_as_sentry_answers_them() {
        for state in [
            LegacyBrowsers::Off,
            LegacyBrowsers::Default,
            LegacyBrowsers::only(["safari", "ie", "ie"]),
        ] {
            assert_eq!(LegacyBrowsers::from_json(&state.to_json()), Some(state));
        }
        assert_eq!(
            LegacyBrowsers::only(["safari", "ie", "ie"]).to_json(),
            serde_json::json!(["ie", "safari"])
        );
        assert_eq!(
            LegacyBrowsers::only(Vec::<String>::new()),
            LegacyBrowsers::Off
        );
    }

    #[test]
    fn ip_ranges_match_as_relays_client_ip_filter() {
        let hit = |range: &str, ip: &str| {
            IpRange::parse(range)
                .expect("range")
                .contains(ip.parse().expect("ip"))
        };
        assert!(hit("122.33.230.14", "122.33.230.14"));
        assert!(hit("122.33.230.0/30", "122.33.230.2"));
        assert!(!hit("122.33.230.0/30", "122.33.230.4"));
        assert!(hit("122.33.230.4/30", "122.33.230.5"));
        assert!(hit("a:b:c::0/126", "a:b:c::2"));
        assert!(!hit("a:b:c::0/126", "a:b:c::4"));
        assert!(!hit("aaaa:bbbb::cccc", "aaaa:bbbb::ccce"));
        assert!(hit("127.0.0.0/8", "127.0.0.1"));
        assert!(hit("0.0.0.0/0", "8.8.8.8"));
        assert!(!hit("127.0.0.1", "::1"));
        for bad in ["lol/bar", "1.2.3.4/33", "1.2.3.4/", "::1/129", "1.2.3", ""] {
            assert_eq!(IpRange::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn newline_lists_are_trimmed_without_blank_lines() {
        assert_eq!(newline_list(" a \n\n b\r\n"), vec!["a", "b"]);
        assert!(newline_list("").is_empty());
    }
}
