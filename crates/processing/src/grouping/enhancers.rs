//! Built-in stack trace rules (Sentry's "grouping enhancements").
//!
//! Before grouping, Sentry runs its default rule set (`newstyle@2023-01-11.txt`) over every
//! frame: `-app` marks library code out of app (`**/site-packages/**`, `**/node_modules/**`,
//! `std::*` in Rust), `-group` drops noise from the hash (`@babel/**`, `core-js/**`, panic
//! machinery), and `^`/`v` apply an action to every frame towards the crash (`^`) or towards
//! the program entry (`v`). Rules run top to bottom; a later rule overrides an earlier one,
//! and rules override the SDK's own `in_app`.
//!
//! We keep the rules in Sentry's own syntax (so they can be compared line by line) and parse
//! them once. Only the frame-local rules are carried over: the category-inheritance rules
//! (`[ category:x ] | category:y`) that tune native system frames are not, and the frame
//! categories they build on are folded into the `-app`/`-group` they end in.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::LazyLock;

use regex::{RegexSet, SetMatches};

use super::input::{Family, FrameView};

/// The rule set, one rule a line, in Sentry's syntax.
const RULES: &str = r#"
# iOS and macOS apps
family:native package:/var/containers/Bundle/Application/**          +app
family:native package:/private/var/containers/Bundle/Application/**  +app
family:native package:**/Developer/CoreSimulator/Devices/**          +app
family:native package:**/Containers/Bundle/Application/**            +app
family:native package:**.app/Contents/**                             +app
family:native package:/Users/**                                      +app

# well known locations of system libraries
family:native package:/lib/**                                        -app
family:native package:/usr/lib/**                                    -app
family:native path:/usr/local/lib/**                                 -app
family:native path:/usr/local/Cellar/**                              -app
family:native package:linux-gate.so*                                 -app

# rust
family:native function:std::*                                     -app
family:native function:core::*                                    -app
family:native function:alloc::*                                   -app
family:native function:__rust_*                                   -app
family:native function:rust_begin_unwind                          -app
family:native function:std::panicking::begin_panic                ^-group -group ^-app -app
family:native function:core::panicking::begin_panic               ^-group -group ^-app -app
family:native function:failure::backtrace::Backtrace::new         ^-group -group ^-app -app
family:native function:error_chain::make_backtrace                ^-group -group ^-app -app
family:native function:std::panicking::panic_fmt                  ^-app -app
family:native function:core::panicking::panic_fmt                 ^-app -app

# C++ and Objective-C borders
family:native function:_CxxThrowException                         ^-group -group ^-app -app
family:native function:__cxa_throw                                ^-group -group ^-app -app
family:native function:__assert_rtn                               ^-group -group ^-app -app
family:native function:_NSRaiseError                              ^-group -group ^-app -app
family:native function:_mh_execute_header                         -group -app

# Breakpad and crash reporters
family:native function:google_breakpad::*                         -app -group
family:native function:google_breakpad::ExceptionHandler::SignalHandler ^-group -group
family:native function:google_breakpad::ExceptionHandler::WriteMinidumpWithException ^-group -group
family:native package:**/Frameworks/libswift*.dylib                  -app
family:native package:**/Frameworks/KSCrash.framework/**             -app
family:native package:**/Frameworks/SentrySwift.framework/**         -app
family:native package:**/Frameworks/Sentry.framework/**              -app
family:native function:kscm_*                                     -app -group
family:native function:sentrycrashcm_*                            -app -group
family:native function:kscrash_*                                  -app -group
family:native function:*sentrycrash_*                             -app -group

# Dart and Flutter
family:javascript stack.abs_path:org-dartlang-sdk:///** -app -group
family:javascript module:**/packages/flutter/** -app
family:native stack.abs_path:**/packages/flutter/** -app
stack.abs_path:package:sentry/** -app -group
stack.abs_path:package:sentry_flutter/** -app -group
stack.abs_path:package:sentry_logging/** -app -group
stack.abs_path:package:sentry_dio/** -app -group
stack.abs_path:package:sentry_file/** -app -group
family:native stack.abs_path:**/.pub-cache/** -app

# operating system frames (category=system, then `category:system -app`)
family:native package:/System/Library/Frameworks/** -app
family:native package:C:/Windows/** -app
family:native package:libobjc* -app
family:native package:libsystem* -app
family:native package:/system/** -app
family:native package:/vendor/** -app
family:native package:CoreFoundation -app
family:native package:Foundation -app
family:native package:libdispatch.dylib -app
module:dalvik.system.* -app
module:com.android.* -app
module:android.os.* -app

# thread bases, handlers and crash reporting are noise (`category:threadbase -group v-group`,
# `category:handler ^-group -group`, `category:telemetry -group`)
family:native function:wWinMain -group v-group
family:native function:invoke_main -group v-group
family:native function:BaseThreadInitThunk -group v-group
family:native function:RtlUserThreadStart -group v-group
family:native function:thread_start -group v-group
family:native function:_pthread_start -group v-group
family:native function:__pthread_start -group v-group
family:native function:_pthread_body -group v-group
family:native function:start_wqthread -group v-group
family:native function:_pthread_wqthread -group v-group
family:native function:_sigtramp ^-group -group
family:native function:crashpad::* -group

# SDK specific rules
path:**/vendor/**        -app
path:**/site-packages/** -app
path:**/dist-packages/** -app
path:**/node_modules/** -app
module:unpkg/** -app
path:**https://unpkg.com/** -app
path:**https://cdnjs.cloudflare.com/** -app
path:**https://cdn.jsdelivr.net/** -app
path:**https://esm.run/** -app
family:javascript function:reportError ^-app -app
module:@babel/** -app -group
module:core-js/** -app -group
module:regenerator-runtime/** -app -group
module:tslib/** -app -group
family:javascript function:_callSuper -app -group
function:runMicrotasks -app -group
function:queueMicrotask -app -group
function:processTicksAndRejections -app -group
function:runNextTicks -app -group
function:nextTick -app -group
path:**/go/pkg/mod/** -app

# java frameworks (category=framework, then `category:framework -app`)
module:akka.* -app
module:com.fasterxml.* -app
module:com.microsoft.* -app
module:com.sun.* -app
module:feign.* -app
module:io.opentelemetry.* -app
module:io.sentry.* -app -group
module:jdk.* -app
module:oauth.* -app
module:org.apache.* -app
module:org.glassfish.* -app
module:org.jboss.* -app
module:org.jdesktop.* -app
module:org.postgresql.* -app
module:org.springframework.* -app
module:org.web3j.* -app
module:reactor.core.* -app
module:scala.* -app
module:sun.* -app
module:kotlin.* -app
module:kotlinx.* -app
module:io.ktor.* -app
module:io.netty.* -app

# telemetry
module:newrelic -app -group
path:**/*newrelic*/** -app -group
path:**/*LogRocket*/** -app -group
"#;

/// What the rules decided for one frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameVerdict {
    /// `Some` when a rule set in-app; the rule's text for the hint.
    pub in_app: Option<(bool, &'static str)>,
    /// `Some` when a rule set whether the frame groups.
    pub group: Option<(bool, &'static str)>,
}

#[derive(Debug)]
struct Rule {
    text: String,
    matchers: Vec<Matcher>,
    actions: Vec<Action>,
}

#[derive(Debug)]
struct Matcher {
    test: Test,
    negated: bool,
}

#[derive(Debug)]
enum Test {
    /// The frame's platform (else the event's) is of one of these families.
    Family(Vec<Family>),
    /// A frame field matches a glob, kept as the source of an anchored regex.
    Glob(Field, String),
}

/// The frame fields that globs look at; the discriminant indexes [`RuleSet::sets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Path = 0,
    Package = 1,
    Module = 2,
    Function = 3,
}

const FIELDS: [Field; 4] = [Field::Path, Field::Package, Field::Module, Field::Function];

#[derive(Debug, Clone, Copy)]
enum Range {
    Frame,
    /// Frames after this one in the list: towards the crash.
    Up,
    /// Frames before this one: towards the program entry.
    Down,
}

#[derive(Debug, Clone, Copy)]
struct Action {
    range: Range,
    flag: Flag,
    value: bool,
}

#[derive(Debug, Clone, Copy)]
enum Flag {
    App,
    Group,
}

static PARSED: LazyLock<Vec<Rule>> =
    LazyLock::new(|| RULES.lines().filter_map(parse_rule).collect());

/// The rules that can apply to frames of one family, compiled for matching many at once.
///
/// Matching rule by rule costs rules × frames × globs regex searches (most of grouping's time
/// on a native stack trace). Instead, every glob over one field goes into one `RegexSet`, so a
/// frame's field is scanned once for all rules; rules whose family matcher rules the family
/// out are not looked at at all.
struct RuleSet {
    /// Per [`Field`]: the distinct globs of this family's rules, `None` when no rule uses it.
    sets: [Option<RegexSet>; 4],
    rules: Vec<CompiledRule>,
    /// Per [`Field`] and glob: the rules (positions in `rules`) that need that glob to match.
    needing: [Vec<Bits>; 4],
    /// Rules that can match without any glob matching (no globs, or only negated ones).
    unconditional: Bits,
}

struct CompiledRule {
    /// Index into [`PARSED`]: rules apply in that order.
    index: usize,
    /// `(field, pattern in that field's set, negated)` — all must hold.
    globs: Vec<(Field, usize, bool)>,
}

/// One [`RuleSet`] per [`Family`], in the order of [`family_index`].
static BY_FAMILY: LazyLock<[RuleSet; 3]> = LazyLock::new(|| {
    [Family::Native, Family::JavaScript, Family::Other].map(|family| RuleSet::new(&PARSED, family))
});

fn family_index(family: Family) -> usize {
    match family {
        Family::Native => 0,
        Family::JavaScript => 1,
        Family::Other => 2,
    }
}

impl RuleSet {
    fn new(rules: &[Rule], family: Family) -> RuleSet {
        let mut patterns: [Vec<&str>; 4] = Default::default();
        let mut compiled = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let mut globs = Vec::new();
            let mut possible = true;
            for m in &rule.matchers {
                match &m.test {
                    Test::Family(families) => possible &= families.contains(&family) != m.negated,
                    Test::Glob(field, source) => {
                        let list = &mut patterns[*field as usize];
                        let at = list.iter().position(|p| p == source).unwrap_or_else(|| {
                            list.push(source);
                            list.len() - 1
                        });
                        globs.push((*field, at, m.negated));
                    }
                }
            }
            if possible {
                compiled.push(CompiledRule { index, globs });
            }
        }
        assert!(
            compiled.len() <= MAX_BITS && patterns.iter().all(|list| list.len() <= MAX_BITS),
            "the built-in rules fit the width of `Bits`"
        );
        let mut needing: [Vec<Bits>; 4] =
            std::array::from_fn(|field| vec![Bits::default(); patterns[field].len()]);
        let mut unconditional = Bits::default();
        for (at, rule) in compiled.iter().enumerate() {
            // Any one glob the rule needs is enough to find it; take the first.
            match rule.globs.iter().find(|(_, _, negated)| !negated) {
                Some(&(field, pattern, _)) => needing[field as usize][pattern].insert(at),
                None => unconditional.insert(at),
            }
        }
        let sets = patterns.map(|list| {
            (!list.is_empty())
                .then(|| RegexSet::new(list).expect("every built-in glob compiles to a regex"))
        });
        RuleSet {
            sets,
            rules: compiled,
            needing,
            unconditional,
        }
    }

    /// Calls `hit` with the index of every rule that matches `frame`, in rule order.
    ///
    /// Only rules that one of the frame's matching globs points at (and the unconditional ones)
    /// are checked in full: most frames match no glob at all.
    fn matching_rules(&self, family: usize, frame: &FrameView<'_>, mut hit: impl FnMut(usize)) {
        let matched = FIELDS.map(|field| self.field_matches(family, field, frame));
        let mut candidates = self.unconditional;
        for (field, found) in matched.iter().enumerate() {
            for pattern in found.iter() {
                candidates.union(&self.needing[field][pattern]);
            }
        }
        for at in candidates.iter() {
            let rule = &self.rules[at];
            let all = rule.globs.iter().all(|&(field, pattern, negated)| {
                matched[field as usize].contains(pattern) != negated
            });
            if all {
                hit(rule.index);
            }
        }
    }

    /// Which of the field's globs match the frame; none when the frame lacks the field.
    /// A relative path is also tried with a leading `/`, so that `**/x/**` sees its first
    /// directory; either spelling matching counts.
    ///
    /// The answer depends only on the field's text, and the same paths, packages and function
    /// names come back in event after event of an application, so it is remembered per thread
    /// (see [`MatchCache`]): the set search is the dearest step of the rules.
    fn field_matches(&self, family: usize, field: Field, frame: &FrameView<'_>) -> Bits {
        let Some(set) = self.sets[field as usize].as_ref() else {
            return Bits::default();
        };
        let text = match field {
            Field::Path => frame.abs_path.or(frame.filename),
            Field::Package => frame.package,
            Field::Module => frame.module,
            Field::Function => frame.function,
        };
        let Some(text) = text else {
            return Bits::default();
        };
        MATCH_CACHE.with(|cache| {
            cache
                .borrow_mut()
                .get_or_insert(family, field, text, || match field {
                    Field::Path => {
                        let path = slashed(text);
                        let mut found = Bits::from_matches(&set.matches(&path));
                        if !path.starts_with('/') {
                            found.union(&Bits::from_matches(&set.matches(&format!("/{path}"))));
                        }
                        found
                    }
                    Field::Package => Bits::from_matches(&set.matches(&slashed(text))),
                    Field::Module | Field::Function => Bits::from_matches(&set.matches(text)),
                })
        })
    }
}

/// How many globs one field of one family, or how many rules one family, may have: the width
/// of [`Bits`]. The built-in rules stay well below; [`RuleSet::new`] checks it.
const MAX_BITS: usize = 256;

/// A small set of indices (globs of a field, or rules of a family), cheap to copy and merge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Bits([u64; MAX_BITS / 64]);

impl Bits {
    fn from_matches(matches: &SetMatches) -> Bits {
        let mut bits = Bits::default();
        for i in matches.iter() {
            bits.insert(i);
        }
        bits
    }

    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    fn contains(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }

    fn union(&mut self, other: &Bits) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a |= b;
        }
    }

    /// The indices, ascending.
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(word, &bits)| {
            let mut rest = bits;
            std::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let bit = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                Some(word * 64 + bit)
            })
        })
    }
}

/// Remembered glob matches per family, field and text, for [`RuleSet::field_matches`].
///
/// Bounded: when full it starts over, so a stream of ever-new names costs one set search each
/// (as without the cache) and never more memory than the bound.
#[derive(Default)]
struct MatchCache {
    /// Per family index and [`Field`].
    maps: [[HashMap<Box<str>, Bits>; 4]; 3],
    len: usize,
}

/// Entries [`MatchCache`] holds before it starts over (a few hundred KB at most).
const MATCH_CACHE_ENTRIES: usize = 4096;

impl MatchCache {
    fn get_or_insert(
        &mut self,
        family: usize,
        field: Field,
        text: &str,
        compute: impl FnOnce() -> Bits,
    ) -> Bits {
        if let Some(bits) = self.maps[family][field as usize].get(text) {
            return *bits;
        }
        let bits = compute();
        if self.len >= MATCH_CACHE_ENTRIES {
            self.maps.iter_mut().flatten().for_each(HashMap::clear);
            self.len = 0;
        }
        self.maps[family][field as usize].insert(text.into(), bits);
        self.len += 1;
        bits
    }
}

thread_local! {
    static MATCH_CACHE: RefCell<MatchCache> = RefCell::default();
}

/// Windows paths with forward slashes, so that one glob fits both.
fn slashed(path: &str) -> Cow<'_, str> {
    if path.contains('\\') {
        Cow::Owned(path.replace('\\', "/"))
    } else {
        Cow::Borrowed(path)
    }
}

/// Runs the built-in rules over a stack trace's frames (oldest first).
pub fn apply(frames: &[FrameView<'_>], event_platform: Option<&str>) -> Vec<FrameVerdict> {
    let mut verdicts = vec![FrameVerdict::default(); frames.len()];
    let by_family: &[RuleSet; 3] = &BY_FAMILY;
    // Sentry applies the rules one after another, each over every frame; a later write wins.
    let mut hits: Vec<(usize, usize)> = Vec::new();
    for (idx, frame) in frames.iter().enumerate() {
        let family = Family::of(frame.platform.or(event_platform));
        let family = family_index(family);
        by_family[family].matching_rules(family, frame, |rule| hits.push((rule, idx)));
    }
    hits.sort_unstable();
    let rules: &'static [Rule] = &PARSED;
    for (rule, idx) in hits {
        let rule = &rules[rule];
        let text: &'static str = &rule.text;
        for action in &rule.actions {
            let targets = match action.range {
                Range::Frame => idx..idx + 1,
                Range::Up => idx + 1..frames.len(),
                Range::Down => 0..idx,
            };
            for verdict in &mut verdicts[targets] {
                match action.flag {
                    Flag::App => verdict.in_app = Some((action.value, text)),
                    Flag::Group => verdict.group = Some((action.value, text)),
                }
            }
        }
    }
    verdicts
}

fn parse_rule(line: &str) -> Option<Rule> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut matchers = Vec::new();
    let mut actions = Vec::new();
    for token in line.split_whitespace() {
        if let Some(action) = parse_action(token) {
            actions.push(action);
        } else {
            matchers.push(parse_matcher(token)?);
        }
    }
    let text = line.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(Rule {
        text,
        matchers,
        actions,
    })
}

fn parse_action(token: &str) -> Option<Action> {
    let (range, rest) = match token.as_bytes().first()? {
        b'^' => (Range::Up, &token[1..]),
        b'v' if token.len() > 1 && matches!(token.as_bytes()[1], b'+' | b'-') => {
            (Range::Down, &token[1..])
        }
        _ => (Range::Frame, token),
    };
    let value = match rest.as_bytes().first()? {
        b'+' => true,
        b'-' => false,
        _ => return None,
    };
    let flag = match &rest[1..] {
        "app" => Flag::App,
        "group" => Flag::Group,
        _ => return None,
    };
    Some(Action { range, flag, value })
}

fn parse_matcher(token: &str) -> Option<Matcher> {
    let (negated, token) = match token.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    let (key, value) = token.split_once(':')?;
    let value = value.trim_matches('"');
    let test = match key {
        "family" => {
            let families = value
                .split(',')
                .map(|f| match f {
                    "native" => Family::Native,
                    "javascript" => Family::JavaScript,
                    _ => Family::Other,
                })
                .collect();
            Test::Family(families)
        }
        "path" | "stack.abs_path" => Test::Glob(Field::Path, glob(value, true, true)?),
        "package" | "stack.package" => Test::Glob(Field::Package, glob(value, true, true)?),
        "module" | "stack.module" => Test::Glob(Field::Module, glob(value, false, false)?),
        "function" | "stack.function" => Test::Glob(Field::Function, glob(value, false, false)?),
        _ => return None,
    };
    Some(Matcher { test, negated })
}

/// Translates a Sentry glob into the source of an anchored regex. With `path_like`, `*` and
/// `?` stop at `/` and `**` crosses it; otherwise `*` matches anything.
fn glob(pattern: &str, path_like: bool, ignore_case: bool) -> Option<String> {
    let mut re = String::from(if ignore_case { "(?is)^" } else { "(?s)^" });
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                re.push_str(".*");
            }
            '*' => re.push_str(if path_like { "[^/]*" } else { ".*" }),
            '?' => re.push_str(if path_like { "[^/]" } else { "." }),
            '[' => {
                // `[[]` is how the rules escape a literal bracket.
                let mut class = String::new();
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    class.push(c);
                }
                re.push_str(&format!("[{}]", regex::escape(&class)));
            }
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    // Validate here, so that a bad rule is dropped (and caught by `every_rule_parses`) rather
    // than failing the whole set.
    regex::Regex::new(&re).ok().map(|_| re)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(frame: FrameView<'_>, platform: &str) -> FrameVerdict {
        apply(&[frame], Some(platform)).remove(0)
    }

    /// The rules evaluated one by one, each glob on its own, as Sentry's engine reads them: the
    /// reference that the compiled [`RuleSet`]s must agree with.
    fn apply_rule_by_rule(frames: &[FrameView<'_>], platform: Option<&str>) -> Vec<FrameVerdict> {
        let matches = |m: &Matcher, frame: &FrameView<'_>| {
            let glob = |source: &str, value: Option<&str>| {
                value.is_some_and(|v| regex::Regex::new(source).unwrap().is_match(v))
            };
            let positive = match &m.test {
                Test::Family(f) => f.contains(&Family::of(frame.platform.or(platform))),
                Test::Glob(Field::Path, source) => {
                    frame.abs_path.or(frame.filename).is_some_and(|p| {
                        let p = p.replace('\\', "/");
                        glob(source, Some(&p))
                            || (!p.starts_with('/') && glob(source, Some(&format!("/{p}"))))
                    })
                }
                Test::Glob(Field::Package, source) => glob(
                    source,
                    frame.package.map(|p| p.replace('\\', "/")).as_deref(),
                ),
                Test::Glob(Field::Module, source) => glob(source, frame.module),
                Test::Glob(Field::Function, source) => glob(source, frame.function),
            };
            positive != m.negated
        };
        let mut verdicts = vec![FrameVerdict::default(); frames.len()];
        for rule in PARSED.iter() {
            for (idx, frame) in frames.iter().enumerate() {
                if !rule.matchers.iter().all(|m| matches(m, frame)) {
                    continue;
                }
                for action in &rule.actions {
                    let targets = match action.range {
                        Range::Frame => idx..idx + 1,
                        Range::Up => idx + 1..frames.len(),
                        Range::Down => 0..idx,
                    };
                    for v in &mut verdicts[targets] {
                        match action.flag {
                            Flag::App => v.in_app = Some((action.value, rule.text.as_str())),
                            Flag::Group => v.group = Some((action.value, rule.text.as_str())),
                        }
                    }
                }
            }
        }
        verdicts
    }

    #[test]
    fn compiled_rules_agree_with_rule_by_rule_matching() {
        let functions = [
            "std::panicking::begin_panic",
            "core::fmt::write",
            "_sigtramp",
            "kscm_x",
            "xsentrycrash_y",
            "runMicrotasks",
            "reportError",
            "app::main",
            "STD::x",
        ];
        let paths = [
            "/srv/venv/lib/site-packages/x.py",
            "node_modules/a.js",
            "C:\\x\\node_modules\\y.js",
            "https://unpkg.com/x",
            "/a/newrelic-agent/b.js",
            "package:sentry/x.dart",
            "/\u{17f}ite-packages/x/",
            "app/main.py",
        ];
        let packages = [
            "/usr/lib/libc.so",
            "/USR/LIB/x",
            "libobjc.A.dylib",
            "/Users/me/app",
        ];
        let modules = [
            "@babel/runtime",
            "io.sentry.X",
            "dalvik.system.X",
            "app.views",
        ];
        let mut frames = Vec::new();
        for i in 0..48 {
            frames.push(FrameView {
                function: (i % 5 != 0).then(|| functions[i % functions.len()]),
                abs_path: (i % 3 != 0).then(|| paths[i % paths.len()]),
                package: (i % 4 == 0).then(|| packages[i % packages.len()]),
                module: (i % 7 < 3).then(|| modules[i % modules.len()]),
                platform: [None, Some("javascript"), Some("native")][i % 3],
                ..Default::default()
            });
        }
        for platform in ["native", "javascript", "python"] {
            for window in frames.chunks(7) {
                assert_eq!(
                    apply(window, Some(platform)),
                    apply_rule_by_rule(window, Some(platform))
                );
            }
        }
    }

    #[test]
    fn every_rule_parses() {
        let lines = RULES
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim().starts_with('#'))
            .count();
        assert_eq!(PARSED.len(), lines);
    }

    #[test]
    fn site_packages_are_out_of_app() {
        let f = FrameView {
            abs_path: Some("/srv/venv/lib/python3.11/site-packages/django/x.py"),
            ..Default::default()
        };
        assert_eq!(verdict(f, "python").in_app.map(|v| v.0), Some(false));
    }

    #[test]
    fn node_modules_relative_path_is_out_of_app() {
        let f = FrameView {
            filename: Some("node_modules/express/lib/router.js"),
            ..Default::default()
        };
        assert_eq!(verdict(f, "node").in_app.map(|v| v.0), Some(false));
    }

    #[test]
    fn babel_is_out_of_app_and_ungrouped() {
        let f = FrameView {
            module: Some("@babel/runtime/helpers/asyncToGenerator"),
            ..Default::default()
        };
        let v = verdict(f, "javascript");
        assert_eq!(v.in_app, Some((false, "module:@babel/** -app -group")));
        assert_eq!(v.group.map(|g| g.0), Some(false));
    }

    #[test]
    fn rust_panic_border_ungroups_frames_towards_the_crash() {
        let frames = [
            FrameView {
                function: Some("app::run"),
                ..Default::default()
            },
            FrameView {
                function: Some("std::panicking::begin_panic"),
                ..Default::default()
            },
            FrameView {
                function: Some("std::panicking::rust_panic_with_hook"),
                ..Default::default()
            },
        ];
        let v = apply(&frames, Some("native"));
        assert_eq!(v[0].group, None);
        assert_eq!(v[1].group.map(|g| g.0), Some(false));
        assert_eq!(v[2].group.map(|g| g.0), Some(false));
    }

    #[test]
    fn family_restricts_rules() {
        let f = FrameView {
            function: Some("std::foo"),
            ..Default::default()
        };
        assert_eq!(verdict(f.clone(), "python").in_app, None);
        assert_eq!(verdict(f, "native").in_app.map(|v| v.0), Some(false));
    }
}
