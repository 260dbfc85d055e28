//! The project's "Data Scrubber" settings, as Sentry stores them and hands them to Relay.

use std::borrow::Cow;

use super::meta::Path;
use super::rules;
use super::selector::{Item, Selector};

/// A project's data-scrubbing settings: the model's record of Sentry's "Data Scrubber" options,
/// the input of Relay's `convert_datascrubbing_config`. Its `Default` is Sentry's for a new
/// project (scrubbing on with the default rules, IP addresses kept).
pub use vigil_model::ScrubbingSettings;

/// Which rule sets apply, derived once per event from a [`ScrubbingSettings`]: what Relay's
/// `convert_datascrubbing_config` turns into selector → rules applications.
pub(crate) struct Applications<'c> {
    /// `@common:filter` on every scrubbable value, and the default cookie and
    /// `$logentry.formatted` applications.
    pub defaults: bool,
    /// `@ip:replace` on every scrubbable value, `@anything:remove` on the known IP fields.
    pub ip: bool,
    /// `strip-fields`: the non-empty sensitive fields (substring match on key or value).
    pub sensitive: Vec<&'c str>,
    /// Keys excluded from the general application (compared case-insensitively).
    pub safe: Vec<Cow<'c, str>>,
    /// Safe fields that are selector paths of keys and indexes: Relay reads a safe field as a
    /// selector, so `a.b` excludes the paths ending in key `a` then key `b` (not a key `a.b`),
    /// `extra.'x y'` key `extra` then key `x y`, and `0` the first elements of arrays (not a key
    /// `0`). A field that is no valid selector is one key, as Relay quotes it.
    pub safe_paths: Vec<Vec<Cow<'c, str>>>,
}

/// How Relay reads a safe field (trimmed; empty ones dropped): a selector when it parses as
/// one, else a quoted key. Paths of keys and indexes are matched by the walker (in the form
/// [`Path::ends_with`] takes); a selector with types, wildcards or operators
/// (`$number`, `extra.*`, `**.x`, `a || b`) needs the selector engine.
enum Safe<'c> {
    Key(Cow<'c, str>),
    Path(Vec<Cow<'c, str>>),
    Selector,
}

fn read_safe(field: &str) -> Safe<'_> {
    let field = field.trim();
    let items = match Selector::parse_non_legacy(field) {
        Ok(Selector::Path(items)) => items,
        Ok(_) => return Safe::Selector,
        Err(_) => return Safe::Key(Cow::Borrowed(field)),
    };
    let keys: Option<Vec<Cow<'_, str>>> = items
        .into_iter()
        .map(|item| match item {
            Item::Key(k) => Some(Cow::Owned(k)),
            Item::Index(i) => Some(Cow::Owned(i.to_string())),
            _ => None,
        })
        .collect();
    match keys {
        Some(mut keys) if keys.len() == 1 && keys[0].parse::<usize>().is_err() => {
            Safe::Key(keys.remove(0))
        }
        Some(keys) => Safe::Path(keys),
        None => Safe::Selector,
    }
}

/// Whether a safe field is a selector only the selector engine matches (see [`Safe`]).
pub(crate) fn needs_selector_engine(config: &ScrubbingSettings) -> bool {
    config
        .safe_fields
        .iter()
        .filter(|f| !f.trim().is_empty())
        .any(|f| matches!(read_safe(f), Safe::Selector))
}

/// The value types and exclusions of the general application (Relay's `DATASCRUBBER_IGNORE`).
const GENERAL: &str = "($string || $number || $array || $object) && !(debug_meta.** || \
    $frame.filename || $frame.abs_path || $logentry.formatted || $error.value || \
    $http.headers.user-agent)";

/// The PII config Relay's `convert_datascrubbing_config` (0.10.1) makes of the settings, as
/// JSON text for [`super::pii_config::PiiConfig::parse`]; None when nothing would be scrubbed.
/// The walker applies the same config without it (faster); the selector engine runs this one
/// when a safe field is a selector the walker does not match.
pub(crate) fn converted_pii_config(config: &ScrubbingSettings) -> Option<String> {
    let defaults = config.data_scrubber && config.data_scrubber_defaults;
    let mut rules = serde_json::Map::new();
    let mut applied: Vec<&str> = Vec::new();
    let mut applications = serde_json::Map::new();
    if defaults {
        applied.push("@common:filter");
        let mut cookies = Vec::new();
        for raw in rules::SENSITIVE_COOKIES {
            let name = quote(raw);
            cookies.push(format!("*.cookies.{name}"));
            for header in rules::COOKIE_HEADER_KEYS {
                cookies.push(format!("*.{}", quote(&format!("{header}.{raw}"))));
            }
        }
        applications.insert(
            cookies.join(" || "),
            serde_json::json!(["@anything:filter"]),
        );
        let replace_only: Vec<String> = ["$logentry.formatted".to_owned(), "$log.body".to_owned()]
            .into_iter()
            .chain(REPLACE_ONLY_GEN_AI.iter().flat_map(|k| {
                [
                    format!("$span.data.{}", quote(k)),
                    format!("attributes.{}.value", quote(k)),
                ]
            }))
            .collect();
        applications.insert(
            replace_only.join(" || "),
            serde_json::json!([
                "@email:replace",
                "@creditcard:replace",
                "@iban:replace",
                "@usssn:replace",
                "@bearer:replace"
            ]),
        );
        let headers: Vec<String> = rules::COOKIE_HEADER_KEYS
            .iter()
            .flat_map(|h| [format!("*.{}.*", quote(h)), format!("*.{}", quote(h))])
            .collect();
        applications.insert(headers.join(" || "), serde_json::json!(["@cookies:filter"]));
    }
    if config.scrub_ip_addresses {
        applications.insert(
            "$http.env.REMOTE_ADDR || $user.ip_address || $sdk.client_ip || \
             $span.sentry_tags.'user.ip' || attributes.'client.address'"
                .to_owned(),
            serde_json::json!(["@anything:remove"]),
        );
        applied.push("@ip:replace");
    }
    if config.data_scrubber {
        let fields: Vec<String> = config
            .sensitive_fields
            .iter()
            .map(|f| f.trim())
            .filter(|f| !f.is_empty())
            .map(regex::escape)
            .collect();
        if !fields.is_empty() {
            rules.insert(
                rules::STRIP_FIELDS_ID.to_owned(),
                serde_json::json!({
                    "type": "redact_pair",
                    "keyPattern": fields.join("|"),
                    "redaction": {"method": "replace", "text": rules::FILTERED},
                }),
            );
            applied.push(rules::STRIP_FIELDS_ID);
        }
    }
    if applied.is_empty() && applications.is_empty() {
        return None;
    }
    if !applied.is_empty() {
        let mut selector = GENERAL.to_owned();
        for field in config.safe_fields.iter().map(|f| f.trim()) {
            if field.is_empty() {
                continue;
            }
            // A legacy name (`freeform`) is a key here, quoted so the engine reads it so.
            match Selector::parse_non_legacy(field) {
                Ok(_) if !Selector::is_legacy_name(field) => {
                    selector.push_str(&format!(" && !({field})"))
                }
                _ => selector.push_str(&format!(" && !{}", quote(field))),
            }
        }
        applications.insert(selector, serde_json::json!(applied));
    }
    Some(serde_json::json!({"rules": rules, "applications": applications}).to_string())
}

/// The span data / attribute keys that get the `:replace` rules instead of `@common:filter`.
const REPLACE_ONLY_GEN_AI: &[&str] = &[
    "gen_ai.input.messages",
    "gen_ai.prompt",
    "gen_ai.request.messages",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.input",
    "gen_ai.tool.call.result",
    "gen_ai.tool.output",
    "gen_ai.output.messages",
    "gen_ai.response.tool_calls",
    "gen_ai.response.text",
    "gen_ai.response.object",
    "gen_ai.tool.definitions",
    "gen_ai.request.available_tools",
    "gen_ai.tool.name",
    "mcp.prompt.result",
    "mcp.tool.result.content",
];

/// A key as a quoted selector item (`'` doubled inside).
fn quote(key: &str) -> String {
    format!("'{}'", key.replace('\'', "''"))
}

impl<'c> Applications<'c> {
    pub fn new(config: &'c ScrubbingSettings) -> Self {
        Applications {
            defaults: config.data_scrubber && config.data_scrubber_defaults,
            ip: config.scrub_ip_addresses,
            sensitive: if config.data_scrubber {
                config
                    .sensitive_fields
                    .iter()
                    .map(|f| f.trim())
                    .filter(|f| !f.is_empty())
                    .collect()
            } else {
                Vec::new()
            },
            safe: config
                .safe_fields
                .iter()
                .filter(|f| !f.trim().is_empty())
                .filter_map(|f| match read_safe(f) {
                    Safe::Key(k) => Some(k),
                    _ => None,
                })
                .collect(),
            safe_paths: config
                .safe_fields
                .iter()
                .filter_map(|f| match read_safe(f) {
                    Safe::Path(p) => Some(p),
                    _ => None,
                })
                .collect(),
        }
    }

    /// Nothing would ever be scrubbed.
    pub fn is_empty(&self) -> bool {
        !self.defaults && !self.ip && self.sensitive.is_empty()
    }

    /// Whether `key` is one of the safe fields.
    pub fn is_safe(&self, key: &str) -> bool {
        self.safe.iter().any(|s| s.eq_ignore_ascii_case(key))
    }

    /// Whether the selector path ends with one of the dotted safe fields.
    pub fn is_safe_path(&self, path: &Path<'_>) -> bool {
        self.safe_paths.iter().any(|keys| path.ends_with(keys))
    }
}
