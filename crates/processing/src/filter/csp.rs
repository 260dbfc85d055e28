//! The CSP filter: Content-Security-Policy reports about sources a project ignores (Relay's
//! `csp` filter with the `disallowedSources` Sentry sends it), most of them browser extensions
//! and injected scripts no site owner can act on.
//!
//! A source is `scheme://domain:port` where any part may be `*` or left out; a domain may start
//! with `*.` to take in its subdomains. Report URLs are split the same way, without a URL
//! parser, because CSP reports carry things like `about`, `data:text/html,…` or
//! `chrome-extension://abc` that a URL parser refuses or rewrites.

/// Sentry's built-in ignored sources (`DEFAULT_DISALLOWED_SOURCES` of
/// `sentry.interfaces.security`), used while the project's "Use default ignored sources"
/// (`sentry:csp_ignored_sources_defaults`) is on.
pub const DEFAULT_IGNORED_SOURCES: [&str; 53] = [
    "about",
    "ms-browser-extension",
    "chrome://*",
    "chrome-extension://*",
    "chromeinvokeimmediate://*",
    "chromenull://*",
    "data:text/html,chromewebdata",
    "safari-extension://*",
    "mxaddon-pkg://*",
    "jar://*",
    "webviewprogressproxy://*",
    "ms-browser-extension://*",
    "tmtbff://*",
    "mbinit://*",
    "symres://*",
    "resource://*",
    "moz-extension://*",
    "*.metrext.com",
    "static.image2play.com",
    "*.tlscdn.com",
    "73a5b0806e464be8bd4e694c744624f0.com",
    "020dfefc4ac745dab7594f2f771c1ded.com",
    "*.superfish.com",
    "addons.mozilla.org",
    "v.zilionfast.in",
    "widgets.amung.us",
    "*.superfish.com",
    "xls.searchfun.in",
    "istatic.datafastguru.info",
    "v.zilionfast.in",
    "localhost",
    "resultshub-a.akamaihd.net",
    "pulseadnetwork.com",
    "gateway.zscalertwo.net",
    "www.passpack.com",
    "middlerush-a.akamaihd.net",
    "www.websmartcenter.com",
    "a.linkluster.com",
    "saveyoutime.ru",
    "cdncache-a.akamaihd.net",
    "x.rafomedia.com",
    "savingsslider-a.akamaihd.net",
    "injections.adguard.com",
    "icontent.us",
    "amiok.org",
    "connectionstrenth.com",
    "siteheart.net",
    "netanalitics.space",
    "printapplink.com",
    "godlinkapp.com",
    "devappstor.com",
    "hoholikik.club",
    "smartlink.cool",
];

/// One ignored source, or one report URL, split into its parts. A part is `None` where the
/// source says `*` or leaves it out; the rest are lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: Option<String>,
    domain: Option<String>,
    port: Option<String>,
}

impl Origin {
    pub fn parse(text: &str) -> Origin {
        fn part(text: &str) -> Option<String> {
            (text != "*").then(|| text.to_lowercase())
        }
        let (scheme, rest) = match text.find("://") {
            Some(at) => (part(&text[..at]), &text[at + 3..]),
            None => (None, text),
        };
        let host = rest.find('/').map_or(rest, |end| &rest[..end]);
        let (domain, port) = match host.find(':') {
            Some(at) => (part(&host[..at]), part(&host[at + 1..])),
            None => (part(host), None),
        };
        Origin {
            scheme,
            domain,
            port,
        }
    }

    fn is_wildcard(&self) -> bool {
        self.scheme.is_none() && self.domain.is_none() && self.port.is_none()
    }

    /// Whether `url` (parsed) is one of this source's: each part the source names is equal,
    /// and a `*.example.com` domain takes in `example.com` and anything ending `.example.com`.
    fn covers(&self, url: &Origin) -> bool {
        if self.scheme.is_some() && self.scheme != url.scheme {
            return false;
        }
        if self.port.is_some() && self.port != url.port {
            return false;
        }
        match (&self.domain, &url.domain) {
            (None, _) => true,
            (Some(pattern), Some(domain)) if pattern == domain => true,
            (Some(pattern), Some(domain)) => pattern.strip_prefix('*').is_some_and(|suffix| {
                domain.ends_with(suffix) || Some(domain.as_str()) == suffix.strip_prefix('.')
            }),
            (Some(_), None) => false,
        }
    }
}

/// A project's ignored sources, parsed once per settings read.
#[derive(Debug, Clone, Default)]
pub struct IgnoredSources {
    origins: Vec<Origin>,
    any: bool,
}

impl IgnoredSources {
    pub fn new<'a>(sources: impl IntoIterator<Item = &'a str>) -> IgnoredSources {
        let origins: Vec<Origin> = sources.into_iter().map(Origin::parse).collect();
        IgnoredSources {
            any: origins.iter().any(Origin::is_wildcard),
            origins,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    /// Whether a report about `url` is to be dropped. A `*` source drops every report, even one
    /// without the URL, as Relay's does.
    pub fn matches(&self, url: Option<&str>) -> bool {
        if self.any {
            return true;
        }
        let Some(url) = url else {
            return false;
        };
        let url = Origin::parse(url);
        self.origins.iter().any(|origin| origin.covers(&url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_split_into_scheme_domain_and_port() {
        let cases = [
            ("*", (None, None, None)),
            ("*://*:*", (None, None, None)),
            ("https://*", (Some("https"), None, None)),
            (
                "https://*.abc.net",
                (Some("https"), Some("*.abc.net"), None),
            ),
            ("X.Y.z:*", (None, Some("x.y.z"), None)),
            ("*:8000", (None, None, Some("8000"))),
            ("abc:8000", (None, Some("abc"), Some("8000"))),
            (
                "http://abc.com:86/path",
                (Some("http"), Some("abc.com"), Some("86")),
            ),
            ("http://", (Some("http"), Some(""), None)),
        ];
        for (text, expected) in cases {
            let o = Origin::parse(text);
            let parts = (o.scheme.as_deref(), o.domain.as_deref(), o.port.as_deref());
            assert_eq!(parts, expected, "{text}");
        }
    }

    #[test]
    fn urls_match_the_sources_relay_matches() {
        let cases: [(&str, &[&str], bool); 16] = [
            ("http://abc1.com", &["*://*:*", "bbc.com"], true),
            ("http://abc3.com", &["*"], true),
            ("http://abc4.com", &["http://*", "bbc.com"], true),
            ("http://abc.com:82", &["*:82"], true),
            ("http://abc.com:84", &["abc.com:*"], true),
            ("http://abc.com:85", &["*.abc.com:85"], true),
            ("http://abc.def.ghc.com:87", &["*.com:87"], true),
            ("http://abc.com:90", &["abc.com"], true),
            ("http://abc.com:93", &["http://abc.com"], true),
            ("http://abc8.com", &["bbc.com", "abc8.com", "def"], true),
            ("http://abc9.com", &["http://other.com", "bbc.com"], false),
            ("http://abc10.com", &["http://*.other.com", "bbc"], false),
            ("https://abc12.com", &["http://abc12.com"], false),
            ("http://abc13.com:80", &["http://abc13.com:8080"], false),
            ("http://y:80", &["http://x"], false),
            ("http://notabc.com", &["*.abc.com"], false),
        ];
        for (url, sources, expected) in cases {
            let ignored = IgnoredSources::new(sources.iter().copied());
            assert_eq!(ignored.matches(Some(url)), expected, "{url} {sources:?}");
        }
    }

    #[test]
    fn the_defaults_take_extension_noise_and_leave_sites() {
        let defaults = IgnoredSources::new(DEFAULT_IGNORED_SOURCES);
        for noise in [
            "about",
            "ms-browser-extension",
            "http://foo.superfish.com",
            "chrome-extension://fdsa",
            "http://localhost:8000",
            "http://localhost",
            "moz-extension://abc/script.js",
        ] {
            assert!(defaults.matches(Some(noise)), "{noise}");
        }
        for site in [
            "http://example.com",
            "https://cdn.example.com/app.js",
            "self",
        ] {
            assert!(!defaults.matches(Some(site)), "{site}");
        }
        assert!(!defaults.matches(None));
        assert!(IgnoredSources::new(["*"]).matches(None));
    }
}
