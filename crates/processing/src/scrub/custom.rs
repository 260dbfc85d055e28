//! Running a compiled PII config (a project's advanced data scrubbing rules) over an event, as
//! Relay's `PiiProcessor` does: every value the schema lets scrubbing see is a state (its key
//! or index, its value types, its field's `pii`); each application whose selector matches the
//! state runs its rules on the value — on a string its regexes (redacting matches or the whole
//! value), on a number, array or object only the rules that remove (`anything`, a key match).
//!
//! The schema is the data scrubber's (`walk`), with the `pii` Relay gives fields that the data
//! scrubbing conversion happens to exclude (`$error.value`, `$logentry.formatted`, the user
//! agent header, …) and the known fields of spans and contexts that are not `pii`.

use std::borrow::Cow;

use crate::json::{Json, Object};

use super::hash::hash_value;
use super::meta::{MetaTree, Path};
use super::pii_config::{CompiledPiiConfig, Matcher, On, Redaction, Replace, Rule};
use super::redact::{Redactor, RemarkType, Replacement};
use super::rules;
use super::selector::{Pii, State, Types, ValueType};
use super::walk::{self, context_kind, is_pair_list, is_unscrubbable, normalize_header_name};
use super::walk::{Field, Kind};

/// Span fields Relay's schema knows and does not mark `pii` (the others are `maybe`).
const SPAN_NOT_PII: &[&str] = &[
    "op",
    "status",
    "origin",
    "exclusive_time",
    "parent_span_id",
    "span_id",
    "trace_id",
    "tags",
    "sentry_tags",
    "segment_id",
    "is_segment",
    "measurements",
    "start_timestamp",
    "timestamp",
    "kind",
    "links",
    "received",
    "platform",
    "was_transaction",
    "profile_id",
];

/// The known span data fields (of spans and the trace context), `pii = "maybe"` unlike the
/// others; the ones SDKs send that Vigil checked against Relay.
const SPAN_DATA_MAYBE: &[&str] = &[
    "db.name",
    "db.system",
    "http.method",
    "http.response.status_code",
    "messaging.message.id",
    "messaging.message.receive.latency",
    "messaging.message.retry.count",
    "messaging.system",
    "thread.id",
    "thread.name",
];

/// Trace context fields that are not `pii` (`data` is data; the others are `maybe`).
const TRACE_NOT_PII: &[&str] = &[
    "client_sample_rate",
    "exclusive_time",
    "op",
    "origin",
    "parent_span_id",
    "sampled",
    "span_id",
    "status",
    "trace_id",
];

/// The fields of the known contexts whose other fields are `pii = "maybe"` that are not `pii`.
fn context_not_pii(ty: &str) -> &'static [&'static str] {
    match ty {
        "device" => &[
            "arch",
            "battery_level",
            "brand",
            "family",
            "free_memory",
            "free_storage",
            "low_memory",
            "manufacturer",
            "memory_size",
            "model",
            "model_id",
            "orientation",
            "processor_count",
            "processor_frequency",
            "simulator",
            "storage_size",
            "usable_memory",
        ],
        "app" => &[
            "app_build",
            "app_identifier",
            "app_memory",
            "app_name",
            "app_version",
            "build_type",
            "in_foreground",
            "view_names",
        ],
        "browser" | "runtime" => &["name", "version"],
        "os" => &["name", "rooted", "version"],
        "gpu" => &[
            "graphics_shader_level",
            "max_texture_size",
            "memory_size",
            "multi_threaded_rendering",
            "supports_compute_shaders",
            "supports_draw_call_instancing",
            "supports_geometry_shaders",
            "supports_ray_tracing",
        ],
        "culture" => &["is_24_hour_format"],
        "flags" => &["values"],
        "otel" => &["resource"],
        "memory_info" => &["allocated_bytes", "total_available_memory_bytes"],
        _ => &[],
    }
}

/// How the custom walk sees a struct field: the data scrubber's view, with Relay's own `pii`
/// where the conversion's exclusions made the two differ.
fn custom_field(kind: Kind, key: &str) -> Field {
    match (kind, key) {
        (Kind::Exception, "value") => Field::Data,
        (Kind::Frame, "module") | (Kind::Request, "url") | (Kind::Csp, "source_file") => {
            Field::Maybe
        }
        (Kind::Span, k) if SPAN_NOT_PII.contains(&k) => Field::Skip,
        (Kind::TraceContext, k) if TRACE_NOT_PII.contains(&k) => Field::Skip,
        (Kind::ResponseContext, "status_code" | "body_size" | "type") => Field::Skip,
        (Kind::TraceContext, "type") => Field::Skip,
        _ => walk::field(kind, key),
    }
}

/// The value type of a struct.
fn struct_type(kind: Kind) -> Types {
    match kind {
        Kind::User => Types::of(ValueType::User),
        Kind::Request => Types::of(ValueType::Request),
        Kind::LogEntry => Types::of(ValueType::LogEntry),
        Kind::Sdk => Types::of(ValueType::ClientSdkInfo),
        Kind::Breadcrumb => Types::of(ValueType::Breadcrumb),
        Kind::Exception => Types::of(ValueType::Exception),
        Kind::Thread => Types::of(ValueType::Thread),
        Kind::Stacktrace => Types::of(ValueType::Stacktrace),
        Kind::Frame => Types::of(ValueType::Frame),
        Kind::Span => Types::of(ValueType::Span),
        _ => Types::NONE,
    }
}

/// The value type of a JSON value.
fn json_type(value: &Json<'_>) -> Types {
    match value {
        Json::String(_) => Types::of(ValueType::String),
        Json::Number(_) => Types::of(ValueType::Number),
        Json::Bool(_) => Types::of(ValueType::Boolean),
        Json::Array(_) => Types::of(ValueType::Array),
        Json::Object(_) => Types::of(ValueType::Object),
        Json::Null => Types::NONE,
    }
}

/// One step of the walk's path: the selector state and the link to the parent.
struct Node<'n> {
    parent: Option<&'n Node<'n>>,
    state: State<'n>,
}

impl<'n> Node<'n> {
    fn child(&'n self, key: Option<&'n str>, index: Option<usize>, types: Types) -> Node<'n> {
        Node {
            parent: Some(self),
            state: State { key, index, types },
        }
    }

    /// The states from the root to this one.
    fn states(&self) -> Vec<State<'n>> {
        let mut out = Vec::with_capacity(12);
        let mut at = Some(self);
        while let Some(n) = at {
            out.push(n.state);
            at = n.parent;
        }
        out.reverse();
        out
    }
}

/// How a value is typed beyond its JSON kind.
#[derive(Clone, Copy, Default)]
struct Flags {
    /// The children are header pairs, whose names Relay normalizes.
    header_names: bool,
    /// A pair-list field of the schema (headers, cookies, query string): an object to
    /// selectors whatever its JSON.
    pair_list: bool,
    /// `logentry.formatted`: a message as well as a string.
    message: bool,
    /// Span data, a struct of Relay's schema that Vigil walks as data: no value type of its
    /// own.
    untyped: bool,
    /// Span data: its known fields are `pii = "maybe"`.
    span_data: bool,
}

pub(crate) struct CustomWalker<'c, 'a> {
    config: &'c CompiledPiiConfig,
    meta: MetaTree<'a>,
}

/// What the rules did to a value.
enum Outcome {
    Kept,
    Removed,
}

impl<'c, 'a> CustomWalker<'c, 'a> {
    /// Scrub `event` with `config`; whether anything was scrubbed.
    pub fn scrub(config: &'c CompiledPiiConfig, event: &mut Object<'a>) -> bool {
        let mut walker = CustomWalker {
            config,
            meta: MetaTree::take_from(event),
        };
        let root = Node {
            parent: None,
            state: State::ROOT,
        };
        walker.fields(event, Kind::Event, &Path::ROOT, &root);
        let changed = walker.meta.changed();
        walker.meta.put_back(event);
        changed
    }

    fn fields(&mut self, obj: &mut Object<'_>, kind: Kind, path: &Path<'_>, node: &Node<'_>) {
        for (key, value) in obj.iter_mut() {
            let path = path.key(key);
            let field = custom_field(kind, key);
            let span_data = matches!((kind, key), (Kind::Span | Kind::TraceContext, "data"));
            let typing = Flags {
                // Pair-list fields of the schema, objects to selectors.
                pair_list: matches!(
                    (kind, key),
                    (Kind::Request, "cookies" | "query_string")
                        | (Kind::ResponseContext, "cookies")
                ),
                untyped: span_data,
                span_data,
                ..Flags::default()
            };
            self.field(value, field, key, &path, node, typing);
        }
    }

    fn field(
        &mut self,
        value: &mut Json<'_>,
        field: Field,
        key: &str,
        path: &Path<'_>,
        node: &Node<'_>,
        typing: Flags,
    ) {
        let data = |pii, flags| (pii, flags);
        let (pii, flags) = match field {
            Field::Skip => return,
            Field::Data | Field::IpData | Field::Env => data(Pii::True, Flags::default()),
            Field::Maybe => data(Pii::Maybe, Flags::default()),
            Field::Headers | Field::ResponseHeaders => data(
                Pii::True,
                Flags {
                    header_names: true,
                    pair_list: true,
                    ..Flags::default()
                },
            ),
            Field::Formatted => data(
                Pii::True,
                Flags {
                    message: true,
                    ..Flags::default()
                },
            ),
            Field::Struct(kind) => {
                if let Json::Object(obj) = value {
                    let node = node.child(Some(key), None, struct_type(kind));
                    self.struct_fields(obj, kind, path, &node);
                }
                return;
            }
            Field::Each(kind) => {
                if let Json::Array(items) = value {
                    let list = node.child(Some(key), None, Types::of(ValueType::Array));
                    for (i, item) in items.iter_mut().enumerate() {
                        if let Json::Object(obj) = item {
                            let node = list.child(None, Some(i), struct_type(kind));
                            self.struct_fields(obj, kind, &path.index(i), &node);
                        }
                    }
                }
                return;
            }
            Field::Values(kind) => {
                let wrapper = node.child(Some(key), None, Types::NONE);
                match value {
                    Json::Object(obj) => {
                        for (k, items) in obj.iter_mut() {
                            if let ("values", Json::Array(items)) = (k, items) {
                                let path = path.key(k);
                                let list =
                                    wrapper.child(Some(k), None, Types::of(ValueType::Array));
                                for (i, item) in items.iter_mut().enumerate() {
                                    if let Json::Object(obj) = item {
                                        let node = list.child(None, Some(i), struct_type(kind));
                                        self.struct_fields(obj, kind, &path.index(i), &node);
                                    }
                                }
                            }
                        }
                    }
                    Json::Array(items) => {
                        for (i, item) in items.iter_mut().enumerate() {
                            if let Json::Object(obj) = item {
                                let node = wrapper.child(None, Some(i), struct_type(kind));
                                self.struct_fields(obj, kind, &path.index(i), &node);
                            }
                        }
                    }
                    _ => {}
                }
                return;
            }
            Field::Contexts => {
                if let Json::Object(contexts) = value {
                    // `Contexts` is an object to selectors; a known context is not.
                    let node = node.child(Some(key), None, Types::of(ValueType::Object));
                    self.contexts(contexts, path, &node);
                }
                return;
            }
        };
        let flags = Flags {
            pair_list: flags.pair_list || typing.pair_list,
            untyped: typing.untyped,
            span_data: typing.span_data,
            ..flags
        };
        let child = node.child(Some(key), None, self.types(value, flags));
        self.value(value, path, &child, pii, flags);
    }

    fn struct_fields(
        &mut self,
        obj: &mut Object<'_>,
        kind: Kind,
        path: &Path<'_>,
        node: &Node<'_>,
    ) {
        let ip_was_valid = matches!(kind, Kind::User) && ip_is_valid(obj);
        self.fields(obj, kind, path, node);
        if ip_was_valid && !ip_is_valid(obj) {
            move_invalid_ip(obj, path, &mut self.meta);
        }
    }

    fn contexts(&mut self, contexts: &mut Object<'_>, path: &Path<'_>, node: &Node<'_>) {
        for (name, context) in contexts.iter_mut() {
            let ty = context
                .get("type")
                .and_then(Json::as_str)
                .unwrap_or(name)
                .to_owned();
            let path = path.key(name);
            match context_kind(&ty) {
                Kind::AllData => {
                    let child = node.child(Some(name), None, json_type(context));
                    self.value(context, &path, &child, Pii::True, Flags::default());
                }
                Kind::MaybeData => {
                    let not_pii = context_not_pii(&ty);
                    if let Json::Object(obj) = context {
                        let ctx = node.child(Some(name), None, Types::NONE);
                        for (key, value) in obj.iter_mut() {
                            if key == "type" || not_pii.contains(&key) {
                                continue;
                            }
                            let path = path.key(key);
                            let child = ctx.child(Some(key), None, json_type(value));
                            self.value(value, &path, &child, Pii::Maybe, Flags::default());
                        }
                    }
                }
                Kind::NoData => {}
                kind => {
                    if let Json::Object(obj) = context {
                        let ctx = node.child(Some(name), None, Types::NONE);
                        self.fields(obj, kind, &path, &ctx);
                    }
                }
            }
        }
    }

    fn types(&self, value: &Json<'_>, flags: Flags) -> Types {
        if flags.untyped && matches!(value, Json::Object(_)) {
            return Types::NONE;
        }
        let mut types = json_type(value);
        if flags.pair_list && matches!(value, Json::Array(_)) {
            types = Types::of(ValueType::Object);
        }
        if flags.message && matches!(value, Json::String(_)) {
            types = Types(types.0 | ValueType::Message.bit());
        }
        types
    }

    /// A value of a `pii` field (true or maybe) and everything in it.
    fn value(
        &mut self,
        value: &mut Json<'_>,
        path: &Path<'_>,
        node: &Node<'_>,
        pii: Pii,
        flags: Flags,
    ) {
        match value {
            Json::Null | Json::Bool(_) => {}
            Json::String(s) => {
                if !is_unscrubbable(s) {
                    self.string(value, path, node, pii);
                }
            }
            Json::Number(_) | Json::Array(_) | Json::Object(_) => {
                if let Outcome::Removed = self.container(path, node, pii) {
                    *value = Json::Null;
                    return;
                }
                self.children(value, path, node, pii, flags);
            }
        }
    }

    fn children(
        &mut self,
        value: &mut Json<'_>,
        path: &Path<'_>,
        node: &Node<'_>,
        pii: Pii,
        flags: Flags,
    ) {
        match value {
            Json::Object(obj) => {
                for (k, v) in obj.iter_mut() {
                    let child = node.child(Some(k), None, json_type(v));
                    let pii = if flags.span_data && SPAN_DATA_MAYBE.contains(&k) {
                        Pii::Maybe
                    } else {
                        pii
                    };
                    self.value(v, &path.key(k), &child, pii, Flags::default());
                }
            }
            Json::Array(items) if is_pair_list(items) => {
                for (i, pair) in items.iter_mut().enumerate() {
                    if let Json::Array(pair) = pair {
                        let path = path.index(i);
                        if let [Json::String(k), v] = pair.as_mut_slice() {
                            let name = if flags.header_names {
                                normalize_header_name(k)
                            } else {
                                Cow::Borrowed(k.as_ref())
                            };
                            let child = node.child(Some(&name), None, json_type(v));
                            self.value(v, &path.pair_value(&name), &child, pii, Flags::default());
                        }
                    }
                }
            }
            Json::Array(items) => {
                for (i, v) in items.iter_mut().enumerate() {
                    let child = node.child(None, Some(i), json_type(v));
                    self.value(v, &path.index(i), &child, pii, Flags::default());
                }
            }
            _ => {}
        }
    }

    /// The rules on a number, array or object: only removal applies.
    fn container(&mut self, path: &Path<'_>, node: &Node<'_>, pii: Pii) -> Outcome {
        let config = self.config;
        let states = node.states();
        let key = node.state.key.unwrap_or("");
        for (selector, rules) in &config.applications {
            if !selector.matches(&states, pii) {
                continue;
            }
            for rule in rules {
                let removes = match &rule.matcher {
                    Matcher::Anything => true,
                    Matcher::Regexes(regexes) => regexes
                        .iter()
                        .any(|(on, re, _)| *on != On::Value && re.is_match(key)),
                    Matcher::Cookies => false,
                };
                if removes {
                    self.meta
                        .record_removed(path, Cow::Owned(rule.origin.clone()));
                    return Outcome::Removed;
                }
            }
        }
        Outcome::Kept
    }

    fn string(&mut self, value: &mut Json<'_>, path: &Path<'_>, node: &Node<'_>, pii: Pii) {
        let Json::String(s) = value else { return };
        let config = self.config;
        let states = node.states();
        let key = node.state.key.unwrap_or("");
        let prior = if !self.meta.is_empty() {
            self.meta.remarks_at(path)
        } else {
            Vec::new()
        };
        let mut r = Redactor::with_remarks(s, &prior);
        let mut removed = None;
        'apps: for (selector, rules) in &config.applications {
            if !selector.matches(&states, pii) {
                continue;
            }
            for rule in rules {
                if apply_to_string(&mut r, rule, key) {
                    removed = Some(Cow::Owned(rule.origin.clone()));
                    break 'apps;
                }
            }
        }
        let redacted = r.redacted();
        self.meta.write_string(path, value, redacted, removed);
    }
}

/// What a redaction writes for a matched text.
fn replacement(redaction: &Redaction) -> impl Fn(&str) -> Replacement + '_ {
    move |text: &str| match redaction {
        Redaction::Default | Redaction::Remove => Some((Cow::Borrowed(""), RemarkType::Removed)),
        Redaction::Replace(t) => Some((Cow::Owned(t.clone()), RemarkType::Substituted)),
        Redaction::Mask => Some((
            Cow::Owned("*".repeat(text.chars().count())),
            RemarkType::Masked,
        )),
        Redaction::Hash => Some((
            Cow::Owned(hash_value(text.as_bytes())),
            RemarkType::Pseudonymized,
        )),
        Redaction::Other => None,
    }
}

/// Relay's `apply_rule_to_value` on a string; true when the rule removes the whole value.
fn apply_to_string(r: &mut Redactor<'_>, rule: &Rule, key: &str) -> bool {
    let redacts = !matches!(rule.redaction, Redaction::Default | Redaction::Remove);
    let origin = || Cow::Owned(rule.origin.clone());
    let with = replacement(&rule.redaction);
    match &rule.matcher {
        Matcher::Anything => {
            if !redacts {
                return true;
            }
            r.apply_groups(origin(), &rules::ANYTHING, |g| g == 0, &with);
        }
        Matcher::Cookies => r.apply_groups(origin(), &rules::COOKIE_VALUES, |g| g == 2, &with),
        Matcher::Regexes(regexes) => {
            for (on, regex, replace) in regexes {
                let key_match = *on != On::Value && regex.is_match(key);
                if key_match {
                    if !redacts {
                        return true;
                    }
                    // Like `@anything` on the value, with the key rule's replacement.
                    apply(r, origin(), &rules::ANYTHING, replace, &with);
                } else if *on != On::Key {
                    apply(r, origin(), regex, replace, &with);
                }
            }
        }
    }
    false
}

fn apply(
    r: &mut Redactor<'_>,
    origin: Cow<'static, str>,
    regex: &regex::Regex,
    replace: &Replace,
    with: &impl Fn(&str) -> Replacement,
) {
    match replace {
        Replace::Groups(groups) => r.apply_groups(
            origin,
            regex,
            |g| u8::try_from(g).is_ok_and(|g| groups.contains(&g)),
            with,
        ),
        Replace::Value => r.replace_whole_if(origin, |text| regex.is_match(text), with),
    }
}

/// Whether the user's `ip_address` is absent or an IP address (Relay's `IpAddr::is_valid`).
fn ip_is_valid(user: &Object<'_>) -> bool {
    match user.get("ip_address") {
        Some(Json::String(ip)) => ip == "{{auto}}" || ip.parse::<std::net::IpAddr>().is_ok(),
        _ => true,
    }
}

/// Relay's `process_user`: when scrubbing made a valid `ip_address` invalid and the user has
/// no id, username or e-mail, the value (and its `_meta`) moves to `id`, so that hashed
/// addresses still count users.
fn move_invalid_ip(user: &mut Object<'_>, path: &Path<'_>, meta: &mut MetaTree<'_>) {
    let identified = ["id", "username", "email"]
        .iter()
        .any(|k| user.get(k).is_some_and(|v| !v.is_null()));
    if identified {
        return;
    }
    if let Some(ip) = user.get_mut("ip_address").map(Json::take) {
        user.insert("id", ip);
        let ip_path = path.key("ip_address");
        meta.rename(&ip_path, &path.key("id"));
        meta.record_removed(&ip_path, Cow::Borrowed("pii:ip_address"));
    }
}
