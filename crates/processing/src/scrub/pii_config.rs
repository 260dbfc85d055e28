//! A project's advanced data scrubbing rules: Sentry's `relayPiiConfig`, the PII config of
//! Relay's `relay-pii` (`{"rules": {id: rule}, "applications": {selector: [rule id, …]}}`).
//!
//! [`validate`] gives Relay's verdict on the JSON text (`validate_pii_config`: the schema, the
//! selectors, and the regexes of the rules an application reaches), [`CompiledPiiConfig`] is
//! what scrubbing runs: the applications in Relay's order (sorted by selector), each with its
//! rules resolved (aliases and `multiple` expanded, built-in `@…` rules looked up) and sorted by
//! id, as Relay's `CompiledPiiConfig` does. Sentry stores the project's config as written and
//! prefixes its rule ids with `project:` when it hands it to Relay (`merge_pii_configs`); the
//! ids in `_meta` are those.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::{Regex, RegexBuilder};

use super::rules;
use super::selector::{Selector, SelectorError};
use crate::json::{Json, Object};

/// Relay's bound on a compiled custom pattern.
const PATTERN_SIZE_LIMIT: usize = 262_144;

/// The prefix Sentry gives a project's rule ids.
pub const PROJECT_PREFIX: &str = "project:";

/// Why a PII config is refused; the message names the part that is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PiiConfigError {
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("{0}")]
    Schema(String),
    #[error("invalid selector `{selector}`: {error}")]
    Selector {
        selector: String,
        error: SelectorError,
    },
    #[error("rule `{rule}`: invalid pattern: {error}")]
    Pattern { rule: String, error: String },
}

fn schema(msg: impl Into<String>) -> PiiConfigError {
    PiiConfigError::Schema(msg.into())
}

/// How a matched value (or part) is redacted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redaction {
    /// No method given: removal, unless an enclosing rule says otherwise.
    Default,
    Remove,
    Replace(String),
    Mask,
    Hash,
    /// A method this Relay does not know: accepted, and the match is dropped unmarked.
    Other,
}

/// What a rule matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleType {
    Anything,
    Pattern {
        pattern: String,
        groups: BTreeSet<u8>,
    },
    Imei,
    Mac,
    Uuid,
    Email,
    Ip,
    Creditcard,
    Iban,
    Userpath,
    Pemkey,
    UrlAuth,
    UsSsn,
    Bearer,
    Password,
    Cookies,
    RedactPair {
        key_pattern: String,
    },
    Multiple {
        rules: Vec<String>,
        hide_inner: bool,
    },
    Alias {
        rule: String,
        hide_inner: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSpec {
    pub ty: RuleType,
    pub redaction: Redaction,
}

/// A parsed (not yet compiled) PII config.
#[derive(Clone, Debug, Default)]
pub struct PiiConfig {
    pub rules: BTreeMap<String, RuleSpec>,
    /// Sorted by selector; a selector written twice keeps the later rule list.
    pub applications: BTreeMap<Selector, Vec<String>>,
}

const RULE_TYPES: &str = "`anything`, `pattern`, `imei`, `mac`, `uuid`, `email`, `ip`, \
    `creditcard`, `iban`, `userpath`, `pemkey`, `url_auth`, `us_ssn`, `bearer`, `password`, \
    `cookies`, `redactPair`, `redact_pair`, `multiple`, `alias`";

fn string_field<'a>(
    rule: &str,
    obj: &'a Object<'_>,
    name: &str,
) -> Result<&'a str, PiiConfigError> {
    match obj.get(name) {
        Some(Json::String(s)) => Ok(s),
        Some(_) => Err(schema(format!("rule `{rule}`: `{name}` must be a string"))),
        None => Err(schema(format!("rule `{rule}`: missing field `{name}`"))),
    }
}

fn hide_inner(rule: &str, obj: &Object<'_>) -> Result<bool, PiiConfigError> {
    match obj.get("hideInner") {
        None => Ok(false),
        Some(Json::Bool(b)) => Ok(*b),
        Some(_) => Err(schema(format!(
            "rule `{rule}`: `hideInner` must be a boolean"
        ))),
    }
}

/// Relay's rule types in the order its `RuleType` declares them: `"type": 5` is `email`.
/// (`unknown`, the 20th, takes no object and is left out.)
const RULE_TYPE_INDEXES: [&str; 19] = [
    "anything",
    "pattern",
    "imei",
    "mac",
    "uuid",
    "email",
    "ip",
    "creditcard",
    "iban",
    "userpath",
    "pemkey",
    "url_auth",
    "us_ssn",
    "bearer",
    "password",
    "cookies",
    "redact_pair",
    "multiple",
    "alias",
];

/// A struct's fields as serde reads them for Relay: by name from an object (unknown names
/// ignored), or in declaration order from an array of at most that many elements — which is
/// why Relay takes `[]` for a config.
fn struct_fields<'j, 'a>(
    value: &'j Json<'a>,
    names: &[&str],
    what: &str,
) -> Result<Vec<Option<&'j Json<'a>>>, PiiConfigError> {
    match value {
        Json::Object(obj) => Ok(names.iter().map(|n| obj.get(n)).collect()),
        Json::Array(items) if items.len() <= names.len() => {
            Ok((0..names.len()).map(|i| items.get(i)).collect())
        }
        Json::Array(_) => Err(schema(format!(
            "{what} as a list has at most {} elements",
            names.len()
        ))),
        _ => Err(schema(format!("{what} must be a JSON object"))),
    }
}

fn parse_rule(id: &str, value: &Json<'_>) -> Result<RuleSpec, PiiConfigError> {
    let Json::Object(obj) = value else {
        return Err(schema(format!("rule `{id}` must be an object")));
    };
    let ty = match obj.get("type") {
        Some(Json::String(t)) => t.as_ref(),
        // serde reads an enum variant by its index as well as by its name.
        Some(Json::Number(n)) => n
            .as_u64()
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| RULE_TYPE_INDEXES.get(i))
            .copied()
            .ok_or_else(|| schema(format!("rule `{id}`: no rule type has the index {n}")))?,
        Some(_) => return Err(schema(format!("rule `{id}`: `type` must be a string"))),
        None => return Err(schema(format!("rule `{id}`: missing field `type`"))),
    };
    let ty = match ty {
        "anything" => RuleType::Anything,
        "pattern" => {
            let pattern = string_field(id, obj, "pattern")?.to_owned();
            let groups = match obj.get("replaceGroups") {
                None | Some(Json::Null) => BTreeSet::from([0]),
                Some(Json::Array(items)) => items
                    .iter()
                    .map(|g| {
                        g.as_u64()
                            .and_then(|g| u8::try_from(g).ok())
                            .ok_or_else(|| {
                                schema(format!(
                                    "rule `{id}`: `replaceGroups` must be group numbers from 0 to 255"
                                ))
                            })
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => {
                    return Err(schema(format!(
                        "rule `{id}`: `replaceGroups` must be a list of group numbers"
                    )))
                }
            };
            RuleType::Pattern { pattern, groups }
        }
        "imei" => RuleType::Imei,
        "mac" => RuleType::Mac,
        "uuid" => RuleType::Uuid,
        "email" => RuleType::Email,
        "ip" => RuleType::Ip,
        "creditcard" => RuleType::Creditcard,
        "iban" => RuleType::Iban,
        "userpath" => RuleType::Userpath,
        "pemkey" => RuleType::Pemkey,
        "url_auth" => RuleType::UrlAuth,
        "us_ssn" => RuleType::UsSsn,
        "bearer" => RuleType::Bearer,
        "password" => RuleType::Password,
        "cookies" => RuleType::Cookies,
        "redact_pair" | "redactPair" => RuleType::RedactPair {
            key_pattern: string_field(id, obj, "keyPattern")?.to_owned(),
        },
        "multiple" => {
            let rules = match obj.get("rules") {
                Some(Json::Array(items)) => items
                    .iter()
                    .map(|r| {
                        r.as_str().map(str::to_owned).ok_or_else(|| {
                            schema(format!("rule `{id}`: `rules` must be a list of rule ids"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => {
                    return Err(schema(format!(
                        "rule `{id}`: `rules` must be a list of rule ids"
                    )))
                }
                None => return Err(schema(format!("rule `{id}`: missing field `rules`"))),
            };
            RuleType::Multiple {
                rules,
                hide_inner: hide_inner(id, obj)?,
            }
        }
        "alias" => RuleType::Alias {
            rule: string_field(id, obj, "rule")?.to_owned(),
            hide_inner: hide_inner(id, obj)?,
        },
        other => {
            return Err(schema(format!(
                "rule `{id}`: unknown type `{other}`, expected one of {RULE_TYPES}"
            )))
        }
    };
    let redaction = match obj.get("redaction") {
        None => Redaction::Default,
        Some(Json::Object(r)) => match r.get("method") {
            Some(Json::String(m)) => match m.as_ref() {
                "default" => Redaction::Default,
                "remove" => Redaction::Remove,
                "mask" => Redaction::Mask,
                "hash" => Redaction::Hash,
                "replace" => Redaction::Replace(match r.get("text") {
                    None => rules::FILTERED.to_owned(),
                    Some(Json::String(t)) => t.to_string(),
                    Some(_) => {
                        return Err(schema(format!(
                            "rule `{id}`: the redaction's `text` must be a string"
                        )))
                    }
                }),
                _ => Redaction::Other,
            },
            Some(_) => {
                return Err(schema(format!(
                    "rule `{id}`: the redaction's `method` must be a string"
                )))
            }
            None => {
                return Err(schema(format!(
                    "rule `{id}`: the redaction is missing its `method`"
                )))
            }
        },
        Some(_) => {
            return Err(schema(format!(
                "rule `{id}`: `redaction` must be an object"
            )))
        }
    };
    Ok(RuleSpec { ty, redaction })
}

impl PiiConfig {
    /// Parse the JSON text (schema and selectors; the regexes are checked by [`validate`]).
    pub fn parse(text: &str) -> Result<PiiConfig, PiiConfigError> {
        let json = Json::parse_str(text).map_err(|e| PiiConfigError::Json(e.to_string()))?;
        let top = struct_fields(&json, &["rules", "vars", "applications"], "the config")?;
        let mut config = PiiConfig::default();
        match top[0] {
            None => {}
            Some(Json::Object(rules)) => {
                for (id, rule) in rules.iter() {
                    config.rules.insert(id.to_string(), parse_rule(id, rule)?);
                }
            }
            Some(_) => return Err(schema("`rules` must be an object of rules by id")),
        }
        if let Some(vars) = top[1] {
            match struct_fields(vars, &["hashKey"], "`vars`")?[0] {
                None | Some(Json::String(_) | Json::Null) => {}
                Some(_) => return Err(schema("`vars.hashKey` must be a string")),
            }
        }
        match top[2] {
            None => {}
            Some(Json::Object(apps)) => {
                for (selector, ids) in apps.iter() {
                    let parsed =
                        Selector::parse(selector).map_err(|error| PiiConfigError::Selector {
                            selector: selector.to_string(),
                            error,
                        })?;
                    let Json::Array(ids) = ids else {
                        return Err(schema(format!(
                            "application `{selector}` must be a list of rule ids"
                        )));
                    };
                    let ids = ids
                        .iter()
                        .map(|id| {
                            id.as_str().map(str::to_owned).ok_or_else(|| {
                                schema(format!(
                                    "application `{selector}` must be a list of rule ids"
                                ))
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    config.applications.insert(parsed, ids);
                }
            }
            Some(_) => {
                return Err(schema(
                    "`applications` must be an object of rule id lists by selector",
                ))
            }
        }
        Ok(config)
    }

    /// The config as Sentry hands a project's config to Relay: its rule ids prefixed (and the
    /// references to them in applications and `multiple` rules; an alias keeps its reference
    /// as written, as Sentry's `_prefix_rule_references_in_rule` does).
    pub fn prefixed(self, prefix: &str) -> PiiConfig {
        let own: BTreeSet<String> = self.rules.keys().cloned().collect();
        let name = |id: &String| {
            if own.contains(id) {
                format!("{prefix}{id}")
            } else {
                id.clone()
            }
        };
        let rules = self
            .rules
            .iter()
            .map(|(id, spec)| {
                let mut spec = spec.clone();
                if let RuleType::Multiple { rules, .. } = &mut spec.ty {
                    *rules = rules.iter().map(name).collect();
                }
                (format!("{prefix}{id}"), spec)
            })
            .collect();
        let applications = self
            .applications
            .iter()
            .map(|(sel, ids)| (sel.clone(), ids.iter().map(name).collect()))
            .collect();
        PiiConfig {
            rules,
            applications,
        }
    }

    fn rule(&self, id: &str) -> Option<RuleSpec> {
        self.rules.get(id).cloned().or_else(|| builtin(id))
    }
}

/// Relay's verdict on a config: `Ok` when `validate_pii_config` accepts the text.
pub fn validate(text: &str) -> Result<(), PiiConfigError> {
    let config = PiiConfig::parse(text)?;
    CompiledPiiConfig::new(&config).map(|_| ())
}

/// How a regex's matches are redacted: these groups of each match, or the whole value.
#[derive(Clone, Debug)]
pub enum Replace {
    Groups(BTreeSet<u8>),
    Value,
}

/// Whether a regex runs on the key, the value, or the key with the value as fallback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum On {
    Value,
    Key,
    KeyValue,
}

/// What a compiled rule does.
#[derive(Clone, Debug)]
pub enum Matcher {
    Anything,
    Regexes(Vec<(On, Regex, Replace)>),
    /// The session and CSRF cookies in a cookie header value.
    Cookies,
}

/// A rule ready to run: its id (for ordering), the id `_meta` names (the outermost hiding
/// rule's), what it matches and how it redacts.
#[derive(Clone, Debug)]
pub struct Rule {
    pub id: String,
    pub origin: String,
    pub matcher: Matcher,
    pub redaction: Redaction,
}

/// A PII config ready to run.
#[derive(Clone, Debug, Default)]
pub struct CompiledPiiConfig {
    pub applications: Vec<(Selector, Vec<Rule>)>,
}

fn compile_pattern(rule: &str, pattern: &str) -> Result<Regex, PiiConfigError> {
    RegexBuilder::new(pattern)
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|e| PiiConfigError::Pattern {
            rule: rule.to_owned(),
            error: e.to_string(),
        })
}

fn group(g: u8) -> Replace {
    Replace::Groups(BTreeSet::from([g]))
}

fn matcher(id: &str, ty: &RuleType) -> Result<Option<Matcher>, PiiConfigError> {
    let v = |re: &LazyLock<Regex>, r: Replace| (On::Value, (**re).clone(), r);
    Ok(Some(match ty {
        RuleType::Anything => Matcher::Anything,
        RuleType::Cookies => Matcher::Cookies,
        RuleType::Pattern { pattern, groups } => Matcher::Regexes(vec![(
            On::Value,
            compile_pattern(id, pattern)?,
            Replace::Groups(groups.clone()),
        )]),
        RuleType::RedactPair { key_pattern } => Matcher::Regexes(vec![(
            On::KeyValue,
            compile_pattern(id, key_pattern)?,
            Replace::Value,
        )]),
        RuleType::Bearer => Matcher::Regexes(vec![v(&rules::BEARER, group(0))]),
        RuleType::Password => Matcher::Regexes(vec![
            v(&rules::BEARER, group(0)),
            (On::Key, (*rules::TOKEN_KEY).clone(), Replace::Value),
            (On::KeyValue, (*rules::PASSWORD).clone(), Replace::Value),
        ]),
        RuleType::Imei => Matcher::Regexes(vec![v(&rules::IMEI, group(0))]),
        RuleType::Mac => Matcher::Regexes(vec![v(&rules::MAC, group(0))]),
        RuleType::Uuid => Matcher::Regexes(vec![v(&rules::UUID, group(0))]),
        RuleType::Email => Matcher::Regexes(vec![v(&rules::EMAIL, group(0))]),
        RuleType::Iban => Matcher::Regexes(vec![v(&rules::IBAN, group(0))]),
        RuleType::Ip => {
            Matcher::Regexes(vec![v(&rules::IPV4, group(0)), v(&rules::IPV6, group(1))])
        }
        RuleType::Creditcard => Matcher::Regexes(vec![v(&rules::CREDITCARD, group(0))]),
        RuleType::Pemkey => Matcher::Regexes(vec![v(&rules::PEMKEY, group(1))]),
        RuleType::UrlAuth => Matcher::Regexes(vec![v(&rules::URLAUTH, group(1))]),
        RuleType::UsSsn => Matcher::Regexes(vec![v(&rules::USSSN, group(0))]),
        RuleType::Userpath => Matcher::Regexes(vec![v(&rules::USERPATH, group(1))]),
        RuleType::Multiple { .. } | RuleType::Alias { .. } => return Ok(None),
    }))
}

impl CompiledPiiConfig {
    /// Resolve every application's rules (Relay's `collect_rules`) and compile their regexes;
    /// an invalid regex of a rule an application reaches is an error (Relay's
    /// `force_compile`), one of a rule nothing reaches is not.
    pub fn new(config: &PiiConfig) -> Result<CompiledPiiConfig, PiiConfigError> {
        let mut applications = Vec::new();
        for (selector, ids) in &config.applications {
            let mut set: BTreeMap<String, Rule> = BTreeMap::new();
            let mut expanded = BTreeSet::new();
            for id in ids {
                collect(config, &mut set, &mut expanded, id, None)?;
            }
            applications.push((selector.clone(), set.into_values().collect()));
        }
        Ok(CompiledPiiConfig { applications })
    }

    pub fn is_empty(&self) -> bool {
        self.applications.iter().all(|(_, rules)| rules.is_empty())
    }
}

/// The enclosing rule that hides its members: its id is reported, and its redaction (unless
/// default) wins.
struct Parent {
    origin: String,
    redaction: Redaction,
}

/// Adds the rules `id` reaches to `set` (the first way a rule is reached wins, as in Relay).
/// `expanded` holds the `multiple` and `alias` rules already (or being) expanded: a rule that
/// names itself, directly or through others, ends there instead of recursing until the stack
/// overflows, and a rule reached again adds nothing new (its rules are all in `set`), so a
/// config of rules naming each other many times is walked once.
fn collect(
    config: &PiiConfig,
    set: &mut BTreeMap<String, Rule>,
    expanded: &mut BTreeSet<String>,
    id: &str,
    parent: Option<&Parent>,
) -> Result<(), PiiConfigError> {
    let Some(spec) = config.rule(id) else {
        return Ok(());
    };
    if set.contains_key(id) {
        return Ok(());
    }
    if matches!(spec.ty, RuleType::Multiple { .. } | RuleType::Alias { .. })
        && !expanded.insert(id.to_owned())
    {
        return Ok(());
    }
    let (origin, redaction) = match parent {
        Some(p) => (
            p.origin.clone(),
            match p.redaction {
                Redaction::Default => spec.redaction.clone(),
                ref r => r.clone(),
            },
        ),
        None => (id.to_owned(), spec.redaction.clone()),
    };
    match &spec.ty {
        RuleType::Multiple { rules, hide_inner } => {
            let hiding = Parent { origin, redaction };
            for inner in rules {
                collect(config, set, expanded, inner, hide_inner.then_some(&hiding))?;
            }
        }
        RuleType::Alias { rule, hide_inner } => {
            let hiding = Parent { origin, redaction };
            collect(config, set, expanded, rule, hide_inner.then_some(&hiding))?;
        }
        ty => {
            if let Some(matcher) = matcher(id, ty)? {
                set.insert(
                    id.to_owned(),
                    Rule {
                        id: id.to_owned(),
                        origin,
                        matcher,
                        redaction,
                    },
                );
            }
        }
    }
    Ok(())
}

fn replace(text: &str) -> Redaction {
    Redaction::Replace(text.to_owned())
}

/// Relay's built-in rules (`@type`, `@type:method`), as this Relay version defines them.
fn builtin(id: &str) -> Option<RuleSpec> {
    let spec = |ty, redaction| Some(RuleSpec { ty, redaction });
    let alias = |rule: &str| {
        spec(
            RuleType::Alias {
                rule: rule.to_owned(),
                hide_inner: true,
            },
            Redaction::Default,
        )
    };
    let multiple = |rules: &[&str]| {
        spec(
            RuleType::Multiple {
                rules: rules.iter().map(|r| (*r).to_owned()).collect(),
                hide_inner: false,
            },
            Redaction::Default,
        )
    };
    let filtered = || replace(rules::FILTERED);
    let (name, method) = id
        .strip_prefix('@')?
        .split_once(':')
        .unwrap_or((&id[1..], ""));
    let ty = match name {
        "common" => {
            return match method {
                "" => multiple(&[
                    "@iban",
                    "@ip",
                    "@email",
                    "@creditcard",
                    "@pemkey",
                    "@urlauth",
                    "@userpath",
                    "@password",
                    "@usssn",
                    "@bearer",
                ]),
                "filter" => multiple(&[
                    "@creditcard:filter",
                    "@iban:filter",
                    "@pemkey:filter",
                    "@urlauth:legacy",
                    "@password:filter",
                    "@usssn:filter",
                    "@bearer:filter",
                ]),
                _ => None,
            }
        }
        "anything" => RuleType::Anything,
        "ip" => RuleType::Ip,
        "imei" => RuleType::Imei,
        "mac" => RuleType::Mac,
        "uuid" => RuleType::Uuid,
        "email" => RuleType::Email,
        "iban" => RuleType::Iban,
        "creditcard" => RuleType::Creditcard,
        "pemkey" => RuleType::Pemkey,
        "urlauth" => RuleType::UrlAuth,
        "usssn" => RuleType::UsSsn,
        "userpath" => RuleType::Userpath,
        "password" => RuleType::Password,
        "bearer" => RuleType::Bearer,
        "cookies" => RuleType::Cookies,
        _ => return None,
    };
    // The text each type's `:replace` writes, and its bare name's alias target.
    let (text, bare) = match name {
        "anything" => (rules::FILTERED, "replace"),
        "ip" => ("[ip]", "replace"),
        "imei" => ("[imei]", "replace"),
        "mac" => ("[mac]", "mask"),
        "uuid" => ("[uuid]", "mask"),
        "email" => ("[email]", "replace"),
        "iban" => ("[iban]", "replace"),
        "creditcard" => ("[creditcard]", "replace"),
        "pemkey" => ("[pemkey]", "replace"),
        "urlauth" => ("[auth]", "replace"),
        "usssn" => ("[us-ssn]", "mask"),
        "userpath" => ("[user]", "replace"),
        "password" => ("[password]", "remove"),
        "bearer" => ("Bearer [token]", "replace"),
        _ => ("", ""),
    };
    match (name, method) {
        ("cookies", "filter") => spec(ty, filtered()),
        ("cookies", _) => None,
        ("urlauth", "legacy") => spec(
            RuleType::Pattern {
                pattern: rules::URLAUTH_LEGACY.as_str().to_owned(),
                groups: BTreeSet::from([2]),
            },
            filtered(),
        ),
        (_, "") => alias(&format!("@{name}:{bare}")),
        (_, "replace") => spec(ty, replace(text)),
        (_, "remove") => spec(ty, Redaction::Remove),
        (_, "hash") => spec(ty, Redaction::Hash),
        // Relay's `@imei:mask` hashes.
        ("imei", "mask") => spec(ty, Redaction::Hash),
        (_, "mask") => spec(ty, Redaction::Mask),
        (
            "anything" | "iban" | "creditcard" | "pemkey" | "usssn" | "password" | "bearer",
            "filter",
        ) => spec(ty, filtered()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(c: &CompiledPiiConfig) -> Vec<Vec<(String, String)>> {
        c.applications
            .iter()
            .map(|(_, rules)| {
                rules
                    .iter()
                    .map(|r| (r.id.clone(), r.origin.clone()))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn builtins_resolve_as_relay_names_them() {
        let config = PiiConfig::parse(
            r#"{"applications": {"$string": ["@common:filter"], "extra.a": ["@ip", "@mac:mask", "@nope"]}}"#,
        )
        .unwrap();
        let compiled = CompiledPiiConfig::new(&config).unwrap();
        let got = ids(&compiled);
        assert_eq!(
            got[0].iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
            [
                "@bearer:filter",
                "@creditcard:filter",
                "@iban:filter",
                "@password:filter",
                "@pemkey:filter",
                "@urlauth:legacy",
                "@usssn:filter"
            ]
        );
        assert_eq!(
            got[1],
            [
                ("@ip:replace".to_owned(), "@ip".to_owned()),
                ("@mac:mask".to_owned(), "@mac:mask".to_owned())
            ]
        );
    }

    #[test]
    fn rules_naming_each_other_are_walked_once_not_forever() {
        // A cycle through an alias and a multiple, and a chain that names each next rule many
        // times (2^20 walks without memory): both resolve at once to the leaf rules.
        let mut rules = vec![
            r#""a": {"type": "alias", "rule": "b"}"#.to_owned(),
            r#""b": {"type": "multiple", "rules": ["a", "c", "b"]}"#.to_owned(),
            r#""c": {"type": "pattern", "pattern": "x"}"#.to_owned(),
        ];
        for level in 0..20 {
            let next = if level == 19 {
                "c".to_owned()
            } else {
                format!("m{}", level + 1)
            };
            rules.push(format!(
                r#""m{level}": {{"type": "multiple", "rules": ["{next}", "{next}"]}}"#
            ));
        }
        let text = format!(
            r#"{{"rules": {{{}}}, "applications": {{"**": ["a", "m0"]}}}}"#,
            rules.join(", ")
        );
        let config = PiiConfig::parse(&text).unwrap();
        let compiled = CompiledPiiConfig::new(&config).unwrap();
        assert_eq!(ids(&compiled)[0], [("c".to_owned(), "c".to_owned())]);
    }

    #[test]
    fn project_rules_are_prefixed_and_hidden_by_multiple() {
        let config = PiiConfig::parse(
            r#"{"rules": {
                "0": {"type": "multiple", "rules": ["1", "@ip"], "hideInner": true, "redaction": {"method": "mask"}},
                "1": {"type": "pattern", "pattern": "a(b)", "replaceGroups": [1]},
                "2": {"type": "alias", "rule": "1"}
            }, "applications": {"**": ["0", "2"]}}"#,
        )
        .unwrap()
        .prefixed(PROJECT_PREFIX);
        let compiled = CompiledPiiConfig::new(&config).unwrap();
        assert_eq!(
            ids(&compiled)[0],
            [
                ("@ip:replace".to_owned(), "project:0".to_owned()),
                ("project:1".to_owned(), "project:0".to_owned()),
            ]
        );
        assert!(compiled.applications[0]
            .1
            .iter()
            .all(|r| r.redaction == Redaction::Mask));
    }

    #[test]
    fn verdicts() {
        for ok in [
            r#"{}"#,
            r#"{"x": 1}"#,
            r#"{"rules": {"a": {"type": "pattern", "pattern": "("}}}"#,
            r#"{"rules": {"a": {"type": "anything", "redaction": {"method": "bogus"}}}}"#,
            r#"{"applications": {"a": ["unknownrule"]}}"#,
            r#"{"rules": {"a": {"type": "redactPair", "keyPattern": "x"}}, "applications": {"a": ["a"]}}"#,
            r#"{"vars": {"hashKey": "k"}}"#,
        ] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "nope",
            "1",
            "null",
            r#"{"rules": {"a": {"type": "foo"}}}"#,
            r#"{"rules": {"a": {"type": "pattern"}}}"#,
            r#"{"rules": {"a": {"type": "pattern", "pattern": "("}}, "applications": {"a": ["a"]}}"#,
            r#"{"rules": {"a": {"type": "alias", "rule": "b"}, "b": {"type": "pattern", "pattern": "("}}, "applications": {"a": ["a"]}}"#,
            r#"{"applications": {"a..b": ["x"]}}"#,
            r#"{"applications": {"*": ["x"]}}"#,
            r#"{"applications": {"a": "x"}}"#,
            r#"{"rules": {"a": {"type": "pattern", "pattern": "x", "replaceGroups": [300]}}}"#,
            r#"{"rules": {"a": {"type": "anything", "redaction": {}}}}"#,
            r#"{"rules": null}"#,
            r#"{"rules": {"a": {"type": "pattern", "pattern": "x{99999}"}}, "applications": {"x": ["a"]}}"#,
        ] {
            assert!(validate(bad).is_err(), "{bad}");
        }
        assert_eq!(
            validate(r#"{"applications": {"a..b": ["x"]}}"#)
                .unwrap_err()
                .to_string(),
            "invalid selector `a..b`: invalid syntax near \"a..b\""
        );
    }
}
