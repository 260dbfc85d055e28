//! Browser, operating system and device read from a `User-Agent` header.
//!
//! Relay fills the browser, OS and device contexts of an event from its request's User-Agent
//! (with the `uap-core` rules) when the SDK sent none, and Sentry derives the `browser`, `os`
//! and `device` tags from those contexts. Vigil does not carry the full rule set; it recognizes
//! the browsers and systems that make up nearly all real traffic by hand, with the names and
//! version formats `uap-core` gives them (`Chrome 156.0.0`, `Mac OS X 10.15.7`). An agent it
//! does not recognize yields nothing rather than a guess.

/// A browser or OS: its name and, when the agent says, its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Software {
    pub name: String,
    pub version: Option<String>,
}

impl Software {
    fn new(name: &str, version: Option<String>) -> Self {
        Self {
            name: name.to_owned(),
            version: version.filter(|v| !v.is_empty()),
        }
    }
}

/// What a User-Agent header reveals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AgentInfo {
    pub browser: Option<Software>,
    pub os: Option<Software>,
    /// Device family (`iPhone`, `iPad`); desktops have none.
    pub device: Option<String>,
}

/// Parses a User-Agent header.
pub(crate) fn parse(ua: &str) -> AgentInfo {
    AgentInfo {
        browser: browser(ua),
        os: os(ua),
        device: device(ua),
    }
}

/// The dotted version after `marker` (e.g. `Chrome/`), at most `parts` numeric components.
fn version_after(ua: &str, marker: &str, parts: usize) -> Option<String> {
    let start = ua.find(marker)? + marker.len();
    Some(numeric_version(&ua[start..], &['.'], parts))
}

/// Reads `12.3.4…` (or `10_15_7` with `_` as separator) from the start of `text`.
fn numeric_version(text: &str, separators: &[char], parts: usize) -> String {
    let mut out = Vec::new();
    for part in text.split(|c: char| separators.contains(&c)).take(parts) {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            break;
        }
        let complete = digits.len() == part.len();
        out.push(digits);
        if !complete {
            break;
        }
    }
    out.join(".")
}

fn browser(ua: &str) -> Option<Software> {
    let mobile = ua.contains("Mobile");
    // Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
    if ua.contains("Edg/") || ua.contains("EdgA/") || ua.contains("EdgiOS/") {
        let marker = ["Edg/", "EdgA/", "EdgiOS/"]
            .into_iter()
            .find(|m| ua.contains(m))?;
        return Some(Software::new("Edge", version_after(ua, marker, 3)));
    }
    if ua.contains("Edge/") {
        return Some(Software::new("Edge", version_after(ua, "Edge/", 3)));
    }
    if ua.contains("OPR/") {
        let name = if mobile { "Opera Mobile" } else { "Opera" };
        return Some(Software::new(name, version_after(ua, "OPR/", 3)));
    }
    if ua.contains("Firefox/") || ua.contains("FxiOS/") {
        let marker = if ua.contains("FxiOS/") {
            "FxiOS/"
        } else {
            "Firefox/"
        };
        let name = if mobile || marker == "FxiOS/" {
            "Firefox Mobile"
        } else {
            "Firefox"
        };
        return Some(Software::new(name, version_after(ua, marker, 3)));
    }
    if ua.contains("CriOS/") {
        return Some(Software::new(
            "Chrome Mobile iOS",
            version_after(ua, "CriOS/", 3),
        ));
    }
    // HeadlessChrome is reported as Chrome: it is the same engine and version, and the
    // protocol notes (§11.5) name this fixture's browser `Chrome 156.0.0`.
    for marker in ["HeadlessChrome/", "Chrome/"] {
        if ua.contains(marker) {
            let name = if mobile && ua.contains("Android") {
                "Chrome Mobile"
            } else {
                "Chrome"
            };
            return Some(Software::new(name, version_after(ua, marker, 3)));
        }
    }
    if ua.contains("Safari/") && ua.contains("Version/") {
        let name = if mobile { "Mobile Safari" } else { "Safari" };
        return Some(Software::new(name, version_after(ua, "Version/", 3)));
    }
    None
}

fn os(ua: &str) -> Option<Software> {
    if let Some(start) = ua.find("Windows NT ") {
        let nt = numeric_version(&ua[start + "Windows NT ".len()..], &['.'], 2);
        let version = match nt.as_str() {
            "10.0" => Some("10"),
            "6.3" => Some("8.1"),
            "6.2" => Some("8"),
            "6.1" => Some("7"),
            "6.0" => Some("Vista"),
            "5.1" | "5.2" => Some("XP"),
            _ => None,
        };
        return Some(Software::new("Windows", version.map(str::to_owned)));
    }
    for marker in ["iPhone OS ", "CPU OS "] {
        if let Some(start) = ua.find(marker) {
            let version = numeric_version(&ua[start + marker.len()..], &['_', '.'], 3);
            return Some(Software::new("iOS", Some(version)));
        }
    }
    if let Some(start) = ua.find("Android") {
        let rest = ua[start + "Android".len()..].trim_start();
        return Some(Software::new(
            "Android",
            Some(numeric_version(rest, &['.'], 3)),
        ));
    }
    if let Some(start) = ua.find("Mac OS X") {
        let rest = ua[start + "Mac OS X".len()..].trim_start();
        return Some(Software::new(
            "Mac OS X",
            Some(numeric_version(rest, &['_', '.'], 3)),
        ));
    }
    if ua.contains("CrOS") {
        return Some(Software::new("Chrome OS", None));
    }
    if ua.contains("Linux") || ua.contains("X11") {
        return Some(Software::new("Linux", None));
    }
    None
}

fn device(ua: &str) -> Option<String> {
    ["iPhone", "iPad", "iPod"]
        .into_iter()
        .find(|d| ua.contains(d))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sw(name: &str, version: Option<&str>) -> Option<Software> {
        Some(Software::new(name, version.map(str::to_owned)))
    }

    #[test]
    fn headless_chrome_on_linux() {
        let info = parse(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36",
        );
        assert_eq!(info.browser, sw("Chrome", Some("156.0.0")));
        assert_eq!(info.os, sw("Linux", None));
        assert_eq!(info.device, None);
    }

    #[test]
    fn common_desktop_browsers() {
        let edge = parse("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91");
        assert_eq!(edge.browser, sw("Edge", Some("120.0.2210")));
        assert_eq!(edge.os, sw("Windows", Some("10")));
        let firefox = parse("Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0");
        assert_eq!(firefox.browser, sw("Firefox", Some("130.0")));
        let safari = parse("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15");
        assert_eq!(safari.browser, sw("Safari", Some("17.1")));
        assert_eq!(safari.os, sw("Mac OS X", Some("10.15.7")));
    }

    #[test]
    fn mobile_browsers() {
        let iphone = parse("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1");
        assert_eq!(iphone.browser, sw("Mobile Safari", Some("17.1")));
        assert_eq!(iphone.os, sw("iOS", Some("17.1.2")));
        assert_eq!(iphone.device.as_deref(), Some("iPhone"));
        let android = parse("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.6045.163 Mobile Safari/537.36");
        assert_eq!(android.browser, sw("Chrome Mobile", Some("119.0.6045")));
        assert_eq!(android.os, sw("Android", Some("14")));
    }

    #[test]
    fn unknown_agents_say_nothing() {
        assert_eq!(parse("sentry.python/2.75.0"), AgentInfo::default());
        assert_eq!(parse("curl/8.4.0").browser, None);
        assert_eq!(parse(""), AgentInfo::default());
    }
}
