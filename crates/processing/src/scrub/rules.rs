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
    pub may_match: fn(&Profile, &str) -> bool,
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
lazy_regex!(TOKEN_KEY, r"(?i)(token)");
lazy_regex!(IMEI, r"(?x)\b(\d{2}-?\d{6}-?\d{6}-?\d{1,2})\b");
lazy_regex!(MAC, r"(?x)\b([[:xdigit:]]{2}[:-]){5}[[:xdigit:]]{2}\b");
lazy_regex!(
    UUID,
    r"(?ix)\b[a-z0-9]{8}-?[a-z0-9]{4}-?[a-z0-9]{4}-?[a-z0-9]{4}-?[a-z0-9]{12}\b"
);
lazy_regex!(
    URLAUTH,
    r"(?x)\b(?:(?:[a-z0-9+-]+:)?//([a-zA-Z0-9%_.-]+(?::[a-zA-Z0-9%_.-]+)?))@"
);
lazy_regex!(
    USERPATH,
    r"(?ix)(?:(?:\b(?:[a-zA-Z]:[\\/])?(?:users|home|documentsandsettings|[^/\\]+[/\\]profiles)[\\/])|(?:/(?:home|users)/))([^/\\\r\n\x00]+)"
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

/// What the prefilters look at, taken in one pass over a string's bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Profile {
    digits: usize,
    /// The `CLASS` bits of all bytes.
    classes: u8,
    /// Contains `//`.
    slashes: bool,
    /// Contains a three-letter beginning of a password-like word (see [`is_password_like`]).
    pub password: bool,
    /// Contains `bearer` in any case.
    bearer: bool,
}

const DIGIT: u8 = 1;
const DASH: u8 = 2;
const AT: u8 = 4;
const COLON: u8 = 8;
const DOT: u8 = 16;
const SLASH: u8 = 32;
/// `b` or `B` (bearer).
const B: u8 = 64;
/// The first letter of a password-like word's beginning (`PASSWORD_TRIGRAMS`), any case.
const TRIGRAM_START: u8 = 128;

/// The class bits of each byte.
static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut c = b'0';
    while c <= b'9' {
        table[c as usize] = DIGIT;
        c += 1;
    }
    table[b'-' as usize] = DASH;
    table[b'@' as usize] = AT;
    table[b':' as usize] = COLON;
    table[b'.' as usize] = DOT;
    table[b'/' as usize] = SLASH;
    table[b'b' as usize] = B;
    table[b'B' as usize] = B;
    let starts = b"psacmto";
    let mut i = 0;
    while i < starts.len() {
        table[starts[i] as usize] |= TRIGRAM_START;
        table[starts[i].to_ascii_uppercase() as usize] |= TRIGRAM_START;
        i += 1;
    }
    table
};

impl Profile {
    pub fn of(s: &str) -> Profile {
        let bytes = s.as_bytes();
        let mut p = Profile::default();
        for (i, &c) in bytes.iter().enumerate() {
            let class = CLASS[c as usize];
            if class == 0 {
                continue;
            }
            p.classes |= class;
            if class & DIGIT != 0 {
                p.digits += 1;
            } else if class & B != 0 {
                p.bearer |= bytes
                    .get(i + 1..i + 6)
                    .is_some_and(|w| w.eq_ignore_ascii_case(b"earer"));
            } else if class & SLASH != 0 {
                p.slashes |= i > 0 && bytes[i - 1] == b'/';
            } else if class & TRIGRAM_START != 0 && !p.password {
                p.password = password_trigram_at(bytes, i);
            }
        }
        p
    }

    fn has(&self, class: u8) -> bool {
        self.classes & class != 0
    }

    /// No value rule's prefilter can pass: every one needs a digit, `-`, `@`, `:` or
    /// `bearer` (most short strings have none).
    pub fn inert(&self) -> bool {
        !self.has(DIGIT | DASH | AT | COLON) && !self.bearer
    }
}

/// Whether a password-like word begins at `i`: every alternative of `PASSWORD` contains one of
/// these (in any case), so a string without one cannot match.
#[inline]
fn password_trigram_at(bytes: &[u8], i: usize) -> bool {
    let Some(w) = bytes.get(i..i + 3) else {
        return false;
    };
    // `| 0x20` lowercases ASCII letters (and may turn other bytes into letters, which only
    // lets more strings through to the regex).
    matches!(
        [w[0] | 0x20, w[1] | 0x20, w[2] | 0x20],
        [b'p', b'a', b's']
            | [b's', b'e', b'c']
            | [b'a', b'p', b'i']
            | [b'a', b'u', b't']
            | [b'c', b'r', b'e']
            | [b'm', b'y', b's']
            | [b'p', b'r', b'i']
            | [b't', b'o', b'k']
            | [b'o', b't', b'p']
            | [b't', b'w', b'o']
    )
}

/// Credit cards have at least 15 digits, and the first one is a 3, 4, 5 or 6 at a word's
/// start. The second test runs only on the few strings with 15 digits, so that long numbers
/// (thread ids, timestamps in span data) skip the regex without every string paying for it.
fn may_be_creditcard(p: &Profile, s: &str) -> bool {
    p.digits >= 15 && has_card_start(s.as_bytes())
}

/// Whether an ASCII `3`–`6` follows something that is no word character (or nothing): where
/// the card regex's `\b(3[47]|4|5[1-5]|65|6011)` can begin. A non-ASCII byte before it may end
/// a Unicode letter or not; it counts as a possible start.
fn has_card_start(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().any(|(i, &c)| {
        (b'3'..=b'6').contains(&c)
            && (i == 0 || {
                let prev = bytes[i - 1];
                !(prev.is_ascii_alphanumeric() || prev == b'_')
            })
    })
}
/// An IBAN is two capital letters, two digits and at least 11 alphanumerics.
fn may_be_iban(p: &Profile, s: &str) -> bool {
    p.digits >= 2 && s.len() >= 15 && has_iban_start(s.as_bytes())
}

/// Two capital letters and two digits in a row (looked for only in strings long enough and
/// with digits, not by [`Profile::of`] on every string).
fn has_iban_start(bytes: &[u8]) -> bool {
    bytes.windows(4).any(|w| {
        w[0].is_ascii_uppercase()
            && w[1].is_ascii_uppercase()
            && w[2].is_ascii_digit()
            && w[3].is_ascii_digit()
    })
}
fn may_be_pemkey(p: &Profile, s: &str) -> bool {
    p.has(DASH) && s.contains("-----BEGIN")
}
fn may_be_urlauth(p: &Profile, _: &str) -> bool {
    p.slashes && p.has(AT)
}
fn may_be_bearer(p: &Profile, _: &str) -> bool {
    p.bearer
}
fn may_be_usssn(p: &Profile, _: &str) -> bool {
    p.has(DASH) && p.digits >= 9
}
fn may_be_email(p: &Profile, _: &str) -> bool {
    p.has(AT)
}
fn may_be_ipv4(p: &Profile, _: &str) -> bool {
    p.has(DOT) && p.digits >= 4
}
fn may_be_ipv6(p: &Profile, _: &str) -> bool {
    p.has(COLON)
}

// Relay applies the rules of one application in the order of their ids (it collects them in
// an ordered set, `@common:filter` expanded into its members), not in the order the
// configuration lists them: `@bearer:filter` < `@creditcard:filter` < `@iban:filter` <
// `@ip:replace` < `@password:filter` < `@pemkey:filter` < `@urlauth:legacy` < `@usssn:filter`
// < `strip-fields`. The order matters where one rule's redaction hides another's match.

/// `@bearer:filter`, `@creditcard:filter`, `@iban:filter`: the `@common:filter` value rules
/// before `@ip:replace`.
pub static COMMON_BEFORE_IP: [ValueRule; 3] = [
    ValueRule {
        id: "@bearer:filter",
        regex: &BEARER,
        replace: Replace::Group(0),
        text: FILTERED,
        may_match: may_be_bearer,
    },
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
];

/// `@pemkey:filter`, `@urlauth:legacy`, `@usssn:filter`: the `@common:filter` value rules after
/// `@password:filter`.
pub static COMMON_AFTER_PASSWORD: [ValueRule; 3] = [
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
        id: "@usssn:filter",
        regex: &USSSN,
        replace: Replace::Group(0),
        text: FILTERED,
        may_match: may_be_usssn,
    },
];

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
/// bearer tokens, cards, e-mails, IBANs and SSNs (in the order of their ids).
pub static LOGENTRY_FORMATTED: [ValueRule; 5] = [
    ValueRule {
        id: "@bearer:replace",
        regex: &BEARER,
        replace: Replace::Group(0),
        text: "Bearer [token]",
        may_match: may_be_bearer,
    },
    ValueRule {
        id: "@creditcard:replace",
        regex: &CREDITCARD,
        replace: Replace::Group(0),
        text: "[creditcard]",
        may_match: may_be_creditcard,
    },
    ValueRule {
        id: "@email:replace",
        regex: &EMAIL,
        replace: Replace::Group(0),
        text: "[email]",
        may_match: may_be_email,
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
];

/// The id of the sensitive-fields rule Relay's conversion generates.
pub const STRIP_FIELDS_ID: &str = "strip-fields";
/// The default cookie rule (`*.cookies.<name>`).
pub const ANYTHING_FILTER_ID: &str = "@anything:filter";
/// The IP fields' removal.
pub const ANYTHING_REMOVE_ID: &str = "@anything:remove";

/// Whether `PASSWORD` matches: a cheap necessary condition first (see
/// [`password_trigram_at`]), which most strings fail.
pub fn is_password_like(s: &str) -> bool {
    let bytes = s.as_bytes();
    (0..bytes.len()).any(|i| is_trigram_start(bytes[i]) && password_trigram_at(bytes, i))
        && PASSWORD.is_match(s)
}

#[inline(always)]
fn is_trigram_start(c: u8) -> bool {
    CLASS[c as usize] & TRIGRAM_START != 0
}

/// Whether a key alone makes `@password:filter` redact its value: it contains `token` or is
/// password-like. One scan for both (`token` begins with a password trigram).
pub fn is_password_or_token_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    let mut trigram = false;
    for i in 0..bytes.len() {
        if is_trigram_start(bytes[i]) && password_trigram_at(bytes, i) {
            if bytes
                .get(i..i + 5)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"token"))
            {
                return true;
            }
            trigram = true;
        }
    }
    trigram && PASSWORD.is_match(key)
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

/// A sensitive cookie's `name=value` anywhere in a text (group 2: the value), as the `cookies`
/// rule type finds them.
pub static COOKIE_VALUES: LazyLock<Regex> = LazyLock::new(|| {
    let names: Vec<String> = SENSITIVE_COOKIES.iter().map(|c| regex::escape(c)).collect();
    Regex::new(&format!(r"(?i)\b({})=([^;]+)", names.join("|"))).expect("built-in scrubbing regex")
});

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
    // Both keys start with `http.`: most keys fail on their first byte.
    key.as_bytes().first().is_some_and(|c| c | 0x20 == b'h')
        && COOKIE_HEADER_KEYS
            .iter()
            .any(|k| k.eq_ignore_ascii_case(key))
}

/// Whether `key` is a single cookie of a cookie header (`http.request.header.cookie.<name>`)
/// that Relay filters by name.
pub fn is_sensitive_cookie_header_key(key: &str) -> bool {
    key.as_bytes().first().is_some_and(|c| c | 0x20 == b'h')
        && COOKIE_HEADER_KEYS.iter().any(|k| {
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
            assert!(may_be_creditcard(&Profile::of(card), card), "{card}");
        }
        assert!(!CREDITCARD.is_match("1234567890123456"));
        // The prefilter lets through every card start, and keeps long numbers that start
        // otherwise (or mid-word) off the regex.
        for s in [
            "140414685234880",
            "id_4111111111111111",
            "x4111111111111111",
        ] {
            assert!(!CREDITCARD.is_match(s), "{s}");
            assert!(!may_be_creditcard(&Profile::of(s), s), "{s}");
        }
        for s in [
            "x 4111111111111111",
            "(5555555555554444)",
            "é4111111111111111",
        ] {
            assert!(may_be_creditcard(&Profile::of(s), s), "{s}");
        }
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
            assert!(is_password_like(key), "{key}");
        }
        for key in ["pw", "otp2", "tok", "token", "name", "", "ab"] {
            assert!(!is_password_like(key), "{key}");
        }
        for key in ["csrftoken", "X-TOKEN", "password", "x_api_key", "otp"] {
            assert!(is_password_or_token_key(key), "{key}");
        }
        for key in ["tok", "name", "", "thread.id", "db.system", "otp2"] {
            assert!(!is_password_or_token_key(key), "{key}");
        }
    }

    #[test]
    fn profile() {
        let p = Profile::of("see https://u@h/ 12-3 password");
        assert!(p.password && p.slashes && p.has(AT) && p.has(DASH) && !p.has(B));
        assert!(Profile::of("x BeArEr y").bearer && !Profile::of("bearing").bearer);
        assert!(has_iban_start(b"DE89370400440532013000"));
        assert!(!has_iban_start(b"De89370400440532013000"));
        assert_eq!(p.digits, 3);
        assert!(!Profile::of("nothing here").password);
        assert!(Profile::of("x APIKEY").password);
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
