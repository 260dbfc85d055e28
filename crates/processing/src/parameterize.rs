//! Message parameterization: replacing the variable parts of a message with placeholders.
//!
//! Two occurrences of one bug differ in ids, numbers, addresses and times
//! (`Inventory below threshold for sku 8812` / `… sku 9921`). Sentry groups them by replacing
//! such parts with `<int>`, `<uuid>`, `<email>`, … before hashing a message or an exception
//! value that has no stack trace. The patterns, their order and their names are Sentry's
//! (`DEFAULT_PARAMETERIZATION_REGEXES` in `sentry/grouping/parameterization.py`): they are
//! combined into one alternation, and at each position the first pattern that matches wins, so
//! an e-mail is not also seen as a hostname and `12345678` is `<hex>`, not `<int>`.
//!
//! The regexes need look-around (Python's `re` has it, `regex` does not), hence `fancy-regex`,
//! whose backtracking also gives Python's first-alternative-wins semantics.

use std::borrow::Cow;
use std::sync::LazyLock;

use fancy_regex::{Captures, Regex};

const MONTH: &str = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
const DAY: &str = "(?:Sun|Mon|Tue|Wed|Thu|Fri|Sat)";
const ZONE: &str = r"(?:UT|GMT|(?:E|C|M|P)(?:ST|DT)|[A-IK-Z])";
const IPV4: &str =
    r"((25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])\.){3,3}(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])";
const H4: &str = "[0-9a-fA-F]{1,4}";

/// The most common top-level domains, as Sentry lists them, in upper and lower case.
const TLDS: &str = "COM|NET|ORG|JP|DE|UK|FR|BR|IT|RU|ES|ME|GOV|PL|CA|AU|CN|CO|IN|NL|EDU|INFO|EU|CH|ID|AT|KR|CZ|MX|BE|TV|SE|TR|TW|AL|UA|IR|VN|CL|SK|LY|CC|TO|NO|FI|US|PT|DK|AR|HU|TK|GR|IL|NEWS|RO|MY|BIZ|IE|ZA|NZ|SG|EE|TH|IO|XYZ|PE|BG|HK|RS|LT|LINK|PH|CLUB|SI|SITE|MOBI|BY|CAT|WIKI|LA|GA|XXX|CF|HR|NG|JOBS|ONLINE|KZ|UG|GQ|AE|IS|LV|PRO|FM|TIPS|MS|SA|APP";

/// `(name, pattern, lookbehind)` in Sentry's order; the lookbehind sits outside the named group
/// so that only the value after `=` is replaced.
fn patterns() -> Vec<(&'static str, String, Option<&'static str>)> {
    let ipv6 = [
        format!("({H4}:){{7,7}}{H4}"),
        format!("({H4}:){{1,7}}:"),
        format!("({H4}:){{1,6}}:{H4}"),
        format!("({H4}:){{1,5}}(:{H4}){{1,2}}"),
        format!("({H4}:){{1,4}}(:{H4}){{1,3}}"),
        format!("({H4}:){{1,3}}(:{H4}){{1,4}}"),
        format!("({H4}:){{1,2}}(:{H4}){{1,5}}"),
        format!("{H4}:((:{H4}){{1,6}})"),
        format!(":((:{H4}){{1,7}}|:)"),
        "fe80:(:[0-9a-fA-F]{0,4}){0,4}%[0-9a-zA-Z]{1,}".to_owned(),
        format!("::(ffff(:0{{1,4}}){{0,1}}:){{0,1}}{IPV4}"),
        format!(r"({H4}:){{1,4}}:{IPV4}\b"),
    ]
    .join("|");
    let dt = r"\d{4}-?[01]\d-?[0-3]\d[\sT][0-2]\d:?[0-5]\d";
    let offset = r"([+-][0-2]\d:?[0-5]\d|Z)";
    let date = [
        // RFC822, RFC1123, RFC1123Z
        format!(r"({DAY},\s\d{{1,2}}\s{MONTH}\s\d{{2,4}}\s\d{{1,2}}:\d{{1,2}}(:\d{{1,2}})?\s([-\+][\d]{{2}}[0-5][\d]|{ZONE}))"),
        // "Mon Jan 02, 1999", "Jan 02, 1999"
        format!(r"(({DAY}\s)?{MONTH}\s[0-3]\d,\s\d{{2,4}})"),
        // RFC850
        format!(r"((?:Sun|Sunday|Mon|Monday|Tue|Tuesday|Wed|Wednesday|Thu|Thursday|Fri|Friday|Sat|Saturday),\s\d{{2}}-{MONTH}-\d{{2}}\s\d{{2}}:\d{{2}}:\d{{2}}\s{ZONE})"),
        // RFC3339, RFC3339Nano
        r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?([+-]?\d{2}:\d{2})?)".to_owned(),
        // JavaScript's Date.toString()
        format!(r"({DAY}\s{MONTH}\s\d{{2}}\s\d{{4}}\s\d{{2}}:\d{{2}}:\d{{2}}\sGMT[+-]\d{{4}}(?:\s\([^)]+\))?)"),
        // datetime with a zone offset, before plain datetimes so the offset is not an <int>
        format!(r"(({dt}:?[0-5]\d\.\d+{offset})|({dt}:?[0-5]\d{offset})|({dt}{offset}))"),
        // datetime
        format!(r"(({dt}:?[0-5]\d\.\d+)|({dt}:?[0-5]\d)|({dt}))"),
        // kitchen clock, 12 hours
        r"((?<!\d)([1-9]|1[0-2]):[0-5]\d(:[0-5]\d)?(?![\d:])(?:\s?[aApP][Mm])?)".to_owned(),
        // kitchen clock, 24 hours
        r"((?<!\d)(0?\d|1\d|2[0-3]):[0-5]\d(:[0-5]\d)?(?![\d:]))".to_owned(),
        // date
        r"(\d{4}-[01]\d-[0-3]\d)".to_owned(),
        // time
        r"([0-2]\d:[0-5]\d:[0-5]\d)".to_owned(),
        // older formats Sentry still keeps
        r"(\b(?:(Sun|Mon|Tue|Wed|Thu|Fri|Sat)\s+)?(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+([\d]{1,2})\s+([\d]{2}:[\d]{2}:[\d]{2})\s+[\d]{4})".to_owned(),
        format!(r"(\b(?:(Sun|Mon|Tue|Wed|Thu|Fri|Sat),\s+)?(0[1-9]|[1-2]?[\d]|3[01])\s+(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+(19[\d]{{2}}|[2-9][\d]{{3}})\s+(2[0-3]|[0-1][\d]):([0-5][\d])(?::(60|[0-5][\d]))?\s+([-\+][\d]{{2}}[0-5][\d]|{ZONE}))"),
        r"(datetime.datetime\(.*?\))".to_owned(),
    ]
    .join("|");
    let lower_tlds = TLDS.to_lowercase();
    vec![
        ("email", r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*".to_owned(), None),
        ("url", r"\b(wss?|https?|ftp)://[^\s/$.?#].[^\s]*".to_owned(), None),
        ("hostname", format!(r"\b([a-zA-Z0-9\-]{{1,63}}\.)+?(({TLDS})|({lower_tlds}))\b"), None),
        ("ip", format!(r"(?<![0-9a-zA-Z_])({ipv6})(?![0-9a-zA-Z])|(\b{IPV4}\b)"), None),
        ("traceparent", r"(\b00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]\b)|(\b1-[0-9a-f]{8}-[0-9a-f]{24}\b)".to_owned(), None),
        ("uuid", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b".to_owned(), None),
        ("sha1", r"\b[0-9a-fA-F]{40}\b".to_owned(), None),
        ("md5", r"\b[0-9a-fA-F]{32}\b".to_owned(), None),
        ("date", date, None),
        ("duration", r"\b(\d+ms)|(\d+(\.\d+)?s)\b".to_owned(), None),
        ("swift_txn_id", r"(\btx[0-9a-f]{21}-[0-9a-f]{10}\S*)".to_owned(), None),
        (
            "hex",
            r"(\b0[xX][0-9a-fA-F]+\b)|(\b(?=[a-f]*[0-9])[0-9a-f]{8,128}\b)|(\b(?=[A-F]*[0-9])[0-9A-F]{8,128}\b)".to_owned(),
            None,
        ),
        ("git_sha", r"(\b(?=[a-f]*[0-9])(?=[0-9]*[a-f])[0-9a-f]{7}\b)".to_owned(), None),
        ("float", r"-\d+\.\d+\b|\b\d+\.\d+\b".to_owned(), None),
        ("int", r"(\b|(?<!\w)-)\d{1,7}\b".to_owned(), None),
        ("quoted_str", r#"'([^']+)'|"([^"]+)""#.to_owned(), Some("=")),
        ("bool", "True|true|False|false".to_owned(), Some("=")),
    ]
}

/// The placeholder names, in the order their groups appear in [`COMBINED`].
static NAMES: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| patterns().into_iter().map(|(n, _, _)| n).collect());

/// All patterns as one alternation of named groups.
static COMBINED: LazyLock<Regex> = LazyLock::new(|| {
    let alternatives: Vec<String> = patterns()
        .into_iter()
        .map(|(name, pattern, lookbehind)| {
            let prefix = lookbehind.map(|l| format!("(?<={l})")).unwrap_or_default();
            format!("{prefix}(?P<{name}>{pattern})")
        })
        .collect();
    Regex::new(&alternatives.join("|"))
        .expect("the built-in parameterization patterns are valid regexes")
});

/// Replaces the variable parts of `s` with `<int>`, `<uuid>`, `<email>`, … placeholders the
/// way Sentry does; returns `s` unchanged (borrowed) when nothing matched.
pub fn parameterize(s: &str) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    let mut last = 0;
    for caps in COMBINED.captures_iter(s) {
        // A backtracking limit hit on pathological input: keep the rest of the text as it is.
        let Ok(caps) = caps else { break };
        let Some((name, range)) = matched_group(&caps) else {
            continue;
        };
        let buf = out.get_or_insert_with(|| String::with_capacity(s.len()));
        buf.push_str(&s[last..range.start]);
        buf.push('<');
        buf.push_str(name);
        buf.push('>');
        last = range.end;
    }
    match out {
        Some(mut buf) => {
            buf.push_str(&s[last..]);
            Cow::Owned(buf)
        }
        None => Cow::Borrowed(s),
    }
}

/// The named group that matched, and where.
fn matched_group(caps: &Captures<'_, str>) -> Option<(&'static str, std::ops::Range<usize>)> {
    NAMES.iter().find_map(|name| {
        caps.name(name)
            .filter(|m| !m.as_str().is_empty())
            .map(|m| (*name, m.range()))
    })
}

#[cfg(test)]
mod tests {
    use super::parameterize;

    fn p(s: &str) -> String {
        parameterize(s).into_owned()
    }

    #[test]
    fn numbers() {
        assert_eq!(
            p("testing testing 1, 2, 3"),
            "testing testing <int>, <int>, <int>"
        );
        assert_eq!(p("sku 8812 below -5"), "sku <int> below <int>");
        assert_eq!(p("took 1.5 units"), "took <float> units");
        assert_eq!(p("id 12345678"), "id <hex>");
        assert_eq!(p("a-5"), "a-<int>");
    }

    #[test]
    fn unchanged_text_is_borrowed() {
        assert!(matches!(
            parameterize("division by zero"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn identifiers() {
        assert_eq!(
            p("user 4f9cc6a8-1eb3-4e9f-9174-f281b9dc1111 gone"),
            "user <uuid> gone"
        );
        assert_eq!(p("blob d41d8cd98f00b204e9800998ecf8427e"), "blob <md5>");
        assert_eq!(p("at 0x7fff5bf3456c"), "at <hex>");
        assert_eq!(p("commit abc1234 broke"), "commit <git_sha> broke");
    }

    #[test]
    fn network() {
        assert_eq!(p("mail sam@example.com now"), "mail <email> now");
        assert_eq!(
            p("GET https://example.com/x?y=1 failed"),
            "GET <url> failed"
        );
        assert_eq!(p("host api.example.com down"), "host <hostname> down");
        assert_eq!(p("from 10.0.0.1 and ::1"), "from <ip> and <ip>");
        assert_eq!(p("Foo::bar() failed"), "Foo::bar() failed");
    }

    #[test]
    fn dates_and_durations() {
        assert_eq!(p("at 2024-01-02T03:04:05Z"), "at <date>");
        assert_eq!(p("at 2024-01-02 03:04:05.123"), "at <date>");
        assert_eq!(p("at 12:30 pm"), "at <date>");
        assert_eq!(p("timed out after 30s"), "timed out after <duration>");
        assert_eq!(p("took 250ms"), "took <duration>");
    }

    #[test]
    fn key_value_pairs_keep_the_key() {
        assert_eq!(p("user='bob' ok=true"), "user=<quoted_str> ok=<bool>");
        assert_eq!(p("said 'bob' true"), "said 'bob' true");
    }

    #[test]
    fn chunk_load_error() {
        assert_eq!(
            p("Loading chunk 158 failed.\n(timeout: https://s1.sentry-cdn.com/_static/34f8/sentry/dist/x.js)"),
            "Loading chunk <int> failed.\n(timeout: <url>"
        );
    }
}
