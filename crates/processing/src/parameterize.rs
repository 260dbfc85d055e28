//! Message parameterization: replacing the variable parts of a message with placeholders.
//!
//! Two occurrences of one bug differ in ids, numbers, addresses and times
//! (`Inventory below threshold for sku 8812` / `… sku 9921`). Sentry groups them by replacing
//! such parts with `<int>`, `<uuid>`, `<email>`, … before hashing a message or an exception
//! value that has no stack trace. The patterns, their order and their names are Sentry's
//! (`DEFAULT_PARAMETERIZATION_REGEXES` in `sentry/grouping/parameterization.py`), and so is the
//! way they combine, as one alternation run by Python's backtracking `re`: scanning left to
//! right, the leftmost position where any pattern matches wins; there, the first pattern in
//! order wins (so an e-mail is not also seen as a hostname and `12345678` is `<hex>`, not
//! `<int>`); and a pattern's own alternatives and repetitions choose as backtracking does.
//!
//! This runs on every event's message and exception value, so it uses linear-time automata
//! (`regex-automata`, the engine under `regex`) instead of a backtracking engine. Two things
//! in Sentry's patterns are beyond those automata, and each is handled explicitly:
//!
//! - **Look-around.** Every look-behind sits at the start of a pattern (or of an alternative it
//!   is split into here), so it only tests the character before the match: two are written as
//!   `\b{start-half}`, the `=` before a quoted string is matched (and kept), and the others
//!   are [`Gate`]s checked on a candidate match. The look-aheads of `hex` and `git_sha` only
//!   say what the matched run contains ([`Check`]). The negative look-aheads after an IPv6
//!   address and a clock time are written as matching the next character (or the end of the
//!   text), which [`Tail`] then gives back. When a gate or a check rejects the leftmost match,
//!   the parts after it are tried at the same position, one by one, as backtracking would.
//! - **Unicode word boundaries.** Python's `\b` knows that `é` is a word character; a lazy DFA
//!   cannot decide that next to non-ASCII text and falls back to a much slower engine. On text
//!   without non-ASCII word characters (most messages) an ASCII `\b` means the same, and one
//!   DFA search finds each match. Otherwise a DFA search for a weaker assertion finds the
//!   candidate positions, and Unicode-aware searches of single parts, anchored there, decide.
//!
//! `tests/parameterize.rs` pins the output over a corpus of several hundred messages; it was
//! recorded from the previous implementation, which ran the patterns as written on the
//! backtracking `fancy-regex`.

use std::borrow::Cow;
use std::sync::{LazyLock, OnceLock};

use regex_automata::meta::{self, Regex};
use regex_automata::nfa::thompson::WhichCaptures;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};

const MONTH: &str = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
const DAY: &str = "(?:Sun|Mon|Tue|Wed|Thu|Fri|Sat)";
const ZONE: &str = r"(?:UT|GMT|(?:E|C|M|P)(?:ST|DT)|[A-IK-Z])";
const IPV4: &str =
    r"((25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])\.){3,3}(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])";
const H4: &str = "[0-9a-fA-F]{1,4}";

/// The most common top-level domains, as Sentry lists them, in upper and lower case.
const TLDS: &str = "COM|NET|ORG|JP|DE|UK|FR|BR|IT|RU|ES|ME|GOV|PL|CA|AU|CN|CO|IN|NL|EDU|INFO|EU|CH|ID|AT|KR|CZ|MX|BE|TV|SE|TR|TW|AL|UA|IR|VN|CL|SK|LY|CC|TO|NO|FI|US|PT|DK|AR|HU|TK|GR|IL|NEWS|RO|MY|BIZ|IE|ZA|NZ|SG|EE|TH|IO|XYZ|PE|BG|HK|RS|LT|LINK|PH|CLUB|SI|SITE|MOBI|BY|CAT|WIKI|LA|GA|XXX|CF|HR|NG|JOBS|ONLINE|KZ|UG|GQ|AE|IS|LV|PRO|FM|TIPS|MS|SA|APP";

/// Python's `\b` in a part's pattern; [`Flavor`] says what it becomes.
const B: &str = "{B}";
/// Python's `(?<!\w)`, i.e. `\b{start-half}`; [`Flavor`] says what it becomes.
const BS: &str = "{BS}";

/// A look-behind at the start of a part: a test of the character before the match.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gate {
    None,
    /// `(?<!\d)`, Unicode digits included.
    NotAfterDigit,
    /// `(?<==)`.
    AfterEquals,
}

/// Look-aheads at the start of a part that only say what the matched text contains.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    None,
    /// `(?=[a-f]*[0-9])` before a whole run of hex digits: the run has a decimal digit.
    HasDigit,
    /// `(?=[a-f]*[0-9])(?=[0-9]*[a-f])` before a run of seven: a decimal digit and a letter.
    HasDigitAndLetter,
}

/// How the end of the regex's match relates to the end of Sentry's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tail {
    Same,
    /// `(?![0-9a-zA-Z])` written as `(?:\b{end-half}|_)`: a trailing `_` was only looked at.
    Underscore,
    /// `(?![\d:])(?:\s?[aApP][Mm])?` written as `(?:\s?[aApP][Mm]|[^\d:]|\z)`: unless the match
    /// ends in a digit (at the end of the text) or in `am`/`pm`, its last character was only
    /// looked at.
    Clock12,
    /// `(?![\d:])` written as `(?:[^\d:]|\z)`: unless the match ends in a digit, its last
    /// character was only looked at.
    Clock24,
}

/// One alternative of Sentry's combined pattern, or a piece of one, in Sentry's order.
struct Part {
    /// The placeholder is `<name>`.
    name: &'static str,
    pattern: String,
    gate: Gate,
    check: Check,
    tail: Tail,
    /// How many bytes at the start of the match are kept (the `=` before a quoted string).
    keep: usize,
}

fn part(name: &'static str, pattern: String) -> Part {
    Part {
        name,
        pattern,
        gate: Gate::None,
        check: Check::None,
        tail: Tail::Same,
        keep: 0,
    }
}

fn parts() -> Vec<Part> {
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
        format!(r"({H4}:){{1,4}}:{IPV4}{B}"),
    ]
    .join("|");
    let dt = r"\d{4}-?[01]\d-?[0-3]\d[\sT][0-2]\d:?[0-5]\d";
    let offset = r"([+-][0-2]\d:?[0-5]\d|Z)";
    let dates = [
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
    ]
    .join("|");
    let more_dates = [
        // date
        r"(\d{4}-[01]\d-[0-3]\d)".to_owned(),
        // time
        r"([0-2]\d:[0-5]\d:[0-5]\d)".to_owned(),
        // older formats Sentry still keeps
        format!(r"({B}(?:(Sun|Mon|Tue|Wed|Thu|Fri|Sat)\s+)?(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+([\d]{{1,2}})\s+([\d]{{2}}:[\d]{{2}}:[\d]{{2}})\s+[\d]{{4}})"),
        format!(r"({B}(?:(Sun|Mon|Tue|Wed|Thu|Fri|Sat),\s+)?(0[1-9]|[1-2]?[\d]|3[01])\s+(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+(19[\d]{{2}}|[2-9][\d]{{3}})\s+(2[0-3]|[0-1][\d]):([0-5][\d])(?::(60|[0-5][\d]))?\s+([-\+][\d]{{2}}[0-5][\d]|{ZONE}))"),
        r"(datetime.datetime\(.*?\))".to_owned(),
    ]
    .join("|");
    let lower_tlds = TLDS.to_lowercase();
    vec![
        part(
            "email",
            r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*".to_owned(),
        ),
        part("url", format!(r"{B}(wss?|https?|ftp)://[^\s/$.?#].[^\s]*")),
        part(
            "hostname",
            format!(r"{B}([a-zA-Z0-9\-]{{1,63}}\.)+?(({TLDS})|({lower_tlds})){B}"),
        ),
        // `(?<![0-9a-zA-Z_])(ipv6)(?![0-9a-zA-Z])|(\bipv4\b)`, split in two. The look-behind is
        // exactly an ASCII `\b{start-half}`.
        Part {
            tail: Tail::Underscore,
            ..part(
                "ip",
                format!(r"(?-u:\b{{start-half}})(?:{ipv6})(?:(?-u:\b{{end-half}})|_)"),
            )
        },
        part("ip", format!("{B}{IPV4}{B}")),
        part(
            "traceparent",
            format!(
                r"({B}00-[0-9a-f]{{32}}-[0-9a-f]{{16}}-0[01]{B})|({B}1-[0-9a-f]{{8}}-[0-9a-f]{{24}}{B})"
            ),
        ),
        part(
            "uuid",
            format!(
                r"{B}[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}}{B}"
            ),
        ),
        part("sha1", format!(r"{B}[0-9a-fA-F]{{40}}{B}")),
        part("md5", format!(r"{B}[0-9a-fA-F]{{32}}{B}")),
        // Sentry's `date` is one alternation; it is split around the two clock formats.
        part("date", dates),
        // kitchen clock, 12 hours: `(?<!\d)([1-9]|1[0-2]):[0-5]\d(:[0-5]\d)?(?![\d:])(?:\s?[aApP][Mm])?`
        Part {
            gate: Gate::NotAfterDigit,
            tail: Tail::Clock12,
            ..part(
                "date",
                r"([1-9]|1[0-2]):[0-5]\d(:[0-5]\d)?(?:\s?[aApP][Mm]|[^\d:]|\z)".to_owned(),
            )
        },
        // kitchen clock, 24 hours: `(?<!\d)(0?\d|1\d|2[0-3]):[0-5]\d(:[0-5]\d)?(?![\d:])`
        Part {
            gate: Gate::NotAfterDigit,
            tail: Tail::Clock24,
            ..part(
                "date",
                r"(0?\d|1\d|2[0-3]):[0-5]\d(:[0-5]\d)?(?:[^\d:]|\z)".to_owned(),
            )
        },
        part("date", more_dates),
        part("duration", format!(r"{B}(\d+ms)|(\d+(\.\d+)?s){B}")),
        part(
            "swift_txn_id",
            format!(r"({B}tx[0-9a-f]{{21}}-[0-9a-f]{{10}}\S*)"),
        ),
        // `(\b0[xX][0-9a-fA-F]+\b)|(\b(?=[a-f]*[0-9])[0-9a-f]{8,128}\b)|(\b(?=[A-F]*[0-9])[0-9A-F]{8,128}\b)`,
        // split in three. A match of the last two is the whole run of hex digits, so the
        // look-ahead is a check on it.
        part("hex", format!(r"{B}0[xX][0-9a-fA-F]+{B}")),
        Part {
            check: Check::HasDigit,
            ..part("hex", format!(r"{B}[0-9a-f]{{8,128}}{B}"))
        },
        Part {
            check: Check::HasDigit,
            ..part("hex", format!(r"{B}[0-9A-F]{{8,128}}{B}"))
        },
        // `(\b(?=[a-f]*[0-9])(?=[0-9]*[a-f])[0-9a-f]{7}\b)`
        Part {
            check: Check::HasDigitAndLetter,
            ..part("git_sha", format!(r"{B}[0-9a-f]{{7}}{B}"))
        },
        part("float", format!(r"-\d+\.\d+{B}|{B}\d+\.\d+{B}")),
        // `(\b|(?<!\w)-)\d{1,7}\b`, split in two
        part("int", format!(r"{B}\d{{1,7}}{B}")),
        part("int", format!(r"{BS}-\d{{1,7}}{B}")),
        // `(?<==)('([^']+)'|"([^"]+)")`: the `=` is matched, and kept. This is the same: of the
        // parts before, only `email` can match at a quote or at a `=`, and when it matches at
        // the quote it also matches at the `=` before, which comes first.
        Part {
            keep: 1,
            ..part("quoted_str", r#"=(?:'([^']+)'|"([^"]+)")"#.to_owned())
        },
        // `(?<==)(True|true|False|false)`: a gate, as `hostname` also matches `=true.com`.
        Part {
            gate: Gate::AfterEquals,
            ..part("bool", "True|true|False|false".to_owned())
        },
    ]
}

static PARTS: LazyLock<Vec<Part>> = LazyLock::new(parts);

/// Index of the `email` part, which is searched on its own (see [`Scan::next`]).
const EMAIL: usize = 0;

/// How parts are compiled: what Python's `\b` and `(?<!\w)` become, and whether classes such
/// as `\d` and `\s` are Unicode-aware.
#[derive(Clone, Copy)]
enum Flavor {
    /// For ASCII text: no Unicode support at all, which makes a much smaller automaton.
    Ascii,
    /// For text without non-ASCII word characters: Unicode classes with ASCII word boundaries,
    /// which mean the same there and which a lazy DFA runs on any text.
    AsciiBoundaries,
    /// Exact on any text, but the lazy DFA gives up next to non-ASCII text.
    Unicode,
    /// Unicode classes, and for `\b` an assertion that it implies and that a lazy DFA runs on
    /// any text: an ASCII boundary, or no ASCII word byte on either side. Finds every position
    /// where a part matches, and a few more.
    Candidate,
}

fn pattern(part: &Part, flavor: Flavor) -> String {
    let (b, bs) = match flavor {
        Flavor::Ascii | Flavor::AsciiBoundaries => (r"(?-u:\b)", r"(?-u:\b{start-half})"),
        Flavor::Unicode => (r"\b", r"\b{start-half}"),
        Flavor::Candidate => (
            r"(?:(?-u:\b)|(?-u:\b{start-half})(?-u:\b{end-half}))",
            r"(?-u:\b{start-half})",
        ),
    };
    part.pattern.replace(BS, bs).replace(B, b)
}

fn compile(parts: &[Part], flavor: Flavor) -> Regex {
    let unicode = !matches!(flavor, Flavor::Ascii);
    let patterns: Vec<String> = parts.iter().map(|p| pattern(p, flavor)).collect();
    // The lazy DFA of all parts together has large states (hex runs of every length, IPv6
    // groups, …): with the default 2 MiB per thread it keeps clearing its cache on varied
    // messages and runs several times slower. It grows only as far as the text needs.
    let cache_capacity = if parts.len() > 1 { 8 << 20 } else { 2 << 20 };
    meta::Builder::new()
        .configure(
            meta::Config::new()
                .which_captures(WhichCaptures::Implicit)
                .hybrid_cache_capacity(cache_capacity)
                // Its visited set is cleared for every search, in proportion to the length of
                // the rest of the text: too costly for the many anchored searches here.
                .backtrack(false),
        )
        .syntax(syntax::Config::new().unicode(unicode).utf8(unicode))
        .build_many(&patterns)
        .expect("the built-in parameterization patterns are valid regexes")
}

/// The parts after `email` as one multi-pattern regex (pattern `i` is part `i + 1`).
struct Rest {
    ascii: LazyLock<Regex>,
    ascii_boundaries: LazyLock<Regex>,
    candidate: LazyLock<Regex>,
}

static REST: Rest = Rest {
    ascii: LazyLock::new(|| compile(&PARTS[EMAIL + 1..], Flavor::Ascii)),
    ascii_boundaries: LazyLock::new(|| compile(&PARTS[EMAIL + 1..], Flavor::AsciiBoundaries)),
    candidate: LazyLock::new(|| compile(&PARTS[EMAIL + 1..], Flavor::Candidate)),
};

/// `email` has no word boundary: one flavor fits all text.
static EMAIL_REGEX: LazyLock<Regex> =
    LazyLock::new(|| compile(&PARTS[EMAIL..=EMAIL], Flavor::Unicode));

/// Each part on its own, in one flavor, compiled on first use.
struct Singles {
    flavor: Flavor,
    regexes: LazyLock<Vec<OnceLock<Regex>>>,
}

impl Singles {
    const fn new(flavor: Flavor) -> Self {
        Singles {
            flavor,
            regexes: LazyLock::new(|| PARTS.iter().map(|_| OnceLock::new()).collect()),
        }
    }

    fn get(&self, i: usize) -> &Regex {
        self.regexes[i].get_or_init(|| compile(&PARTS[i..=i], self.flavor))
    }
}

static SINGLES_ASCII: Singles = Singles::new(Flavor::Ascii);
static SINGLES_ASCII_BOUNDARIES: Singles = Singles::new(Flavor::AsciiBoundaries);
static SINGLES_UNICODE: Singles = Singles::new(Flavor::Unicode);

/// Python's `\d`: Unicode decimal digits.
fn is_digit(c: char) -> bool {
    static DIGIT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\A\d\z").expect("a valid regex"));
    if c.is_ascii() {
        c.is_ascii_digit()
    } else {
        DIGIT.is_match(c.encode_utf8(&mut [0; 4]) as &str)
    }
}

fn has_non_ascii_word_char(s: &str) -> bool {
    static NON_ASCII_WORD: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"[\w&&[^\x00-\x7F]]").expect("a valid regex"));
    !s.is_ascii() && NON_ASCII_WORD.is_match(s)
}

fn gate_open(s: &str, gate: Gate, at: usize) -> bool {
    match gate {
        Gate::None => true,
        Gate::NotAfterDigit => !s[..at].chars().next_back().is_some_and(is_digit),
        Gate::AfterEquals => s[..at].ends_with('='),
    }
}

/// Where Sentry's match of part `i` ends, given the regex's match `start..end`; `None` when a
/// gate or a check rejects it.
fn accept(s: &str, i: usize, start: usize, end: usize) -> Option<usize> {
    let part = &PARTS[i];
    if !gate_open(s, part.gate, start) {
        return None;
    }
    let text = &s.as_bytes()[start..end];
    let checked = match part.check {
        Check::None => true,
        Check::HasDigit => text.iter().any(u8::is_ascii_digit),
        Check::HasDigitAndLetter => {
            text.iter().any(u8::is_ascii_digit) && text.iter().any(u8::is_ascii_lowercase)
        }
    };
    if !checked {
        return None;
    }
    let matched = &s[start..end];
    Some(match part.tail {
        Tail::Same => end,
        Tail::Underscore => end - usize::from(matched.ends_with('_')),
        Tail::Clock12 | Tail::Clock24 => {
            let mut rev = matched.chars().rev();
            let last = rev.next().expect("a clock match is not empty");
            let am_pm = part.tail == Tail::Clock12
                && matches!(last, 'm' | 'M')
                && matches!(rev.next(), Some('a' | 'A' | 'p' | 'P'));
            if is_digit(last) || am_pm {
                end
            } else {
                end - last.len_utf8()
            }
        }
    })
}

/// The first part from `first` on that matches at `at`, and where Sentry's match ends.
fn match_at(s: &str, at: usize, first: usize, singles: &Singles) -> Option<(usize, usize)> {
    (first..PARTS.len()).find_map(|i| {
        if !gate_open(s, PARTS[i].gate, at) {
            return None;
        }
        let input = Input::new(s).span(at..s.len()).anchored(Anchored::Yes);
        let m = singles.get(i).search(&input)?;
        accept(s, i, at, m.end()).map(|end| (i, end))
    })
}

fn next_char(s: &str, at: usize) -> usize {
    at + s[at..].chars().next().map_or(1, char::len_utf8)
}

/// A match: where it starts, which part, where it ends.
type Found = (usize, usize, usize);

/// Finds Sentry's matches in one text, left to right.
struct Scan<'s> {
    s: &'s str,
    /// How the parts after `email` are searched in `s`.
    flavor: Flavor,
    /// The next `email` match, once searched for: `(start, end)`.
    email: Option<Option<(usize, usize)>>,
    /// The next match of another part, once searched for.
    rest: Option<Option<Found>>,
}

impl<'s> Scan<'s> {
    fn new(s: &'s str) -> Self {
        let flavor = if s.is_ascii() {
            Flavor::Ascii
        } else if has_non_ascii_word_char(s) {
            Flavor::Candidate
        } else {
            Flavor::AsciiBoundaries
        };
        Scan {
            s,
            flavor,
            email: if s.contains('@') { None } else { Some(None) },
            rest: None,
        }
    }

    /// The leftmost match at or after `from`.
    ///
    /// `email` is searched on its own: its `[…]+@` would keep a DFA thread alive through every
    /// run of text without spaces, and each search of the other parts would then read on to
    /// the end of the run. A search's answer is kept while it lies ahead: the leftmost match
    /// from an earlier position is also the leftmost from any later position up to its start,
    /// as the patterns look at the text around a match, not at where a search began.
    fn next(&mut self, from: usize) -> Option<Found> {
        let s = self.s;
        if self
            .email
            .is_none_or(|e| e.is_some_and(|(start, _)| start < from))
        {
            let input = Input::new(s).span(from..s.len());
            self.email = Some(EMAIL_REGEX.search(&input).map(|m| (m.start(), m.end())));
        }
        if self
            .rest
            .is_none_or(|r| r.is_some_and(|(start, _, _)| start < from))
        {
            self.rest = Some(self.next_rest(from));
        }
        match (self.email.flatten(), self.rest.flatten()) {
            (Some((start, end)), Some((other, _, _))) if start <= other => {
                Some((start, EMAIL, end))
            }
            (Some((start, end)), None) => Some((start, EMAIL, end)),
            (_, rest) => rest,
        }
    }

    /// The leftmost match of a part other than `email` at or after `from`.
    fn next_rest(&self, mut from: usize) -> Option<Found> {
        let s = self.s;
        let (rest, singles) = match self.flavor {
            Flavor::Ascii => (&*REST.ascii, &SINGLES_ASCII),
            Flavor::AsciiBoundaries => (&*REST.ascii_boundaries, &SINGLES_ASCII_BOUNDARIES),
            Flavor::Unicode | Flavor::Candidate => (&*REST.candidate, &SINGLES_UNICODE),
        };
        loop {
            let m = rest.search(&Input::new(s).span(from..s.len()))?;
            let (at, i) = (m.start(), m.pattern().as_usize() + EMAIL + 1);
            if let Flavor::Candidate = self.flavor {
                // Only a candidate; but no part before `i` matches at `at`.
                if let Some((j, end)) = match_at(s, at, i, singles) {
                    return Some((at, j, end));
                }
            } else {
                if let Some(end) = accept(s, i, at, m.end()) {
                    return Some((at, i, end));
                }
                if let Some((j, end)) = match_at(s, at, i + 1, singles) {
                    return Some((at, j, end));
                }
            }
            from = next_char(s, at);
        }
    }
}

/// Replaces the variable parts of `s` with `<int>`, `<uuid>`, `<email>`, … placeholders the
/// way Sentry does; returns `s` unchanged (borrowed) when nothing matched.
pub fn parameterize(s: &str) -> Cow<'_, str> {
    let mut scan = Scan::new(s);
    let mut out: Option<String> = None;
    let mut last = 0;
    while let Some((start, i, end)) = scan.next(last) {
        let part = &PARTS[i];
        let buf = out.get_or_insert_with(|| String::with_capacity(s.len()));
        buf.push_str(&s[last..start + part.keep]);
        buf.push('<');
        buf.push_str(part.name);
        buf.push('>');
        last = end;
    }
    match out {
        Some(mut buf) => {
            buf.push_str(&s[last..]);
            Cow::Owned(buf)
        }
        None => Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests {
    use super::parameterize;

    fn p(s: &str) -> String {
        parameterize(s).into_owned()
    }

    /// Each input parameterizes to its expected output.
    fn assert_parameterized(cases: &[(&str, &str)]) {
        for (input, expected) in cases {
            assert_eq!(p(input), *expected, "{input:?}");
        }
    }

    #[test]
    fn numbers() {
        assert_parameterized(&[
            (
                "testing testing 1, 2, 3",
                "testing testing <int>, <int>, <int>",
            ),
            ("sku 8812 below -5", "sku <int> below <int>"),
            ("took 1.5 units", "took <float> units"),
            ("id 12345678", "id <hex>"),
            ("a-5", "a-<int>"),
        ]);
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
        assert_parameterized(&[
            (
                "user 4f9cc6a8-1eb3-4e9f-9174-f281b9dc1111 gone",
                "user <uuid> gone",
            ),
            ("blob d41d8cd98f00b204e9800998ecf8427e", "blob <md5>"),
            ("at 0x7fff5bf3456c", "at <hex>"),
            ("commit abc1234 broke", "commit <git_sha> broke"),
        ]);
    }

    #[test]
    fn network() {
        assert_parameterized(&[
            ("mail sam@example.com now", "mail <email> now"),
            ("GET https://example.com/x?y=1 failed", "GET <url> failed"),
            ("host api.example.com down", "host <hostname> down"),
            ("from 10.0.0.1 and ::1", "from <ip> and <ip>"),
            ("Foo::bar() failed", "Foo::bar() failed"),
        ]);
    }

    #[test]
    fn dates_and_durations() {
        assert_parameterized(&[
            ("at 2024-01-02T03:04:05Z", "at <date>"),
            ("at 2024-01-02 03:04:05.123", "at <date>"),
            ("at 12:30 pm", "at <date>"),
            ("timed out after 30s", "timed out after <duration>"),
            ("took 250ms", "took <duration>"),
        ]);
    }

    #[test]
    fn key_value_pairs_keep_the_key() {
        assert_parameterized(&[
            ("user='bob' ok=true", "user=<quoted_str> ok=<bool>"),
            ("said 'bob' true", "said 'bob' true"),
        ]);
    }

    #[test]
    fn chunk_load_error() {
        assert_eq!(
            p("Loading chunk 158 failed.\n(timeout: https://s1.sentry-cdn.com/_static/34f8/sentry/dist/x.js)"),
            "Loading chunk <int> failed.\n(timeout: <url>"
        );
    }
}
