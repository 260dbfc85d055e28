//! The walk over an event: which frames are symbolicated, how each is mapped, and how the
//! result is merged back the way Sentry merges symbolicator's answer.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use symbolic_sourcemapcache::{ScopeLookupResult, SourcePosition};

use super::cache::{BuiltMap, CacheKey, CachedMap, PreparedSource};
use super::names::{context_lines, context_lines_indexed, fold_function_name, function_for_token};
use super::paths::{
    decode_data_url, fixup_webpack_filename, generate_module, is_in_app, join_paths,
    release_file_candidates,
};
use super::{ArtifactLookup, FileType, SourceFile, Symbolication};
use crate::json::{Json, Object};

/// Symbolicates every JavaScript frame of `event` (exceptions, the top-level stack trace,
/// threads) with the project's uploaded files, in place; whether a source map changed any
/// frame. Never fails: what cannot be mapped stays minified and is noted in `errors`.
pub fn symbolicate_event(event: &mut Json<'_>, symbolication: &Symbolication) -> bool {
    let Some(object) = event.as_object() else {
        return false;
    };
    let platform = object.get("platform").and_then(Json::as_str);
    if !symbolication.has_uploads && platform != Some("javascript") {
        return false;
    }
    if !has_handled_frame(object, platform) {
        return false;
    }
    let platform = platform.map(str::to_owned);
    let mut session = Session {
        lookup: symbolication.lookup.as_ref(),
        caches: &symbolication.caches,
        release: object
            .get("release")
            .and_then(Json::as_str)
            .filter(|r| !r.is_empty())
            .map(str::to_owned),
        dist: object
            .get("dist")
            .and_then(Json::as_str)
            .filter(|d| !d.is_empty())
            .map(str::to_owned),
        images: sourcemap_images(object),
        modules: HashMap::new(),
        sources: HashMap::new(),
        errors: BTreeSet::new(),
        mapped_any: false,
    };

    let Some(object) = event.as_object_mut() else {
        return false;
    };
    let platform = platform.as_deref();
    for key in ["exception", "threads"] {
        let list = match object.get_mut(key) {
            Some(Json::Object(container)) => container.get_mut("values"),
            other => other,
        };
        if let Some(Json::Array(items)) = list {
            for item in items {
                if let Json::Object(container) = item {
                    symbolicate_container(container, platform, &mut session);
                }
            }
        }
    }
    if let Some(stacktrace) = object.get_mut("stacktrace") {
        // A top-level stack trace has no container to keep its raw frames in.
        let _ = symbolicate_stacktrace(stacktrace, platform, &mut session);
    }

    let errors = std::mem::take(&mut session.errors);
    if !errors.is_empty() {
        let list = object
            .entry("errors")
            .or_insert_with(|| Json::Array(Vec::new()));
        if !list.is_array() {
            *list = Json::Array(Vec::new());
        }
        if let Json::Array(list) = list {
            list.extend(errors.into_iter().filter_map(ModuleError::into_event_error));
        }
    }
    session.mapped_any
}

/// An exception or thread: its stack trace is symbolicated and the minified one kept next to
/// it as `raw_stacktrace`.
fn symbolicate_container(
    container: &mut Object<'_>,
    platform: Option<&str>,
    session: &mut Session,
) {
    let Some(stacktrace) = container.get_mut("stacktrace") else {
        return;
    };
    let Some(raw) = symbolicate_stacktrace(stacktrace, platform, session) else {
        return;
    };
    // In Relay's field order: right after `stacktrace`.
    let fields = std::mem::take(container);
    let mut raw = Some(raw);
    for (key, value) in fields {
        // One the event came with is replaced, as Sentry replaces it.
        if key == "raw_stacktrace" {
            continue;
        }
        let after = key == "stacktrace";
        container.insert(key, value);
        if after {
            if let Some(raw) = raw.take() {
                container.insert("raw_stacktrace", raw);
            }
        }
    }
}

/// Symbolicates one stack trace's frames; returns the raw stack trace to keep, `None` when it
/// has no frames.
fn symbolicate_stacktrace<'a>(
    stacktrace: &mut Json<'a>,
    platform: Option<&str>,
    session: &mut Session,
) -> Option<Json<'a>> {
    let frames = stacktrace.get_mut("frames")?.as_array_mut()?;
    if frames.is_empty() {
        return None;
    }
    let mut raw_frames = Vec::with_capacity(frames.len());
    // The original name the calling frame's position maps to: the name this frame's function
    // was called by, a better name than `<anonymous>` (Sentry's "caller naming").
    let mut caller_token_name: Option<String> = None;
    for frame in frames.iter_mut() {
        let Json::Object(frame) = frame else {
            raw_frames.push(frame.clone());
            continue;
        };
        let Some(input) = FrameInput::read(frame, platform) else {
            raw_frames.push(Json::Object(frame.clone()));
            if frame_is_native_or_builtin(frame, platform) {
                frame.insert("in_app", Json::Bool(false));
            }
            continue;
        };
        let outcome = session.symbolicate_frame(&input, caller_token_name.take());
        let mut raw = frame.clone();
        match outcome.result {
            Ok(mapped) => {
                if let Some(context) = outcome.raw_context {
                    context.write(&mut raw);
                }
                caller_token_name = mapped.token_name.clone();
                session.mapped_any = true;
                mapped.write(frame);
            }
            Err(kind) => {
                // As symbolicator answers for a frame it could not map: the minified frame,
                // with the minified source's lines and `data.symbolicated: false`.
                if let Some(context) = outcome.raw_context {
                    context.clone().write(&mut raw);
                    context.write(frame);
                }
                write_data(frame, None, outcome.raw_resolved_with, false);
                if let Some(kind) = kind {
                    session.errors.insert(ModuleError {
                        abs_path: input.abs_path.clone(),
                        kind,
                    });
                }
            }
        }
        raw_frames.push(Json::Object(raw));
    }
    let mut raw = Object::with_capacity(1);
    raw.insert("frames", Json::Array(raw_frames));
    Some(Json::Object(raw))
}

/// Whether any frame will be looked at: otherwise the event is left exactly as it is.
fn has_handled_frame(event: &Object<'_>, platform: Option<&str>) -> bool {
    let handles = |stacktrace: Option<&Json<'_>>| {
        stacktrace
            .and_then(|s| s.get("frames"))
            .and_then(Json::as_array)
            .is_some_and(|frames| {
                frames.iter().any(|f| {
                    f.as_object()
                        .is_some_and(|f| FrameInput::read(f, platform).is_some())
                })
            })
    };
    let in_list = |key: &str| {
        let list = match event.get(key) {
            Some(Json::Object(container)) => container.get("values"),
            other => other,
        };
        list.and_then(Json::as_array)
            .is_some_and(|items| items.iter().any(|item| handles(item.get("stacktrace"))))
    };
    in_list("exception") || in_list("threads") || handles(event.get("stacktrace"))
}

/// `debug_meta.images[]` of type `sourcemap`: the debug ID of each minified file's URL.
fn sourcemap_images(event: &Object<'_>) -> HashMap<String, String> {
    let Some(images) = event
        .get("debug_meta")
        .and_then(|d| d.get("images"))
        .and_then(Json::as_array)
    else {
        return HashMap::new();
    };
    images
        .iter()
        .filter(|image| image.get("type").and_then(Json::as_str) == Some("sourcemap"))
        .filter_map(|image| {
            let code_file = image.get("code_file").and_then(Json::as_str)?;
            let debug_id = image.get("debug_id").and_then(Json::as_str)?;
            let debug_id = super::bundle::normalize_debug_id(debug_id)?;
            Some((code_file.to_owned(), debug_id))
        })
        .collect()
}

fn is_js_platform(platform: Option<&str>) -> bool {
    matches!(platform, Some("javascript" | "node"))
}

fn is_native_path(abs_path: &str) -> bool {
    matches!(abs_path, "native" | "[native code]")
}

/// A Node.js built-in module's frame (`node:internal/…`, `events.js`): nothing to map.
/// Paths of the app are absolute (`/`, `C:`), or `app:`/`webpack:` URLs.
fn is_node_builtin(abs_path: &str, platform: Option<&str>) -> bool {
    if platform != Some("node") {
        return false;
    }
    if abs_path.starts_with('/') {
        return false;
    }
    let Some((scheme, _)) = abs_path.split_once(':') else {
        return true;
    };
    let own = scheme == "app"
        || scheme == "webpack"
        || (scheme.len() == 1 && scheme.chars().all(|c| c.is_ascii_alphabetic()));
    !own
}

fn frame_is_native_or_builtin(frame: &Object<'_>, platform: Option<&str>) -> bool {
    let frame_platform = frame.get("platform").and_then(Json::as_str).or(platform);
    if !is_js_platform(frame_platform) {
        return false;
    }
    frame
        .get("abs_path")
        .and_then(Json::as_str)
        .filter(|p| !p.is_empty())
        .is_some_and(|p| is_native_path(p) || is_node_builtin(p, platform))
}

/// The parts of a minified frame symbolication reads.
struct FrameInput {
    abs_path: String,
    lineno: u32,
    colno: Option<u32>,
    function: Option<String>,
}

impl FrameInput {
    /// The frame, when it is one Sentry sends to be symbolicated: a JavaScript frame with a
    /// path and a line, not native code or a Node built-in.
    fn read(frame: &Object<'_>, platform: Option<&str>) -> Option<Self> {
        let frame_platform = frame.get("platform").and_then(Json::as_str).or(platform);
        if !is_js_platform(frame_platform) {
            return None;
        }
        let abs_path = frame
            .get("abs_path")
            .and_then(Json::as_str)
            .filter(|p| !p.is_empty())?;
        let lineno = frame
            .get("lineno")
            .and_then(Json::as_u64)
            .filter(|l| *l > 0)?;
        if is_native_path(abs_path) || is_node_builtin(abs_path, platform) {
            return None;
        }
        // Some old SDKs left V8's `async ` marker in the path.
        let abs_path = abs_path.strip_prefix("async ").unwrap_or(abs_path);
        Some(FrameInput {
            abs_path: abs_path.to_owned(),
            lineno: u32::try_from(lineno).unwrap_or(u32::MAX),
            colno: frame
                .get("colno")
                .and_then(Json::as_u64)
                .map(|c| u32::try_from(c).unwrap_or(u32::MAX)),
            function: frame
                .get("function")
                .and_then(Json::as_str)
                .map(str::to_owned),
        })
    }
}

/// How a file was found, as Sentry's `data.resolved_with` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResolvedWith {
    /// By the debug ID the event or the file named.
    DebugId,
    /// Among the release's files, by URL.
    Release,
}

impl ResolvedWith {
    fn as_str(self) -> &'static str {
        match self {
            ResolvedWith::DebugId => "debug-id",
            ResolvedWith::Release => "release",
        }
    }
}

/// Why a frame was not (fully) mapped; ordered as symbolicator orders its errors.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum ErrorKind {
    InvalidLocation {
        line: u32,
        col: Option<u32>,
    },
    MissingSourceContent {
        source: String,
        sourcemap: String,
    },
    MissingSource,
    MalformedSourcemap {
        url: String,
    },
    MissingSourcemap,
    /// The store failed while looking the file up.
    LookupFailed {
        url: String,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ModuleError {
    abs_path: String,
    kind: ErrorKind,
}

impl ModuleError {
    /// The entry of the event's `errors`, as Sentry's `map_symbolicator_process_js_errors`
    /// writes it; missing files of third-party code (`node_modules`, browser extensions) are
    /// not worth one.
    fn into_event_error<'a>(self) -> Option<Json<'a>> {
        let skip_missing = self.abs_path.contains("node_modules")
            || self.abs_path.starts_with("chrome-extension:");
        let mut entry = Object::with_capacity(4);
        let mut put = |key: &'static str, value: Json<'a>| {
            entry.insert(key, value);
        };
        match self.kind {
            ErrorKind::MissingSource | ErrorKind::MissingSourcemap if skip_missing => return None,
            ErrorKind::MissingSource => {
                put("symbolicator_type", "missing_source".into());
                put("type", "js_no_source".into());
                put("url", self.abs_path.into());
            }
            ErrorKind::MissingSourcemap => {
                put("symbolicator_type", "missing_sourcemap".into());
                put("type", "js_no_source".into());
                put("url", self.abs_path.into());
            }
            ErrorKind::MalformedSourcemap { url } => {
                put("symbolicator_type", "malformed_sourcemap".into());
                put("type", "js_invalid_source".into());
                put("url", url.into());
            }
            ErrorKind::MissingSourceContent { source, sourcemap } => {
                put("symbolicator_type", "missing_source_content".into());
                put("type", "js_missing_sources_content".into());
                put("source", source.into());
                put("sourcemap", sourcemap.into());
            }
            ErrorKind::InvalidLocation { line, col } => {
                put("symbolicator_type", "invalid_location".into());
                put("type", "js_invalid_sourcemap_location".into());
                put("column", col.map_or(Json::Null, Json::from));
                put("row", line.into());
                put("source", self.abs_path.into());
            }
            ErrorKind::LookupFailed { url, reason } => {
                put("type", "js_generic_fetch_error".into());
                put("url", url.into());
                put("reason", reason.into());
            }
        }
        Some(Json::Object(entry))
    }
}

/// The source lines around a frame.
#[derive(Clone)]
struct Context {
    pre: Vec<String>,
    line: String,
    post: Vec<String>,
}

impl Context {
    fn of(source: &str, lineno: u32, colno: Option<u32>) -> Option<Self> {
        let (pre, line, post) =
            context_lines(source, lineno as usize, colno.unwrap_or(0) as usize)?;
        Some(Context { pre, line, post })
    }

    /// The lines of a minified file around a frame, sliced from its line index.
    fn of_prepared(source: &PreparedSource, lineno: u32, colno: Option<u32>) -> Option<Self> {
        let (pre, line, post) = context_lines_indexed(
            |i| source.line(i),
            lineno as usize,
            colno.unwrap_or(0) as usize,
        )?;
        Some(Context { pre, line, post })
    }

    /// Sets the frame's context fields, each only when it has something (Sentry's merge).
    fn write(self, frame: &mut Object<'_>) {
        let list = |lines: Vec<String>| Json::Array(lines.into_iter().map(Json::from).collect());
        if !self.pre.is_empty() {
            frame.insert("pre_context", list(self.pre));
        }
        if !self.line.is_empty() {
            frame.insert("context_line", Json::from(self.line));
        }
        if !self.post.is_empty() {
            frame.insert("post_context", list(self.post));
        }
    }
}

/// Line `index` of an original source held in a built map, as `str::lines` would give it.
fn original_line<'s>(file: &symbolic_sourcemapcache::File<'s>, index: usize) -> Option<&'s str> {
    let line = file.line(index)?;
    // The cache adds an empty line after a final line break; `lines` has none.
    if line.is_empty() {
        return None;
    }
    let line = line.strip_suffix('\n').unwrap_or(line);
    Some(line.strip_suffix('\r').unwrap_or(line))
}

/// A frame mapped to its original location.
struct Mapped {
    function: String,
    abs_path: Option<String>,
    filename: Option<String>,
    module: Option<String>,
    in_app: Option<bool>,
    lineno: u32,
    colno: u32,
    context: Option<Context>,
    sourcemap: String,
    resolved_with: ResolvedWith,
    /// The original name at the mapped position, for the next frame's function name.
    token_name: Option<String>,
}

impl Mapped {
    fn write(self, frame: &mut Object<'_>) {
        if !self.function.is_empty() {
            frame.insert("function", Json::from(self.function));
        }
        if let Some(abs_path) = self.abs_path.filter(|p| !p.is_empty()) {
            frame.insert("abs_path", Json::from(abs_path));
        }
        if let Some(filename) = self.filename.filter(|f| !f.is_empty()) {
            frame.insert("filename", Json::from(filename));
        }
        frame.insert("lineno", Json::from(u64::from(self.lineno)));
        frame.insert("colno", Json::from(u64::from(self.colno)));
        if let Some(context) = self.context {
            context.write(frame);
        }
        write_data(frame, Some(self.sourcemap), Some(self.resolved_with), true);
        if let Some(module) = self.module.filter(|m| !m.is_empty()) {
            frame.insert("module", Json::from(module));
        }
        if let Some(in_app) = self.in_app {
            frame.insert("in_app", Json::Bool(in_app));
        }
    }
}

/// `data.sourcemap`, `data.resolved_with` and `data.symbolicated`, kept with the frame's other
/// `data`.
fn write_data(
    frame: &mut Object<'_>,
    sourcemap: Option<String>,
    resolved_with: Option<ResolvedWith>,
    symbolicated: bool,
) {
    let data = frame
        .entry("data")
        .or_insert_with(|| Json::Object(Object::new()));
    if !data.is_object() {
        *data = Json::Object(Object::new());
    }
    if let Json::Object(data) = data {
        if let Some(sourcemap) = sourcemap {
            data.insert("sourcemap", Json::from(sourcemap));
        }
        if let Some(resolved_with) = resolved_with {
            data.insert("resolved_with", Json::from(resolved_with.as_str()));
        }
        data.insert("symbolicated", Json::Bool(symbolicated));
    }
}

/// What became of one frame.
struct FrameOutcome {
    /// The minified source's lines, for the raw frame (and an unmapped one).
    raw_context: Option<Context>,
    /// The mapped frame, or why not (`None`: nothing to say, the file needs no map).
    result: Result<Mapped, Option<ErrorKind>>,
    /// How a map that turned out broken was found.
    raw_resolved_with: Option<ResolvedWith>,
}

/// The source map of a minified file, as far as it could be had.
enum MapState {
    /// The file names no map and has no debug ID: used as it is.
    NotNeeded,
    Built {
        map: Arc<CachedMap>,
        resolved_with: ResolvedWith,
    },
    Missing,
    /// Found but unusable (not JSON, not a map, a broken `data:` URL).
    Malformed {
        resolved_with: ResolvedWith,
    },
    LookupFailed {
        url: String,
        reason: String,
    },
}

/// Everything known about one minified file (one `abs_path`) of the event.
struct Module {
    /// The minified file's text; or not found (`None`), or the store's failure (URL, reason).
    minified: Result<Arc<PreparedSource>, Option<(String, String)>>,
    map: MapState,
    /// The map's URL, or the minified file's when the map has none (inline, by debug ID):
    /// what `data.sourcemap` and errors name.
    sourcemap_label: String,
    /// Where the map's relative `sources` are resolved from.
    source_base: String,
}

/// One event's symbolication: the files it needed, looked up once each.
struct Session<'s> {
    lookup: &'s dyn ArtifactLookup,
    caches: &'s super::SourceMapCaches,
    release: Option<String>,
    dist: Option<String>,
    images: HashMap<String, String>,
    modules: HashMap<String, Arc<Module>>,
    /// Original sources looked up by URL (for maps without `sourcesContent`).
    sources: HashMap<String, Option<Arc<str>>>,
    errors: BTreeSet<ModuleError>,
    /// Whether a source map changed any frame.
    mapped_any: bool,
}

impl Session<'_> {
    fn symbolicate_frame(
        &mut self,
        input: &FrameInput,
        caller_token_name: Option<String>,
    ) -> FrameOutcome {
        let module = self.module(&input.abs_path);
        let fail = |raw_context, kind, raw_resolved_with| FrameOutcome {
            raw_context,
            result: Err(kind),
            raw_resolved_with,
        };
        let minified = match &module.minified {
            Ok(minified) => minified,
            Err(None) => return fail(None, Some(ErrorKind::MissingSource), None),
            Err(Some((url, reason))) => {
                let kind = ErrorKind::LookupFailed {
                    url: url.clone(),
                    reason: reason.clone(),
                };
                return fail(None, Some(kind), None);
            }
        };
        let raw_context = Context::of_prepared(minified, input.lineno, input.colno);
        let (map, resolved_with) = match &module.map {
            MapState::NotNeeded => return fail(raw_context, None, None),
            MapState::Missing => return fail(raw_context, Some(ErrorKind::MissingSourcemap), None),
            MapState::LookupFailed { url, reason } => {
                let kind = ErrorKind::LookupFailed {
                    url: url.clone(),
                    reason: reason.clone(),
                };
                return fail(raw_context, Some(kind), None);
            }
            MapState::Malformed { resolved_with } => {
                let kind = ErrorKind::MalformedSourcemap {
                    url: module.sourcemap_label.clone(),
                };
                return fail(raw_context, Some(kind), Some(*resolved_with));
            }
            MapState::Built { map, resolved_with } => (Arc::clone(map), *resolved_with),
        };
        let Some(cache) = map.as_ref().as_ref().ok().and_then(BuiltMap::get) else {
            let kind = ErrorKind::MalformedSourcemap {
                url: module.sourcemap_label.clone(),
            };
            return fail(raw_context, Some(kind), Some(resolved_with));
        };

        let col = input.colno.unwrap_or(0);
        let position = SourcePosition::new(input.lineno - 1, col.saturating_sub(1));
        let Some(token) = cache.lookup(position) else {
            let kind = ErrorKind::InvalidLocation {
                line: input.lineno,
                col: Some(col),
            };
            return fail(raw_context, Some(kind), None);
        };

        let scope_name = match token.scope() {
            ScopeLookupResult::NamedScope(name) if name.starts_with("$async$") => {
                token.name().unwrap_or(name).to_owned()
            }
            ScopeLookupResult::NamedScope(name) => name.to_owned(),
            ScopeLookupResult::AnonymousScope => "<anonymous>".to_owned(),
            ScopeLookupResult::Unknown => input
                .function
                .clone()
                .unwrap_or_else(|| "<unknown>".to_owned()),
        };
        let function = fold_function_name(function_for_token(
            input.function.as_deref(),
            &scope_name,
            caller_token_name.as_deref(),
        ));

        let mut mapped = Mapped {
            function,
            abs_path: None,
            filename: None,
            module: None,
            in_app: None,
            lineno: token.line().saturating_add(1),
            colno: token.column().saturating_add(1),
            context: None,
            sourcemap: module.sourcemap_label.clone(),
            resolved_with,
            token_name: token.name().map(str::to_owned),
        };
        if let Some(file_name) = token.file_name() {
            let abs_path = join_paths(&module.source_base, file_name);
            let mut filename = file_name.to_owned();
            if filename.starts_with("webpack:") {
                filename = fixup_webpack_filename(&filename);
                mapped.module = Some(generate_module(&filename));
            }
            mapped.in_app = is_in_app(&abs_path, &filename);
            if mapped.module.is_none()
                && ["http:", "https:", "webpack:", "app:"]
                    .iter()
                    .any(|scheme| abs_path.starts_with(scheme))
            {
                mapped.module = Some(generate_module(&abs_path));
            }
            mapped.abs_path = Some(abs_path);
            mapped.filename = Some(filename);
        }

        if let Some(file) = token.file() {
            match file.source() {
                Some(_) => {
                    // The cache indexed the source's lines: a slice, not a scan from the top.
                    let line = |i| original_line(&file, i);
                    mapped.context =
                        context_lines_indexed(line, mapped.lineno as usize, mapped.colno as usize)
                            .map(|(pre, line, post)| Context { pre, line, post });
                }
                None => {
                    // No `sourcesContent`: the original file may have been uploaded itself.
                    let source_url = file
                        .name()
                        .map(|name| join_paths(&module.source_base, name));
                    let source = source_url.as_deref().and_then(|url| self.source_file(url));
                    mapped.context = source
                        .as_deref()
                        .and_then(|s| Context::of(s, mapped.lineno, Some(mapped.colno)));
                    if mapped.context.is_none() {
                        self.errors.insert(ModuleError {
                            abs_path: input.abs_path.clone(),
                            kind: ErrorKind::MissingSourceContent {
                                source: source_url.unwrap_or_default(),
                                sourcemap: module.sourcemap_label.clone(),
                            },
                        });
                    }
                }
            }
        }

        FrameOutcome {
            raw_context,
            result: Ok(mapped),
            raw_resolved_with: None,
        }
    }

    /// The module of a frame's `abs_path`, resolved on first use.
    fn module(&mut self, abs_path: &str) -> Arc<Module> {
        if let Some(module) = self.modules.get(abs_path) {
            return Arc::clone(module);
        }
        let module = Arc::new(self.resolve_module(abs_path));
        self.modules
            .insert(abs_path.to_owned(), Arc::clone(&module));
        module
    }

    fn resolve_module(&mut self, abs_path: &str) -> Module {
        let image_debug_id = self.images.get(abs_path).cloned();
        let unresolved = |minified| Module {
            minified,
            map: MapState::NotNeeded,
            sourcemap_label: abs_path.to_owned(),
            source_base: abs_path.to_owned(),
        };

        // The minified file: by debug ID, else among the release's files.
        let found = match &image_debug_id {
            Some(id) => match self.lookup.by_debug_id(id, FileType::MinifiedSource) {
                Ok(Some(file)) => Ok(Some((file, ResolvedWith::DebugId))),
                Ok(None) => self.release_file(abs_path),
                Err(e) => Err(e),
            },
            None => self.release_file(abs_path),
        };
        let (file, resolved_with) = match found {
            Ok(Some(found)) => found,
            Ok(None) => return unresolved(Err(None)),
            Err(e) => {
                tracing::warn!(abs_path, error = %e, "source map lookup failed");
                return unresolved(Err(Some((abs_path.to_owned(), e.to_string()))));
            }
        };
        let text = self.caches.prepared_source(&file.id, &file.bytes);

        let reference = file
            .headers
            .get("sourcemap")
            .or_else(|| file.headers.get("x-sourcemap"))
            .or(text.sourcemap_reference.as_ref())
            .cloned();
        let debug_id = image_debug_id.or_else(|| {
            file.headers
                .get("debug-id")
                .and_then(|id| super::bundle::normalize_debug_id(id))
                .or_else(|| text.debug_id.clone())
        });

        let mut module = Module {
            minified: Err(None),
            map: MapState::NotNeeded,
            sourcemap_label: abs_path.to_owned(),
            source_base: abs_path.to_owned(),
        };
        match reference.as_deref() {
            Some(data_url) if data_url.starts_with("data:") => {
                module.map = match decode_data_url(data_url) {
                    Ok(map) => {
                        let key = CacheKey {
                            minified: file.id.clone(),
                            map: format!("{}#inline", file.id),
                        };
                        // Found with the minified file, so found the way it was.
                        self.build(&key, text.text(), &map, resolved_with)
                    }
                    Err(_) => MapState::Malformed { resolved_with },
                };
            }
            Some(reference) => {
                let url = join_paths(abs_path, reference);
                module.sourcemap_label = url.clone();
                module.source_base = url.clone();
                module.map = self.find_map(&file, text.text(), debug_id.as_deref(), Some(&url));
            }
            None if debug_id.is_some() => {
                module.map = self.find_map(&file, text.text(), debug_id.as_deref(), None);
            }
            None => {}
        }
        module.minified = Ok(text);
        module
    }

    /// The map of a minified file: by debug ID first, else by its URL among the release's
    /// files.
    fn find_map(
        &mut self,
        minified: &SourceFile,
        text: &str,
        debug_id: Option<&str>,
        url: Option<&str>,
    ) -> MapState {
        let failed = |e: super::LookupError| {
            tracing::warn!(url, error = %e, "source map lookup failed");
            MapState::LookupFailed {
                url: url.unwrap_or(&minified.url).to_owned(),
                reason: e.to_string(),
            }
        };
        let mut found = None;
        if let Some(id) = debug_id {
            match self.lookup.by_debug_id(id, FileType::SourceMap) {
                Ok(Some(map)) => found = Some((map, ResolvedWith::DebugId)),
                Ok(None) => {}
                Err(e) => return failed(e),
            }
        }
        if found.is_none() {
            if let Some(url) = url {
                match self.release_file(url) {
                    Ok(map) => found = map,
                    Err(e) => return failed(e),
                }
            }
        }
        let Some((map, resolved_with)) = found else {
            return MapState::Missing;
        };
        let key = CacheKey {
            minified: minified.id.clone(),
            map: map.id.clone(),
        };
        self.build(&key, text, &map.bytes, resolved_with)
    }

    fn build(
        &self,
        key: &CacheKey,
        minified: &str,
        map: &[u8],
        resolved_with: ResolvedWith,
    ) -> MapState {
        let built = self.caches.get_or_build(key, || {
            let map = std::str::from_utf8(map).map_err(|e| format!("not UTF-8: {e}"))?;
            BuiltMap::build(minified, map)
        });
        match built.as_ref() {
            Ok(_) => MapState::Built {
                map: built,
                resolved_with,
            },
            Err(reason) => {
                tracing::debug!(map = key.map, reason, "unusable source map");
                MapState::Malformed { resolved_with }
            }
        }
    }

    /// The release's file served at `url`, under the first candidate name it has.
    fn release_file(
        &self,
        url: &str,
    ) -> Result<Option<(SourceFile, ResolvedWith)>, super::LookupError> {
        let Some(release) = self.release.as_deref() else {
            return Ok(None);
        };
        for candidate in release_file_candidates(url) {
            if let Some(file) = self
                .lookup
                .by_url(release, self.dist.as_deref(), &candidate)?
            {
                return Ok(Some((file, ResolvedWith::Release)));
            }
        }
        Ok(None)
    }

    /// An original source uploaded as a file of its own, by URL.
    fn source_file(&mut self, url: &str) -> Option<Arc<str>> {
        if let Some(known) = self.sources.get(url) {
            return known.clone();
        }
        let found = match self.release_file(url) {
            Ok(found) => found.map(|(file, _)| Arc::from(String::from_utf8_lossy(&file.bytes))),
            Err(e) => {
                tracing::warn!(url, error = %e, "source lookup failed");
                None
            }
        };
        self.sources.insert(url.to_owned(), found.clone());
        found
    }
}

/// Puts every kept `raw_stacktrace` back in place of its symbolicated `stacktrace`: the event as
/// the SDK sent its frames.
pub fn restore_raw_stacktraces(event: &mut Json<'_>) {
    for key in ["exception", "threads"] {
        let Some(values) = event
            .get_mut(key)
            .and_then(|v| v.get_mut("values"))
            .and_then(Json::as_array_mut)
        else {
            continue;
        };
        for container in values.iter_mut().filter_map(Json::as_object_mut) {
            if let Some(raw) = container.remove("raw_stacktrace") {
                container.insert("stacktrace", raw);
            }
        }
    }
}
