//! Relay's built-in rules that Sentry's data scrubbing settings use: their regexes, what each
//! replaces (the whole value, the match, one group) and with what, and the rule ids `_meta`
//! names them by. Regexes compile once; cheap byte prefilters keep them off most strings.

use std::sync::LazyLock;

use regex::Regex;

/// `[Filtered]`, what the `:filter` rules write.
pub const FILTERED: &str = "[Filtered]";

/// What a rule replaces once its regex matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replace {
    /// This capture group of every match (0: the whole match).
    Group(usize),
}

/// A value rule: a regex over the value, and its redaction.
pub struct ValueRule {
    /// The rule id `_meta` remarks name.
    pub id: &'static str,
    pub regex: &'static LazyLock<Regex>,
    pub replace: Replace,
    /// The substitution text.
    pub text: &'static str,
    /// Cheap test that is false only when the regex cannot match.
    pub may_match: fn(&str) -> bool,
}

macro_rules! lazy_regex {
    ($name:ident, $re:expr) => {
        pub static $name: LazyLock<Regex> =
            LazyLock::new(|| Regex::new($re).expect("built-in scrubbing regex"));
    };
}

const V4_SEG: &str = "(25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)";

lazy_regex!(
    CREDITCARD,
    r"(?x)\b((?:3[47]\d|4\d{3}|5[1-5]\d\d|65\d\d|6011)([-\s]?\d){12})\b"
);
lazy_regex!(
    IBAN,
    r"(?x)\b(AT|AD|AE|AL|AZ|BA|BE|BG|BH|BR|BY|CH|CR|CY|CZ|DE|DK|DO|EE|EG|ES|FI|FO|FR|GB|GE|GI|GL|GR|GT|HR|HU|IE|IL|IQ|IS|IT|JO|KW|KZ|LB|LC|LI|LT|LU|LV|LY|MC|MD|ME|MK|MR|MT|MU|NL|NO|PK|PL|PS|PT|QA|RO|RU|RS|SA|SC|SE|SI|SK|SM|ST|SV|TL|TN|TR|UA|VA|VG|XK|DZ|AO|BJ|BF|BI|CV|CM|CF|TD|KM|CG|CI|DJ|GQ|GA|GW|HN|IR|MG|ML|MA|MZ|NI|NE|SN|TG)\d{2}[a-zA-Z0-9]{11,29}\b"
);
lazy_regex!(
    PEMKEY,
    r"(?sx)(?:-----BEGIN[A-Z\ ]+(?:PRIVATE|PUBLIC)\ KEY-----[\t\ ]*\r?\n?)(.+?)(?:\r?\n?-----END[A-Z\ ]+(?:PRIVATE|PUBLIC)\ KEY-----)"
);
lazy_regex!(
    URLAUTH_LEGACY,
    r"\b((?:[a-z0-9]+:)?//[a-zA-Z0-9%_.-]+:)([a-zA-Z0-9%_.-]+)@"
);
lazy_regex!(USSSN, r"\b([0-9]{3}-[0-9]{2}-[0-9]{4})\b");
lazy_regex!(BEARER, r"(?i)\b(Bearer\s+)([^\s]+)");
lazy_regex!(
    EMAIL,
    r"(?x)\b[a-zA-Z0-9.!\#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*\.[a-zA-Z]{2,}\b"
);
// `@anything`: `.` stops at line ends, so a multi-line value is redacted line by line.
lazy_regex!(ANYTHING, ".*");
lazy_regex!(
    PASSWORD,
    r"(?i)(password|secret|passwd|api[-_]key|apikey|auth|credentials|mysql_pwd|privatekey|private[-_]key|token[^\s]*[:=]|^otp$|^two[-_]factor$)"
);
pub static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    let v4 = format!(r"{V4_SEG}\.{V4_SEG}\.{V4_SEG}\.{V4_SEG}");
    Regex::new(&format!(r"\b{v4}\b")).expect("built-in scrubbing regex")
});
pub static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    let s = "[0-9a-fA-F]{1,4}";
    let v4 = format!(r"{V4_SEG}\.{V4_SEG}\.{V4_SEG}\.{V4_SEG}");
    let alternatives = [
        format!("({s}:){{7}}{s}"),
        format!("({s}:){{1,7}}:"),
        format!("({s}:){{1,6}}::{s}"),
        format!("({s}:){{1,5}}:(:{s}){{1,2}}"),
        format!("({s}:){{1,4}}:(:{s}){{1,3}}"),
        format!("({s}:){{1,3}}:(:{s}){{1,4}}"),
        format!("({s}:){{1,2}}:(:{s}){{1,5}}"),
        format!("{s}:((:{s}){{1,6}})"),
        format!(":((:{s}){{1,7}}|:)"),
        // Relay's alternation runs these two together (no `|` between them); kept as is.
        format!("fe80:(:{s}){{0,4}}%[0-9a-zA-Z]{{1,}}::(ffff(:0{{1,4}}){{0,1}}:){{0,1}}{v4}"),
        format!("({s}:){{1,4}}:{v4}"),
    ];
    Regex::new(&format!(
        r"(?i)(?:[\s]|[[:punct:]]|^)({})([\s]|[[:punct:]]|$)",
        alternatives.join("|")
    ))
    .expect("built-in scrubbing regex")
});

fn digit_count(s: &str) -> usize {
    s.bytes().filter(u8::is_ascii_digit).count()
}

fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    let n = needle.as_bytes();
    haystack
        .as_bytes()
        .windows(n.len())
        .any(|w| w.eq_ignore_ascii_case(n))
}

/// Credit cards have at least 15 digits.
fn may_be_creditcard(s: &str) -> bool {
    s.len() >= 15 && digit_count(s) >= 15
}
/// An IBAN is two letters, then at least 13 alphanumerics, two of them digits.
fn may_be_iban(s: &str) -> bool {
    s.len() >= 15 && digit_count(s) >= 2
}
fn may_be_pemkey(s: &str) -> bool {
    s.contains("-----BEGIN")
}
fn may_be_urlauth(s: &str) -> bool {
    s.contains("//") && s.contains('@')
}
fn may_be_bearer(s: &str) -> bool {
    contains_ignore_ascii_case(s, "bearer")
}
fn may_be_usssn(s: &str) -> bool {
    s.contains('-') && digit_count(s) >= 9
}
fn may_be_email(s: &str) -> bool {
    s.contains('@')
}
fn may_be_ipv4(s: &str) -> bool {
    s.contains('.') && digit_count(s) >= 4
}
fn may_be_ipv6(s: &str) -> bool {
    s.contains(':')
}

/// `@creditcard:filter`, `@iban:filter`, `@pemkey:filter`, `@urlauth:legacy` and
/// `@bearer:filter`: the value rules of `@common:filter` before the password rule, in order.
pub static COMMON_BEFORE_PASSWORD: [ValueRule; 5] = [
    ValueRule {
        id: "@creditcard:filter",
        regex: &CREDITCARD,
        replace: Replace::Group(0),
        text: FILTERED,
        may_match: may_be_creditcard,
    },
    ValueRule {
        id: "@iban:filter",
        regex: &IBAN,
        replace: Replace::Group(0),
        text: FILTERED,
        may_match: may_be_iban,
    },
    ValueRule {
        id: "@pemkey:filter",
        regex: &PEMKEY,
        replace: Replace::Group(1),
        text: FILTERED,
        may_match: may_be_pemkey,
    },
    ValueRule {
        id: "@urlauth:legacy",
        regex: &URLAUTH_LEGACY,
        replace: Replace::Group(2),
        text: FILTERED,
        may_match: may_be_urlauth,
    },
    ValueRule {
        id: "@bearer:filter",
        regex: &BEARER,
        replace: Replace::Group(0),
        text: FILTERED,
        may_match: may_be_bearer,
    },
];

/// `@usssn:filter`, the last of `@common:filter`.
pub static USSSN_FILTER: ValueRule = ValueRule {
    id: "@usssn:filter",
    regex: &USSSN,
    replace: Replace::Group(0),
    text: FILTERED,
    may_match: may_be_usssn,
};

/// The rule id of `@common:filter`'s password rule (key `token`, key or value password-like).
pub const PASSWORD_ID: &str = "@password:filter";

/// `@ip:replace`.
pub static IP_REPLACE: [ValueRule; 2] = [
    ValueRule {
        id: "@ip:replace",
        regex: &IPV4,
        replace: Replace::Group(0),
        text: "[ip]",
        may_match: may_be_ipv4,
    },
    ValueRule {
        id: "@ip:replace",
        regex: &IPV6,
        replace: Replace::Group(1),
        text: "[ip]",
        may_match: may_be_ipv6,
    },
];

/// What `$logentry.formatted` gets instead of `@common:filter`: the `:replace` rules for
/// e-mails, cards, IBANs, SSNs and bearer tokens, in order.
pub static LOGENTRY_FORMATTED: [ValueRule; 5] = [
    ValueRule {
        id: "@email:replace",
        regex: &EMAIL,
        replace: Replace::Group(0),
        text: "[email]",
        may_match: may_be_email,
    },
    ValueRule {
        id: "@creditcard:replace",
        regex: &CREDITCARD,
        replace: Replace::Group(0),
        text: "[creditcard]",
        may_match: may_be_creditcard,
    },
    ValueRule {
        id: "@iban:replace",
        regex: &IBAN,
        replace: Replace::Group(0),
        text: "[iban]",
        may_match: may_be_iban,
    },
    ValueRule {
        id: "@usssn:replace",
        regex: &USSSN,
        replace: Replace::Group(0),
        text: "[us-ssn]",
        may_match: may_be_usssn,
    },
    ValueRule {
        id: "@bearer:replace",
        regex: &BEARER,
        replace: Replace::Group(0),
        text: "Bearer [token]",
        may_match: may_be_bearer,
    },
];

/// The id of the sensitive-fields rule Relay's conversion generates.
pub const STRIP_FIELDS_ID: &str = "strip-fields";
/// The default cookie rule (`*.cookies.<name>`).
pub const ANYTHING_FILTER_ID: &str = "@anything:filter";
/// The IP fields' removal.
pub const ANYTHING_REMOVE_ID: &str = "@anything:remove";

/// Whether a key names a password-like field (`@password:filter` matches on the key alone).
pub fn is_password_key(key: &str) -> bool {
    !key.is_empty() && PASSWORD.is_match(key)
}

/// Whether a key contains `token` (the password rule's key-only part).
pub fn is_token_key(key: &str) -> bool {
    contains_ignore_ascii_case(key, "token")
}

/// The session and CSRF cookies Relay's conversion filters by name (`*.cookies.<name>`).
pub const SENSITIVE_COOKIES: &[&str] = &[
    "sentrysid",
    "sudo",
    "su",
    "session",
    "__session",
    "sessionid",
    "user_session",
    "symfony",
    "phpsessid",
    "fasthttpsessionid",
    "mysession",
    "irissessionid",
    "_vercel_jwt",
    "csrf",
    "xsrf",
    "_xsrf",
    "_csrf",
    "csrf-token",
    "csrf_token",
    "xsrf-token",
    "xsrf_token",
    "fastcsrf",
    "_iris_csrf",
];

/// The rule that filters the values of sensitive cookies in a `Cookie` / `Set-Cookie` header
/// value (`name=value; …`).
pub const COOKIES_FILTER_ID: &str = "@cookies:filter";

/// The span data keys of the cookie headers (`*.'http.request.header.cookie'`, …).
pub const COOKIE_HEADER_KEYS: &[&str] = &[
    "http.request.header.cookie",
    "http.response.header.set-cookie",
];

/// Whether `key` is a cookie header's (span data) key.
pub fn is_cookie_header_key(key: &str) -> bool {
    COOKIE_HEADER_KEYS
        .iter()
        .any(|k| k.eq_ignore_ascii_case(key))
}

/// Whether `key` is a single cookie of a cookie header (`http.request.header.cookie.<name>`)
/// that Relay filters by name.
pub fn is_sensitive_cookie_header_key(key: &str) -> bool {
    COOKIE_HEADER_KEYS.iter().any(|k| {
        key.len() > k.len() + 1
            && key.is_char_boundary(k.len())
            && key[..k.len()].eq_ignore_ascii_case(k)
            && key.as_bytes()[k.len()] == b'.'
            && is_sensitive_cookie(&key[k.len() + 1..])
    })
}

/// The byte ranges of the sensitive cookies' values in a cookie header value: each `;`-separated
/// `name=value` (leading whitespace aside) whose name is sensitive and value not empty.
pub fn sensitive_cookie_values(header: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut start = 0;
    for part in header.split(';') {
        let trimmed = part.trim_start();
        let offset = start + (part.len() - trimmed.len());
        if let Some((name, value)) = trimmed.split_once('=') {
            if !value.is_empty() && is_sensitive_cookie(name) {
                let value_start = offset + name.len() + 1;
                ranges.push((value_start, value_start + value.len()));
            }
        }
        start += part.len() + 1;
    }
    ranges
}

pub fn is_sensitive_cookie(name: &str) -> bool {
    SENSITIVE_COOKIES
        .iter()
        .any(|c| c.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creditcards() {
        for card in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "378282246310005",
            "6011111111111117",
            "5555555555554444",
        ] {
            assert!(CREDITCARD.is_match(card), "{card}");
            assert!(may_be_creditcard(card), "{card}");
        }
        assert!(!CREDITCARD.is_match("1234567890123456"));
        assert!(!CREDITCARD.is_match("41111111111111112"));
    }

    #[test]
    fn ssn_iban_pem_urlauth() {
        assert!(USSSN.is_match("ssn 123-45-6789."));
        assert!(!USSSN.is_match("123-456-789"));
        assert!(IBAN.is_match("DE89370400440532013000"));
        assert!(!IBAN.is_match("XX89370400440532013000"));
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----";
        assert_eq!(&PEMKEY.captures(pem).unwrap()[1], "abc");
        let url = "http://user:pass@host/";
        assert_eq!(&URLAUTH_LEGACY.captures(url).unwrap()[2], "pass");
        assert!(!URLAUTH_LEGACY.is_match("http://user@host/"));
    }

    #[test]
    fn bearer_and_email() {
        assert_eq!(
            &BEARER.find("auth: bearer  abc.def x").unwrap().as_str(),
            &"bearer  abc.def"
        );
        assert!(EMAIL.is_match("mail a.b+c@example.co.uk now"));
        assert!(!EMAIL.is_match("a@b"));
    }

    #[test]
    fn password_and_token_keys() {
        for key in [
            "password",
            "X-Api-Key",
            "api_key",
            "Authorization",
            "secret_thing",
            "MYSQL_PWD",
            "otp",
            "two-factor",
            "token=",
            "credentials",
        ] {
            assert!(is_password_key(key), "{key}");
        }
        for key in ["pw", "otp2", "tok", "token", "name"] {
            assert!(!is_password_key(key), "{key}");
        }
        assert!(is_token_key("csrftoken") && is_token_key("X-TOKEN"));
        assert!(!is_token_key("tok"));
    }

    #[test]
    fn ips() {
        assert!(IPV4.is_match("from 10.1.2.3 on"));
        assert!(!IPV4.is_match("1.2.3"));
        // Relay's IPv6 pattern wants `a:b::c` as `b::c` after the `:` (no alternative takes
        // `a:b::c` whole), so `2001:` stays: Relay does the same.
        let caps = IPV6.captures("addr 2001:db8::1 x").unwrap();
        assert_eq!(&caps[1], "db8::1");
        let caps = IPV6.captures("addr ::1").unwrap();
        assert_eq!(&caps[1], "::1");
        assert!(!IPV6.is_match("12:30"));
    }

    #[test]
    fn cookie_header_values() {
        let header = "a=1; sessionid=x y ;csrf=; \tSU=v=w;theme=dark";
        let ranges: Vec<&str> = sensitive_cookie_values(header)
            .into_iter()
            .map(|(s, e)| &header[s..e])
            .collect();
        assert_eq!(ranges, ["x y ", "v=w"]);
        assert!(is_sensitive_cookie_header_key(
            "http.request.header.cookie.SessionID"
        ));
        assert!(!is_sensitive_cookie_header_key(
            "http.request.header.cookie.theme"
        ));
        assert!(is_cookie_header_key("HTTP.Response.Header.Set-Cookie"));
    }

    #[test]
    fn cookies() {
        assert!(is_sensitive_cookie("SessionId") && is_sensitive_cookie("csrf_token"));
        assert!(!is_sensitive_cookie("theme"));
    }
}
