//! Stack trace components for the `app` and `system` variants (Sentry's `stacktrace:v1`).
//!
//! The `system` variant groups by every frame; the `app` variant only by in-app frames. The
//! built-in rules ([`super::enhancers`]) decide in-app-ness and which frames are noise before
//! the frames are compared; a frame that merely repeats the one before it (recursion) counts
//! once.

use super::component::Component;
use super::frame::{frame_component, has_url_origin};
use super::input::{Family, FrameView, StacktraceView};

/// The stack trace as each variant sees it.
#[derive(Debug, Clone)]
pub struct StacktraceVariants {
    pub app: Component,
    pub system: Component,
}

/// Builds both variants of one stack trace.
pub fn stacktrace_variants(
    stacktrace: &StacktraceView<'_>,
    event_platform: Option<&str>,
) -> StacktraceVariants {
    let frames = &stacktrace.frames;
    let verdicts = stacktrace.verdicts(event_platform);
    let in_app = stacktrace.in_app(event_platform);

    let mut system_frames = Vec::with_capacity(frames.len());
    let mut app_frames = Vec::with_capacity(frames.len());
    for (idx, frame) in frames.iter().enumerate() {
        let mut component = frame_component(frame, event_platform);
        if idx > 0 && is_recursion(frame, &frames[idx - 1]) {
            component.ignore("ignored due to recursion");
        }
        if let Some((false, rule)) = verdicts[idx].group {
            component.ignore(format!("ignored by stack trace rule ({rule})"));
        }
        let mut app = component.clone();
        if !in_app[idx] {
            let hint = match verdicts[idx].in_app {
                Some((_, rule)) => format!("marked out of app by stack trace rule ({rule})"),
                None if frame.in_app == Some(false) => "marked out of app by the client".to_owned(),
                None => "non app frame".to_owned(),
            };
            app.ignore(hint);
        }
        system_frames.push(component);
        app_frames.push(app);
    }

    // A lone JavaScript frame without a function that points at a URL says nothing.
    if let [only] = frames.as_slice() {
        let js = Family::of(only.platform.or(event_platform)) == Family::JavaScript;
        if js && only.function.is_none() && has_url_origin(only.abs_path, true) {
            for c in system_frames.iter_mut().chain(app_frames.iter_mut()) {
                if c.contributes {
                    c.ignore("ignored single non-URL JavaScript frame");
                }
            }
        }
    }

    let total_in_app = in_app.iter().filter(|a| **a).count();
    let contributing = system_frames.iter().filter(|c| c.contributes).count();
    let in_app_contributing = system_frames
        .iter()
        .zip(&in_app)
        .filter(|(c, a)| **a && c.contributes)
        .count();

    let mut system = Component::parent("stacktrace", system_frames);
    let mut app = Component::parent("stacktrace", app_frames);
    if frames.is_empty() {
        system.ignore("ignored because it contains no frames");
        app.ignore("ignored because it contains no frames");
    } else {
        if contributing == 0 {
            system.ignore("ignored because it contains no contributing frames");
        }
        if total_in_app == 0 {
            app.ignore("ignored because it contains no in-app frames");
        } else if in_app_contributing == 0 {
            app.ignore("ignored because it contains no contributing frames");
        }
    }
    StacktraceVariants { app, system }
}

/// A frame identical to its caller in every locating field is a recursive call.
fn is_recursion(frame: &FrameView<'_>, previous: &FrameView<'_>) -> bool {
    frame.abs_path == previous.abs_path
        && frame.package == previous.package
        && frame.module == previous.module
        && frame.filename == previous.filename
        && frame.function == previous.function
        && frame.lineno == previous.lineno
        && frame.colno == previous.colno
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grouping::input::EventView;
    use crate::json::Json;

    /// `serde_json::json!` as a [`Json`] tree.
    macro_rules! json {
        ($($t:tt)+) => {
            crate::json::Json::from(serde_json::json!($($t)+))
        };
    }

    fn variants(frames: Json<'_>, platform: &str) -> StacktraceVariants {
        let event = json!({"platform": platform, "exception": {"values": [{"type": "E", "stacktrace": {"frames": frames}}]}});
        let view = EventView::new(&event);
        let st = view.exceptions[0]
            .stacktrace
            .clone()
            .expect("the test event has a stack trace");
        stacktrace_variants(&st, Some(platform))
    }

    #[test]
    fn app_variant_only_counts_in_app_frames() {
        let v = variants(
            json!([{"module": "lib", "function": "f", "in_app": false}, {"module": "app", "function": "g", "in_app": true}]),
            "python",
        );
        assert_eq!(v.app.contributing_values(), vec!["app", "g"]);
        assert_eq!(v.system.contributing_values(), vec!["lib", "f", "app", "g"]);
    }

    #[test]
    fn no_in_app_frames_means_no_app_stacktrace() {
        let v = variants(json!([{"module": "lib", "function": "f"}]), "python");
        assert!(!v.app.contributes);
        assert!(v.system.contributes);
    }

    #[test]
    fn recursion_counts_once() {
        let f = json!({"module": "m", "function": "f", "in_app": true});
        let v = variants(json!([f.clone(), f]), "python");
        assert_eq!(v.system.contributing_values(), vec!["m", "f"]);
    }

    #[test]
    fn empty_stacktrace_contributes_nothing() {
        let v = variants(json!([]), "csharp");
        assert!(!v.app.contributes && !v.system.contributes);
    }
}
