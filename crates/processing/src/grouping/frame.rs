//! The grouping component of one stack frame (Sentry's `frame:v1` strategy).
//!
//! A frame groups by `module` (else a normalized `filename`), `function` and — on platforms
//! whose source lines are trustworthy — its `context-line`. Each part is cleaned of what
//! changes between builds or browsers but not between bugs: URL origins, generated class
//! suffixes, `Object.` prefixes, anonymous function markers.

use std::sync::LazyLock;

use regex::Regex;

use super::component::Component;
use super::function::trim_function_name;
use super::input::{Family, FrameView};

/// Platforms whose context lines take part in grouping (`contextline_platforms`).
const CONTEXT_LINE_PLATFORMS: [&str; 5] = ["javascript", "node", "python", "php", "ruby"];

/// Context lines longer than this are probably minified code and are left out.
const MAX_CONTEXT_LINE: usize = 120;

static RUBY_ERB: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"__\d{4,}_\d{4,}$").expect("valid regex"));
static JAVA_REFLECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(sun\.reflect\.Generated(?:Serialization)?ConstructorAccessor)\d+")
        .expect("valid regex")
});
static JAVA_CGLIB: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\$\$[\w_]+?CGLIB\$\$)[a-fA-F0-9]+(_[0-9]+)?").expect("valid regex")
});
static JAVA_ASSIST: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\$\$_javassist)(?:_seam)?(?:_[0-9]+)?").expect("valid regex"));
static CLOJURE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\$fn__)\d+").expect("valid regex"));
static JAVA_ENHANCER_BY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\$\$?EnhancerBy[\w_]+?\$?\$)[a-fA-F0-9]+(_[0-9]+)?").expect("valid regex")
});
static JAVA_FAST_CLASS_BY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\$\$?FastClassBy[\w_]+?\$?\$)[a-fA-F0-9]+(_[0-9]+)?").expect("valid regex")
});
static JAVA_HIBERNATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\$\$?HibernateProxy\$?\$)\w+(_[0-9]+)?").expect("valid regex"));

/// Whether a path is a URL (Sentry's `has_url_origin`); `file:` counts only when asked.
pub fn has_url_origin(path: Option<&str>, files_count_as_urls: bool) -> bool {
    let Some(path) = path else { return false };
    if ["http:", "https:", "applewebdata:", "blob:"]
        .iter()
        .any(|p| path.starts_with(p))
    {
        return true;
    }
    files_count_as_urls && path.starts_with("file:")
}

/// The frame component, before variant-specific decisions (in-app, recursion, rules).
pub fn frame_component(frame: &FrameView<'_>, event_platform: Option<&str>) -> Component {
    let platform = frame.platform.or(event_platform);
    let family = Family::of(platform);

    let mut filename = filename_component(frame.abs_path, frame.filename, platform);
    let module = module_component(frame.abs_path, frame.module, platform);
    if module.contributes && filename.contributes {
        filename.ignore("ignored because module takes precedence");
    }

    let context_line = frame
        .context_line
        .filter(|line| {
            !line.is_empty() && platform.is_some_and(|p| CONTEXT_LINE_PLATFORMS.contains(&p))
        })
        .map(|line| context_line_component(frame, line, family));
    let context_line_contributes = context_line.as_ref().is_some_and(|c| c.contributes);

    let mut function = function_component(frame, platform, family, context_line_contributes);

    let mut children = vec![module, filename];
    let mut low_quality = false;
    if family == Family::JavaScript {
        // Cross-browser noise: Chrome says `Object.foo`, Firefox `foo`; anonymous markers and
        // eval frames say nothing about the bug.
        let name = frame
            .raw_function
            .or(frame.function)
            .map(|f| f.rsplit('.').next().unwrap_or(f));
        match name {
            None | Some("") => function.contributes = false,
            Some("?" | "<anonymous function>" | "<anonymous>" | "Anonymous function") => {
                function.ignore("ignored unknown function name")
            }
            Some(n) if n.ends_with("/<") => function.ignore("ignored unknown function name"),
            _ => {}
        }
        low_quality = name == Some("eval")
            || matches!(
                frame.abs_path,
                Some("[native code]" | "native code" | "eval code" | "<anonymous>")
            );
    }
    children.push(function);
    children.extend(context_line);

    let mut component = Component::parent("frame", children);
    if low_quality {
        component.ignore("ignored low quality javascript frame");
    }
    component
}

fn filename_component(
    abs_path: Option<&str>,
    filename: Option<&str>,
    platform: Option<&str>,
) -> Component {
    let Some(filename) = filename else {
        return Component::empty("filename");
    };
    // Only the platform-independent basename, lowercased: paths differ between machines.
    let base = filename
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(filename)
        .to_lowercase();
    let mut component = Component::leaf("filename", base.clone());
    if has_url_origin(abs_path, false) {
        component.ignore("ignored because frame points to a URL");
    } else if base == "<anonymous>" {
        component.ignore("ignored because filename is anonymous");
    } else if base == "[native code]" {
        component.ignore("ignored because filename suggests native code");
    } else if platform == Some("java") {
        let cleaned = JAVA_ASSIST.replace_all(&base, "${1}<auto>");
        if cleaned != base {
            component.set_value(cleaned.into_owned());
            component.hint = Some("cleaned javassist parts".into());
        }
    }
    component
}

fn module_component(
    abs_path: Option<&str>,
    module: Option<&str>,
    platform: Option<&str>,
) -> Component {
    let Some(module) = module else {
        return Component::empty("module");
    };
    let mut component = Component::leaf("module", module);
    if platform == Some("javascript")
        && module.contains('/')
        && abs_path.is_some_and(|p| p.ends_with(module))
    {
        component.ignore("ignored bad javascript module");
    } else if platform == Some("java") {
        if module.contains("$$Lambda$") {
            component.ignore("ignored java lambda");
        }
        let cleaned = if module.starts_with("sun.reflect.GeneratedMethodAccessor") {
            "sun.reflect.GeneratedMethodAccessor".to_owned()
        } else if module.starts_with("jdk.internal.reflect.GeneratedMethodAccessor") {
            "jdk.internal.reflect.GeneratedMethodAccessor".to_owned()
        } else {
            [
                &*JAVA_REFLECT,
                &*JAVA_CGLIB,
                &*JAVA_ASSIST,
                &*CLOJURE,
                &*JAVA_ENHANCER_BY,
                &*JAVA_FAST_CLASS_BY,
                &*JAVA_HIBERNATE,
            ]
            .iter()
            .fold(module.to_owned(), |m, re| {
                re.replace_all(&m, "${1}<auto>").into_owned()
            })
        };
        if cleaned != module {
            component.set_value(cleaned);
            component.hint = Some("removed codegen marker".into());
        }
    }
    component
}

fn function_component(
    frame: &FrameView<'_>,
    platform: Option<&str>,
    family: Family,
    context_line: bool,
) -> Component {
    // C# started trimming `function` late; the raw name keeps old hashes stable.
    let func = if platform == Some("csharp") {
        frame.raw_function.or(frame.function).map(str::to_owned)
    } else {
        match (frame.function, frame.raw_function) {
            (Some(f), None) => Some(trim_function_name(f, platform)),
            (f, raw) => f.or(raw).map(str::to_owned),
        }
    };
    let Some(func) = func.filter(|f| !f.is_empty()) else {
        return Component::empty("function");
    };
    let mut component = Component::leaf("function", func.clone());

    match platform {
        Some("ruby") => {
            if func.starts_with("block ") {
                component.set_value("block");
                component.hint = Some("ruby block".into());
            } else {
                let cleaned = RUBY_ERB.replace(&func, "");
                if cleaned != func {
                    component.set_value(cleaned.into_owned());
                    component.hint = Some("removed generated erb template suffix".into());
                }
            }
        }
        Some("php") => {
            if func.starts_with("[Anonymous") || func.starts_with("class@anonymous\0") {
                component.ignore("ignored anonymous function");
            }
            if func.starts_with("class@anonymous") {
                if let Some((_, method)) = func.rsplit_once("::") {
                    component.set_value(method.to_owned());
                    component.hint = Some("anonymous class method".into());
                }
            }
        }
        Some("java") if func.starts_with("lambda$") => component.ignore("ignored lambda function"),
        _ if family == Family::Native && (func == "<redacted>" || func == "<unknown>") => {
            component.ignore("ignored unknown function")
        }
        _ if family == Family::JavaScript => {
            if let Some((_, last)) = func.rsplit_once('.') {
                component.set_value(last.to_owned());
                component.hint = Some("trimmed javascript function".into());
            }
            // Names from source maps are unreliable; the source line is a better witness.
            if frame.has_sourcemap && context_line {
                component.ignore("ignored because sourcemap used and context line available");
            }
        }
        _ => {}
    }
    component
}

fn context_line_component(frame: &FrameView<'_>, raw: &str, family: Family) -> Component {
    let line = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        return Component::empty("context-line");
    }
    let mut component = Component::leaf("context-line", line);
    if raw.chars().count() > MAX_CONTEXT_LINE {
        component.ignore("ignored because line is too long");
    } else if family == Family::JavaScript
        && frame.function.is_none()
        && has_url_origin(frame.abs_path, true)
    {
        component.ignore("ignored because file path is a URL and function name is missing");
    } else if family == Family::JavaScript && frame.has_sourcemap && !frame.has_surrounding_context
    {
        // Sentry's snapshot `frame-uses-context-line-over-function` groups a source-mapped
        // frame that has a context line but no surrounding lines by filename and function
        // alone. Such a line was not resolved through the source map, so it is not the
        // original source; we leave it out the same way.
        component.ignore("ignored because the line was not resolved through the source map");
    }
    component
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame<'a>(f: impl FnOnce(&mut FrameView<'a>)) -> FrameView<'a> {
        let mut frame = FrameView::default();
        f(&mut frame);
        frame
    }

    #[test]
    fn python_frame_uses_module_function_and_context_line() {
        let f = frame(|f| {
            f.module = Some("shop.views");
            f.filename = Some("shop/views.py");
            f.function = Some("checkout");
            f.context_line = Some("    total = 1 / 0");
        });
        let c = frame_component(&f, Some("python"));
        assert_eq!(
            c.contributing_values(),
            vec!["shop.views", "checkout", "total = 1 / 0"]
        );
    }

    #[test]
    fn javascript_function_is_trimmed_and_anonymous_ignored() {
        let f = frame(|f| {
            f.filename = Some("/tmp/test.html");
            f.abs_path = Some("file:///tmp/test.html");
            f.function = Some("Object.callback");
        });
        assert_eq!(
            frame_component(&f, Some("javascript")).contributing_values(),
            vec!["test.html", "callback"]
        );
        let anon = frame(|f| {
            f.filename = Some("app.js");
            f.function = Some("e.<anonymous>");
        });
        assert_eq!(
            frame_component(&anon, Some("javascript")).contributing_values(),
            vec!["app.js"]
        );
    }

    #[test]
    fn url_filename_is_ignored() {
        let f = frame(|f| {
            f.filename = Some("/foo.py");
            f.abs_path = Some("http://foo.com/foo.py");
            f.function = Some("test");
        });
        assert_eq!(
            frame_component(&f, Some("javascript")).contributing_values(),
            vec!["test"]
        );
    }

    #[test]
    fn long_context_line_does_not_contribute() {
        let long = "x".repeat(121);
        let f = frame(|f| {
            f.module = Some("m");
            f.function = Some("f");
            f.context_line = Some(&long);
        });
        assert_eq!(
            frame_component(&f, Some("python")).contributing_values(),
            vec!["m", "f"]
        );
    }

    /// A frame mapped through a source map groups by its module and source line: the
    /// function name (which a source map gives less reliably) does not split issues.
    #[test]
    fn source_mapped_javascript_frame_groups_by_module_and_line() {
        let mapped = |function: &'static str| {
            frame(|f| {
                f.abs_path = Some("https://shop.example.com/src/checkout.js");
                f.filename = Some("../src/checkout.js");
                f.module = Some("src/checkout");
                f.function = Some(function);
                f.context_line = Some("  const rate = coupon.percent / 100;");
                f.has_sourcemap = true;
                f.has_surrounding_context = true;
            })
        };
        let values = |f: &FrameView<'_>| -> Vec<String> {
            frame_component(f, Some("javascript"))
                .contributing_values()
                .into_iter()
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(
            values(&mapped("applyDiscount")),
            ["src/checkout", "const rate = coupon.percent / 100;"]
        );
        assert_eq!(values(&mapped("applyDiscount")), values(&mapped("l")));
    }

    #[test]
    fn native_unknown_function_is_ignored() {
        let f = frame(|f| f.function = Some("<unknown>"));
        assert!(!frame_component(&f, Some("native")).contributes);
    }

    #[test]
    fn java_codegen_markers_are_removed() {
        let f = frame(|f| {
            f.module = Some("com.example.Foo$$EnhancerBySpringCGLIB$$1a2b3c");
            f.function = Some("run");
        });
        assert_eq!(
            frame_component(&f, Some("java")).contributing_values(),
            vec!["com.example.Foo$$EnhancerBySpringCGLIB$$<auto>", "run"]
        );
    }
}
