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

use std::sync::LazyLock;

use regex::Regex;

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
    field: Field,
    negated: bool,
    pattern: Pattern,
}

#[derive(Debug)]
enum Field {
    Family(Vec<Family>),
    Path,
    Package,
    Module,
    Function,
}

#[derive(Debug)]
enum Pattern {
    Glob(Regex),
    None,
}

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

/// Runs the built-in rules over a stack trace's frames (oldest first).
pub fn apply(frames: &[FrameView<'_>], event_platform: Option<&str>) -> Vec<FrameVerdict> {
    let mut verdicts = vec![FrameVerdict::default(); frames.len()];
    let rules: &'static [Rule] = &PARSED;
    for rule in rules {
        let text: &'static str = &rule.text;
        for (idx, frame) in frames.iter().enumerate() {
            if !rule
                .matchers
                .iter()
                .all(|m| m.matches(frame, event_platform))
            {
                continue;
            }
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
    let (field, pattern) = match key {
        "family" => {
            let families = value
                .split(',')
                .map(|f| match f {
                    "native" => Family::Native,
                    "javascript" => Family::JavaScript,
                    _ => Family::Other,
                })
                .collect();
            (Field::Family(families), Pattern::None)
        }
        "path" | "stack.abs_path" => (Field::Path, Pattern::Glob(glob(value, true, true)?)),
        "package" | "stack.package" => (Field::Package, Pattern::Glob(glob(value, true, true)?)),
        "module" | "stack.module" => (Field::Module, Pattern::Glob(glob(value, false, false)?)),
        "function" | "stack.function" => {
            (Field::Function, Pattern::Glob(glob(value, false, false)?))
        }
        _ => return None,
    };
    Some(Matcher {
        field,
        negated,
        pattern,
    })
}

/// Translates a Sentry glob into a regex. With `path_like`, `*` and `?` stop at `/` and `**`
/// crosses it; otherwise `*` matches anything.
fn glob(pattern: &str, path_like: bool, ignore_case: bool) -> Option<Regex> {
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
    Regex::new(&re).ok()
}

impl Matcher {
    fn matches(&self, frame: &FrameView<'_>, event_platform: Option<&str>) -> bool {
        self.negated != self.matches_positive(frame, event_platform)
    }

    fn matches_positive(&self, frame: &FrameView<'_>, event_platform: Option<&str>) -> bool {
        let glob_matches = |value: Option<&str>| match (&self.pattern, value) {
            (Pattern::Glob(re), Some(v)) => re.is_match(v),
            _ => false,
        };
        match &self.field {
            Field::Family(families) => {
                families.contains(&Family::of(frame.platform.or(event_platform)))
            }
            Field::Path => {
                let Some(path) = frame.abs_path.or(frame.filename) else {
                    return false;
                };
                let path = path.replace('\\', "/");
                glob_matches(Some(&path))
                    || (!path.starts_with('/') && glob_matches(Some(&format!("/{path}"))))
            }
            Field::Package => frame
                .package
                .map(|p| p.replace('\\', "/"))
                .is_some_and(|p| glob_matches(Some(&p))),
            Field::Module => glob_matches(frame.module),
            Field::Function => glob_matches(frame.function),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(frame: FrameView<'_>, platform: &str) -> FrameVerdict {
        apply(&[frame], Some(platform)).remove(0)
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
