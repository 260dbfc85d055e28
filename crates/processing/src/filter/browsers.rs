//! The `legacy-browsers` filter: which browser a User-Agent names, at which major version, and
//! whether a project's subfilters call that old.
//!
//! Relay reads the browser family and major version with the `uap-core` rules; Vigil does not
//! carry them, and recognizes the families the subfilters name by their markers, in `uap-core`'s
//! order of precedence (Opera Mini and Opera before Edge, Edge before Chrome, Chrome before
//! Safari). Mobile variants count as their desktop family (`Mobile Safari` is Safari), as the
//! subfilters mean the engine's age.

use vigil_model::LegacyBrowsers;

/// A browser family the subfilters name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Ie,
    Edge,
    Chrome,
    Firefox,
    Safari,
    Opera,
    OperaMini,
    Android,
}

/// The family and major version a User-Agent names, when it is one of [`Family`].
pub(crate) fn detect(ua: &str) -> Option<(Family, u32)> {
    if let Some(v) = major_after(ua, "Opera Mini/") {
        return Some((Family::OperaMini, v));
    }
    if let Some(v) = major_after(ua, "OPR/") {
        return Some((Family::Opera, v));
    }
    if ua.starts_with("Opera/") || ua.contains(" Opera ") {
        let v = major_after(ua, "Version/")
            .or_else(|| major_after(ua, "Opera/"))
            .or_else(|| major_after(ua, "Opera "))?;
        return Some((Family::Opera, v));
    }
    for marker in ["Edg/", "EdgA/", "Edge/"] {
        if let Some(v) = major_after(ua, marker) {
            return Some((Family::Edge, v));
        }
    }
    if let Some(v) = major_after(ua, "IEMobile/").or_else(|| major_after(ua, "MSIE ")) {
        return Some((Family::Ie, v));
    }
    if ua.contains("Trident/") {
        if let Some(v) = major_after(ua, "rv:") {
            return Some((Family::Ie, v));
        }
    }
    // iOS browsers other than Safari (CriOS, FxiOS, EdgiOS) are their own families in uap-core.
    if ["CriOS/", "FxiOS/", "EdgiOS/"]
        .iter()
        .any(|m| ua.contains(m))
    {
        return None;
    }
    if let Some(v) = major_after(ua, "Firefox/") {
        return Some((Family::Firefox, v));
    }
    if let Some(v) = major_after(ua, "Chrome/") {
        // Android's WebView is `Chrome Mobile WebView`, not Chrome.
        if ua.contains("; wv)") {
            return None;
        }
        return Some((Family::Chrome, v));
    }
    if ua.contains("Android") && ua.contains("Safari/") {
        let v = major_after(ua, "Android ")?;
        return Some((Family::Android, v));
    }
    if ua.contains("Safari/") {
        let v = major_after(ua, "Version/")?;
        return Some((Family::Safari, v));
    }
    None
}

/// The number right after `marker`.
fn major_after(ua: &str, marker: &str) -> Option<u32> {
    let start = ua.find(marker)? + marker.len();
    let digits = ua[start..].bytes().take_while(u8::is_ascii_digit).count();
    ua[start..start + digits].parse().ok()
}

/// Whether the browser is old by the project's subfilters.
pub(crate) fn is_legacy(state: &LegacyBrowsers, family: Family, major: u32) -> bool {
    match state {
        LegacyBrowsers::Off => false,
        LegacyBrowsers::Default => default_is_legacy(family, major),
        LegacyBrowsers::Only(subfilters) => subfilters
            .iter()
            .any(|s| subfilter_matches(s, family, major)),
    }
}

/// Relay's default set (`"1"`, `{"active": true}`): below each family's minimum version.
fn default_is_legacy(family: Family, major: u32) -> bool {
    let min = match family {
        Family::Ie => 10,
        Family::Safari => 6,
        Family::Opera => 15,
        Family::Android => 4,
        Family::OperaMini => 8,
        Family::Chrome | Family::Firefox | Family::Edge => 0,
    };
    major < min
}

/// One subfilter, with the version bounds Sentry documents for it.
fn subfilter_matches(subfilter: &str, family: Family, major: u32) -> bool {
    use Family::*;
    match subfilter {
        "ie" => family == Ie && major <= 11,
        "edge" => family == Edge && major <= 110,
        "safari" => family == Safari && major <= 15,
        "firefox" => family == Firefox && major <= 110,
        "chrome" => family == Chrome && major <= 110,
        "opera" => family == Opera && major <= 99,
        "android" => family == Android && major <= 3,
        "opera_mini" => family == OperaMini && major <= 34,
        "ie_pre_9" => family == Ie && major <= 8,
        "ie9" => family == Ie && major == 9,
        "ie10" => family == Ie && major == 10,
        "ie11" => family == Ie && major == 11,
        "opera_pre_15" => family == Opera && major < 15,
        "android_pre_4" => family == Android && major < 4,
        "safari_pre_6" => family == Safari && major < 6,
        "opera_mini_pre_8" => family == OperaMini && major < 8,
        "edge_pre_79" => family == Edge && major < 79,
        // An unknown subfilter filters nothing (Relay's `LegacyBrowser::Unknown`).
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Family::*;

    #[test]
    fn families_and_versions_of_real_agents() {
        let cases: &[(&str, Option<(Family, u32)>)] = &[
            ("Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.0; Trident/4.0)", Some((Ie, 8))),
            ("Mozilla/5.0 (Windows NT 6.3; Trident/7.0; rv:11.0) like Gecko", Some((Ie, 11))),
            ("Mozilla/5.0 (compatible; MSIE 9.0; Windows Phone OS 7.5; Trident/5.0; IEMobile/9.0; NOKIA; Lumia 710)", Some((Ie, 9))),
            ("Opera/9.80 (J2ME/MIDP; Opera Mini/7.0.32796/59.323; U; fr) Presto/2.12.423 Version/12.16", Some((OperaMini, 7))),
            ("Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/27.0.1453.12 Safari/537.36 OPR/14.0.1116.4", Some((Opera, 14))),
            ("Opera/9.80 (X11; Linux i686; Ubuntu/14.10) Presto/2.12.388 Version/12.16", Some((Opera, 12))),
            ("Mozilla/5.0 (Linux; U; Android 3.2; nl-nl; GT-P6800 Build/HTJ85B) AppleWebKit/534.13 (KHTML, like Gecko) Version/4.0 Safari/534.13", Some((Android, 3))),
            ("Mozilla/5.0 (Macintosh; U; Intel Mac OS X 1063; tr-DE) AppleWebKit/533.16 (KHTML like Gecko) Version/5.0 Safari/533.16", Some((Safari, 5))),
            ("Mozilla/5.0 (iPad; CPU OS 9_3_6 like Mac OS X) AppleWebKit/601.1.46 (KHTML, like Gecko) Version/9.0 Mobile/13G37 Safari/601.1", Some((Safari, 9))),
            ("Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/42.0.2311.135 Safari/537.36 Edge/12.10136", Some((Edge, 12))),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91", Some((Edge, 120))),
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36", Some((Chrome, 156))),
            ("Mozilla/5.0 (Windows NT 6.1; rv:109.0) Gecko/20100101 Firefox/109.0", Some((Firefox, 109))),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0 Mobile/15E148 Safari/604.1", None),
            ("python-requests/2.31.0", None),
        ];
        for (ua, expected) in cases {
            assert_eq!(detect(ua), *expected, "{ua}");
        }
    }

    #[test]
    fn subfilters_use_sentrys_version_bounds() {
        let only = |s: &[&str]| LegacyBrowsers::only(s.iter().copied());
        assert!(is_legacy(&only(&["chrome"]), Chrome, 110));
        assert!(!is_legacy(&only(&["chrome"]), Chrome, 111));
        assert!(is_legacy(&only(&["safari"]), Safari, 15));
        assert!(!is_legacy(&only(&["safari"]), Safari, 16));
        assert!(is_legacy(&only(&["ie"]), Ie, 11));
        assert!(!is_legacy(&only(&["ie9"]), Ie, 10));
        assert!(is_legacy(&only(&["ie10", "ie9"]), Ie, 10));
        assert!(is_legacy(&only(&["edge_pre_79"]), Edge, 18));
        assert!(!is_legacy(&only(&["edge_pre_79"]), Edge, 79));
        assert!(!is_legacy(&only(&["unknown"]), Ie, 5));
        assert!(!is_legacy(&LegacyBrowsers::Off, Ie, 5));
        assert!(is_legacy(&LegacyBrowsers::Default, Ie, 9));
        assert!(!is_legacy(&LegacyBrowsers::Default, Ie, 10));
        assert!(!is_legacy(&LegacyBrowsers::Default, Chrome, 1));
        assert!(is_legacy(&LegacyBrowsers::Default, OperaMini, 7));
    }
}
