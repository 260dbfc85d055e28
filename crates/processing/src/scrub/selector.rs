//! Relay's PII selectors (`relay-pii`'s `selector.pest`): which values of an event an
//! application of a PII config reaches. A selector is a path of items (`$type`, a key, a quoted
//! key, an index, `*`, `**`) joined by `.`, combined with `&&`/`&`, `||`/`|`, `!`/`~` and
//! parentheses. It matches a value's path from the value outwards; in a `pii = "maybe"` field
//! only specific items match (keys, indexes, `*`, and schema types in the first position).

use std::fmt;

/// A value type a `$name` selector item names (Relay's `ValueType`), in Relay's declaration
/// order: selectors sort by it, and applications run in selector order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ValueType {
    String,
    Binary,
    Number,
    Boolean,
    DateTime,
    Array,
    Object,
    Event,
    Attachments,
    Exception,
    Stacktrace,
    Frame,
    Request,
    User,
    LogEntry,
    Message,
    Thread,
    Breadcrumb,
    Span,
    ClientSdkInfo,
    Minidump,
    HeapMemory,
    StackMemory,
    Replay,
    OurLog,
    TraceMetric,
}

impl ValueType {
    fn parse(name: &str) -> Option<ValueType> {
        Some(match name {
            "string" => ValueType::String,
            "binary" => ValueType::Binary,
            "number" => ValueType::Number,
            "boolean" => ValueType::Boolean,
            "datetime" => ValueType::DateTime,
            "array" => ValueType::Array,
            "object" => ValueType::Object,
            "event" => ValueType::Event,
            "attachments" => ValueType::Attachments,
            "exception" | "error" => ValueType::Exception,
            "stacktrace" => ValueType::Stacktrace,
            "frame" => ValueType::Frame,
            "request" | "http" => ValueType::Request,
            "user" => ValueType::User,
            "logentry" => ValueType::LogEntry,
            "message" => ValueType::Message,
            "thread" => ValueType::Thread,
            "breadcrumb" => ValueType::Breadcrumb,
            "span" => ValueType::Span,
            "sdk" => ValueType::ClientSdkInfo,
            "minidump" => ValueType::Minidump,
            "heap_memory" => ValueType::HeapMemory,
            "stack_memory" => ValueType::StackMemory,
            "replay" => ValueType::Replay,
            "log" => ValueType::OurLog,
            "trace_metric" => ValueType::TraceMetric,
            _ => return None,
        })
    }

    /// Whether a type names only a basic value, which never matches in a `maybe` field.
    fn is_basic(self) -> bool {
        matches!(
            self,
            ValueType::String
                | ValueType::Binary
                | ValueType::Number
                | ValueType::Boolean
                | ValueType::DateTime
                | ValueType::Array
                | ValueType::Object
        )
    }

    pub const fn bit(self) -> u32 {
        1 << self as u32
    }
}

/// A set of value types (a value is a string, or a frame, …).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Types(pub u32);

impl Types {
    pub const NONE: Types = Types(0);

    pub const fn of(ty: ValueType) -> Types {
        Types(ty.bit())
    }

    pub fn contains(self, ty: ValueType) -> bool {
        self.0 & ty.bit() != 0
    }
}

/// A field's `pii` attribute: whether scrubbing may touch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pii {
    True,
    Maybe,
    False,
}

/// One step of a value's path as selectors see it.
#[derive(Clone, Copy, Debug)]
pub struct State<'a> {
    pub key: Option<&'a str>,
    pub index: Option<usize>,
    pub types: Types,
}

impl State<'_> {
    /// The event itself: no key, and (as Relay's root state) no type.
    pub const ROOT: State<'static> = State {
        key: None,
        index: None,
        types: Types::NONE,
    };
}

/// One item of a selector path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Item {
    Type(ValueType),
    Index(usize),
    /// A key (matched case-insensitively).
    Key(String),
    Wildcard,
    DeepWildcard,
}

/// A parsed selector. The derived order is Relay's (`SelectorSpec`'s), which decides the order
/// in which a config's applications run.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Selector {
    And(Vec<Selector>),
    Or(Vec<Selector>),
    Not(Box<Selector>),
    Path(Vec<Item>),
}

/// Why a selector is not valid (Relay's verdicts, in words of our own).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("invalid syntax near \"{0}\"")]
    Syntax(String),
    #[error("deep wildcard used more than once")]
    DeepWildcard,
    #[error("wildcard must be part of a path")]
    Wildcard,
    #[error("invalid index")]
    Index,
    #[error("unknown value type `${0}`")]
    UnknownType(String),
}

impl Selector {
    /// Parse a selector as Relay does, the legacy names (`freeform`, `databag`, …) included.
    pub fn parse(s: &str) -> Result<Selector, SelectorError> {
        match s {
            "freeform" | "email" | "sensitive" | "text" => {
                Ok(Selector::Path(vec![Item::Type(ValueType::String)]))
            }
            "databag" | "container" => Ok(Selector::Path(vec![Item::Type(ValueType::Object)])),
            _ => Selector::parse_non_legacy(s),
        }
    }

    /// Whether `s` is one of the legacy names [`Selector::parse`] reads as a value type.
    pub fn is_legacy_name(s: &str) -> bool {
        matches!(
            s,
            "freeform" | "email" | "sensitive" | "text" | "databag" | "container"
        )
    }

    /// Parse a selector without the legacy names (`freeform` is the key `freeform`), as Relay
    /// reads safe fields.
    pub fn parse_non_legacy(s: &str) -> Result<Selector, SelectorError> {
        let mut p = Parser {
            src: s,
            pos: 0,
            error: None,
            depth: 0,
        };
        let result = p.or().filter(|_| {
            p.skip_ws();
            p.pos == s.len()
        });
        match (result, p.error) {
            (_, Some(e)) => Err(e),
            (Some(sel), None) => Ok(sel),
            (None, None) => Err(SelectorError::Syntax(s.to_owned())),
        }
    }

    /// Whether the selector matches the value at `path` (root first, the value last), whose
    /// field is `pii`.
    pub fn matches(&self, path: &[State<'_>], pii: Pii) -> bool {
        if pii == Pii::False {
            return false;
        }
        match self {
            Selector::And(xs) => xs.iter().all(|x| x.matches(path, pii)),
            Selector::Or(xs) => xs.iter().any(|x| x.matches(path, pii)),
            Selector::Not(x) => !x.matches(path, pii),
            Selector::Path(items) => path_matches(items, path, pii),
        }
    }

    /// Whether the selector names a single key path with no type, wildcard or operator (used
    /// for safe fields, which exclude by key as well).
    pub fn as_keys(&self) -> Option<Vec<&str>> {
        match self {
            Selector::Path(items) => items
                .iter()
                .map(|i| match i {
                    Item::Key(k) => Some(k.as_str()),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    }
}

fn item_matches(item: &Item, pii: Pii, i: usize, state: &State<'_>) -> bool {
    match (item, pii) {
        (_, Pii::False) => false,
        (Item::Wildcard, _) => true,
        (Item::DeepWildcard, Pii::True) => true,
        (Item::DeepWildcard, Pii::Maybe) => false,
        (Item::Type(ty), Pii::True) => state.types.contains(*ty),
        (Item::Type(ty), Pii::Maybe) => state.types.contains(*ty) && !ty.is_basic() && i == 0,
        (Item::Index(idx), _) => state.index == Some(*idx),
        (Item::Key(key), _) => state.key.is_some_and(|k| eq_caseless(k, key)),
    }
}

/// Relay compares keys lower-cased.
fn eq_caseless(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

/// Relay's `matches_path`: the items against the states from the value outwards; a `**`
/// matches any number (at least one) of states between the items around it.
fn path_matches(items: &[Item], path: &[State<'_>], pii: Pii) -> bool {
    // The root state counts as no depth.
    let depth = path.len().saturating_sub(1);
    if items.len() > depth {
        return false;
    }
    let mut states = path.iter().rev();
    let mut selector = items.iter().enumerate().rev();
    let mut deep = false;
    for state in &mut states {
        match selector.next() {
            Some((i, item)) => {
                if !item_matches(item, pii, i, state) {
                    return false;
                }
                if *item == Item::DeepWildcard {
                    deep = true;
                    break;
                }
            }
            None => break,
        }
    }
    if !deep {
        return true;
    }
    // Outside the `**`: the remaining items must match a run of states that starts anywhere
    // at or below the root and ends right before the states the `**` took.
    let remaining: Vec<&State<'_>> = states.collect();
    let mut selector = selector.rev();
    let Some((first_i, first)) = selector.next() else {
        return !remaining.is_empty();
    };
    let mut outward = remaining
        .iter()
        .rev()
        .skip_while(|s| !item_matches(first, pii, first_i, s));
    if outward.next().is_none() {
        return false;
    }
    outward
        .zip(&mut selector)
        .all(|(s, (i, item))| item_matches(item, pii, i, s))
        && selector.next().is_none()
}

/// A recursive-descent reading of Relay's grammar (spaces allowed between tokens, not inside
/// unquoted keys, types or indexes).
struct Parser<'s> {
    src: &'s str,
    pos: usize,
    /// A semantic error (bad index, unknown type, …) seen on the way: reported over syntax.
    error: Option<SelectorError>,
    /// Parentheses open around the current position: past [`MAX_NESTING`] the selector is
    /// refused rather than parsed (and later matched and dropped) by ever deeper recursion.
    depth: usize,
}

/// How deep parentheses may nest in a selector (Relay's own configs use one or two levels).
const MAX_NESTING: usize = 32;

impl<'s> Parser<'s> {
    fn rest(&self) -> &'s str {
        &self.src[self.pos..]
    }

    fn skip_ws(&mut self) {
        while self.rest().starts_with(' ') {
            self.pos += 1;
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_ws();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Option<Selector> {
        self.chain(["||", "|"], Self::and, Selector::Or)
    }

    fn and(&mut self) -> Option<Selector> {
        self.chain(["&&", "&"], Self::maybe_not, Selector::And)
    }

    /// `operand (op operand)*` for one of the binary operators (each has a long and a short
    /// spelling); an operator without an operand after it is left unread.
    fn chain(
        &mut self,
        ops: [&str; 2],
        operand: fn(&mut Self) -> Option<Selector>,
        make: fn(Vec<Selector>) -> Selector,
    ) -> Option<Selector> {
        let mut items = vec![operand(self)?];
        loop {
            let save = self.pos;
            if !(self.eat(ops[0]) || self.eat(ops[1])) {
                break;
            }
            match operand(self) {
                Some(s) => items.push(s),
                None => {
                    self.pos = save;
                    break;
                }
            }
        }
        Some(if items.len() == 1 {
            items.remove(0)
        } else {
            make(items)
        })
    }

    fn maybe_not(&mut self) -> Option<Selector> {
        let save = self.pos;
        if self.eat("!") || self.eat("~") {
            if let Some(inner) = self.paren_or_path() {
                return Some(Selector::Not(Box::new(inner)));
            }
            self.pos = save;
            return None;
        }
        self.paren_or_path()
    }

    fn paren_or_path(&mut self) -> Option<Selector> {
        let save = self.pos;
        if self.eat("(") {
            if self.depth >= MAX_NESTING {
                self.pos = save;
                return None;
            }
            self.depth += 1;
            let inner = self.or();
            self.depth -= 1;
            if let Some(inner) = inner {
                if self.eat(")") {
                    return Some(inner);
                }
            }
            self.pos = save;
            return None;
        }
        self.path()
    }

    fn path(&mut self) -> Option<Selector> {
        let mut items = vec![self.item()?];
        loop {
            let save = self.pos;
            if !self.eat(".") {
                break;
            }
            match self.item() {
                Some(item) => items.push(item),
                None => {
                    self.pos = save;
                    break;
                }
            }
        }
        if items.iter().filter(|i| **i == Item::DeepWildcard).count() > 1 {
            self.error.get_or_insert(SelectorError::DeepWildcard);
        }
        if items == [Item::Wildcard] {
            self.error.get_or_insert(SelectorError::Wildcard);
        }
        Some(Selector::Path(items))
    }

    fn item(&mut self) -> Option<Item> {
        self.skip_ws();
        let rest = self.rest();
        let bytes = rest.as_bytes();
        if let Some(name) = rest.strip_prefix('$') {
            let len = name
                .bytes()
                .take_while(|b| b.is_ascii_lowercase() || *b == b'_')
                .count();
            if len == 0 {
                return None;
            }
            self.pos += 1 + len;
            let name = &name[..len];
            return Some(match ValueType::parse(name) {
                Some(ty) => Item::Type(ty),
                None => {
                    self.error
                        .get_or_insert(SelectorError::UnknownType(name.to_owned()));
                    Item::Wildcard
                }
            });
        }
        if rest.starts_with("**") {
            self.pos += 2;
            return Some(Item::DeepWildcard);
        }
        if rest.starts_with('*') {
            self.pos += 1;
            return Some(Item::Wildcard);
        }
        let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 {
            self.pos += digits;
            return Some(match rest[..digits].parse() {
                Ok(i) => Item::Index(i),
                Err(_) => {
                    self.error.get_or_insert(SelectorError::Index);
                    Item::Index(0)
                }
            });
        }
        if bytes
            .first()
            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        {
            let len = bytes
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-' || **b == b'_')
                .count();
            self.pos += len;
            return Some(Item::Key(rest[..len].to_owned()));
        }
        if rest.starts_with('\'') {
            let save = self.pos;
            self.pos += 1;
            // The grammar lets spaces sit between the quote and the key (a quirk kept).
            self.skip_ws();
            let mut key = String::new();
            loop {
                let rest = self.rest();
                if let Some(after) = rest.strip_prefix("''") {
                    key.push('\'');
                    self.pos = self.src.len() - after.len();
                } else if rest.starts_with('\'') || rest.is_empty() {
                    break;
                } else if let Some(c) = rest.chars().next() {
                    key.push(c);
                    self.pos += c.len_utf8();
                }
            }
            if key.is_empty() || !self.rest().starts_with('\'') {
                self.pos = save;
                return None;
            }
            self.pos += 1;
            return Some(Item::Key(key));
        }
        None
    }
}

fn write_key(f: &mut fmt::Formatter<'_>, key: &str) -> fmt::Result {
    let plain = key
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        f.write_str(key)
    } else {
        write!(f, "'{}'", key.replace('\'', "''"))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::And(xs) | Selector::Or(xs) => {
                let op = if matches!(self, Selector::And(_)) {
                    " && "
                } else {
                    " || "
                };
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(op)?;
                    }
                    if matches!(x, Selector::Or(_)) && op == " && " {
                        write!(f, "({x})")?;
                    } else {
                        write!(f, "{x}")?;
                    }
                }
                Ok(())
            }
            Selector::Not(x) => match **x {
                Selector::Path(_) => write!(f, "!{x}"),
                _ => write!(f, "!({x})"),
            },
            Selector::Path(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    match item {
                        Item::Type(ty) => write!(f, "${}", format!("{ty:?}").to_lowercase())?,
                        Item::Index(i) => write!(f, "{i}")?,
                        Item::Key(k) => write_key(f, k)?,
                        Item::Wildcard => f.write_str("*")?,
                        Item::DeepWildcard => f.write_str("**")?,
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Selector {
        Selector::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn grammar() {
        for s in [
            "**",
            "a.*",
            "*.a",
            "a && b",
            "a & b",
            "a || b",
            "a | b",
            "!a",
            "~a",
            "(a)",
            "'a b'",
            "'a''b'",
            "a.0",
            "0",
            " a ",
            "a-b",
            "_a",
            "a.'x.y'",
            "$frame.vars.foo",
            "$http.headers",
            "freeform",
            "!(!a)",
            "$heap_memory",
        ] {
            ok(s);
        }
        for (s, e) in [
            ("*", SelectorError::Wildcard),
            ("(* && a)", SelectorError::Wildcard),
            ("a.**.b.**", SelectorError::DeepWildcard),
            ("$foo", SelectorError::UnknownType("foo".into())),
            ("a.99999999999999999999999", SelectorError::Index),
        ] {
            assert_eq!(Selector::parse(s), Err(e), "{s}");
        }
        for s in [
            "a.-1", "a b", "1a", "$String", "a.b[0]", "''", "", "(a", "!!a", "a..b", "a.",
        ] {
            assert!(
                matches!(Selector::parse(s), Err(SelectorError::Syntax(_))),
                "{s}"
            );
        }
        assert_eq!(ok("'a''b'"), Selector::Path(vec![Item::Key("a'b".into())]));
        assert_eq!(ok("' x '"), Selector::Path(vec![Item::Key("x ".into())]));
        assert_eq!(ok("!a || b && c").to_string(), "!a || b && c");
        assert_eq!(ok("a && (b || c)").to_string(), "a && (b || c)");
    }

    fn states<'a>(items: &[(Option<&'a str>, Option<usize>, Types)]) -> Vec<State<'a>> {
        let mut v = vec![State::ROOT];
        v.extend(
            items
                .iter()
                .map(|&(key, index, types)| State { key, index, types }),
        );
        v
    }

    #[test]
    fn matching() {
        let obj = Types::of(ValueType::Object);
        let arr = Types::of(ValueType::Array);
        let user = Types::of(ValueType::User);
        let extra = states(&[(Some("user"), None, user), (Some("extra"), None, obj)]);
        let zero = states(&[
            (Some("user"), None, user),
            (Some("extra"), None, obj),
            (Some("foo"), None, arr),
            (None, Some(0), Types::NONE),
        ]);
        for s in [
            "user.extra",
            "$user.extra",
            "(** || user.*) && !(foo.bar.baz || a.b.c)",
        ] {
            assert!(ok(s).matches(&extra, Pii::Maybe), "{s}");
            assert!(ok(s).matches(&extra, Pii::True), "{s}");
        }
        assert!(ok("!(!user.extra)").matches(&extra, Pii::True));
        for s in [
            "$user.extra.foo.**",
            "$user.**",
            "$user.**.0",
            "$user.$object.**.0",
            "(**.0 | absolutebogus)",
            "(~$object)",
            "($object.** & (~absolutebogus))",
        ] {
            assert!(ok(s).matches(&zero, Pii::True), "{s}");
        }
        for s in [
            "$user.extra.foo.1",
            "$user.extra.bar.**",
            "$user.**.1",
            "($object | absolutebogus)",
            "(~$object.**)",
            "$event.**",
        ] {
            assert!(!ok(s).matches(&zero, Pii::True), "{s}");
        }
        assert!(ok("$user.extra.foo.0").matches(&zero, Pii::Maybe));
        assert!(!ok("$user.**").matches(&zero, Pii::Maybe));
        assert!(!ok("$object").matches(&extra, Pii::Maybe));
        assert!(!ok("user.extra").matches(&extra, Pii::False));
        assert!(ok("USER.Extra").matches(&extra, Pii::True));
    }
    #[test]
    fn deep_nesting_is_refused_not_recursed_into() {
        let nested = |n: usize| format!("{}$string{}", "(".repeat(n), ")".repeat(n));
        assert!(Selector::parse(&nested(MAX_NESTING)).is_ok());
        assert!(matches!(
            Selector::parse(&nested(MAX_NESTING + 1)),
            Err(SelectorError::Syntax(_))
        ));
        // Far deeper than any stack would take, refused at once.
        assert!(Selector::parse(&nested(100_000)).is_err());
    }
}
