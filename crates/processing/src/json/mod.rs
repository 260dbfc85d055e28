//! The event as processing holds it: a JSON tree whose strings borrow from the bytes the SDK
//! sent.
//!
//! `serde_json::Value` copies every key and string into its own allocation and hashes every
//! key into an index map; for a 12 KB event that is most of the worker's parse (a Rust panic's
//! 38 frames alone are ~270 strings). [`Json`] keeps strings as slices of the payload until a
//! step changes them, and objects as small vectors that keep the order keys came in — the order
//! Sentry stores and shows them in. It mirrors `Value`'s API, so a step reads the same either
//! way, and it serializes byte for byte as `Value` would (same serializer, same number
//! formatting), so stored events do not change with it.

mod de;
mod object;
mod ser;

use std::borrow::Cow;
use std::fmt;

pub use object::{Entry, Object};
pub use serde_json::Number;

/// A string of the tree: borrowed from the payload, or owned once a step rewrote it.
pub type Str<'a> = Cow<'a, str>;

/// A JSON value borrowing its strings from the bytes it was parsed from.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Json<'a> {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(Str<'a>),
    Array(Vec<Json<'a>>),
    Object(Object<'a>),
}

static NULL: Json<'static> = Json::Null;

impl<'a> Json<'a> {
    /// Parses `bytes`, borrowing every string that needs no unescaping.
    pub fn parse(bytes: &'a [u8]) -> Result<Json<'a>, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Parses `text`, borrowing every string that needs no unescaping.
    pub fn parse_str(text: &'a str) -> Result<Json<'a>, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// A copy that borrows nothing.
    pub fn into_owned(self) -> Json<'static> {
        match self {
            Json::Null => Json::Null,
            Json::Bool(b) => Json::Bool(b),
            Json::Number(n) => Json::Number(n),
            Json::String(s) => Json::String(Cow::Owned(s.into_owned())),
            Json::Array(items) => Json::Array(items.into_iter().map(Json::into_owned).collect()),
            Json::Object(object) => Json::Object(object.into_owned()),
        }
    }

    /// The same tree as a `serde_json::Value`, for code outside processing.
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            Json::Null => serde_json::Value::Null,
            Json::Bool(b) => serde_json::Value::Bool(*b),
            Json::Number(n) => serde_json::Value::Number(n.clone()),
            Json::String(s) => serde_json::Value::String(s.as_ref().to_owned()),
            Json::Array(items) => {
                serde_json::Value::Array(items.iter().map(Json::to_value).collect())
            }
            Json::Object(object) => serde_json::Value::Object(
                object
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_value()))
                    .collect(),
            ),
        }
    }

    /// The compact JSON text, as `serde_json::to_vec` writes it for the same `Value`.
    pub fn to_json_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_json(&mut out);
        out
    }

    /// The compact JSON text, for the store.
    pub fn to_json_text(&self) -> vigil_model::JsonText {
        let mut out = Vec::with_capacity(4096);
        self.write_json(&mut out);
        // The serializer writes UTF-8 (it only copies `str`s and escapes); the fallback is
        // never taken.
        let text = String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        vigil_model::JsonText::from_serialized(text)
    }

    /// Appends the compact JSON text to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // Writing to a Vec cannot fail, and every value here is serializable (keys are strings,
        // numbers are finite), so the result carries no information.
        let _ = serde_json::to_writer(out, self);
    }

    /// `self[key]` of an object or `self[index]` of an array.
    pub fn get<I: JsonIndex>(&self, index: I) -> Option<&Json<'a>> {
        index.index_into(self)
    }

    pub fn get_mut<I: JsonIndex>(&mut self, index: I) -> Option<&mut Json<'a>> {
        index.index_into_mut(self)
    }

    /// Looks up a value by a JSON pointer (`/contexts/trace/trace_id`), as `Value::pointer`.
    pub fn pointer(&self, pointer: &str) -> Option<&Json<'a>> {
        pointer_tokens(pointer)?.try_fold(self, |target, token| match target {
            Json::Object(object) => object.get(&token),
            Json::Array(items) => parse_array_index(&token).and_then(|i| items.get(i)),
            _ => None,
        })
    }

    pub fn pointer_mut(&mut self, pointer: &str) -> Option<&mut Json<'a>> {
        pointer_tokens(pointer)?.try_fold(self, |target, token| match target {
            Json::Object(object) => object.get_mut(&token),
            Json::Array(items) => parse_array_index(&token).and_then(move |i| items.get_mut(i)),
            _ => None,
        })
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Json<'a>>> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Json<'a>>> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Json::Object(object) => Some(object),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Object<'a>> {
        match self {
            Json::Object(object) => Some(object),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Json::Number(n) => Some(n),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        self.as_number().and_then(Number::as_f64)
    }

    pub fn as_u64(&self) -> Option<u64> {
        self.as_number().and_then(Number::as_u64)
    }

    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(Number::as_i64)
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Json::String(_))
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Json::Array(_))
    }

    pub fn is_number(&self) -> bool {
        matches!(self, Json::Number(_))
    }

    pub fn is_boolean(&self) -> bool {
        matches!(self, Json::Bool(_))
    }

    pub fn is_u64(&self) -> bool {
        self.as_number().is_some_and(Number::is_u64)
    }

    pub fn is_i64(&self) -> bool {
        self.as_number().is_some_and(Number::is_i64)
    }

    pub fn is_f64(&self) -> bool {
        self.as_number().is_some_and(Number::is_f64)
    }

    /// Takes the value out, leaving `Null`.
    pub fn take(&mut self) -> Json<'a> {
        std::mem::take(self)
    }
}

/// The reference tokens of a JSON pointer, unescaped (none for `""`, the whole document);
/// `None` when the text is not a pointer.
fn pointer_tokens(pointer: &str) -> Option<impl Iterator<Item = Cow<'_, str>>> {
    let rest = match pointer {
        "" => None,
        _ => Some(pointer.strip_prefix('/')?),
    };
    Some(
        rest.into_iter()
            .flat_map(|rest| rest.split('/'))
            .map(unescape_pointer_token),
    )
}

fn unescape_pointer_token(token: &str) -> Cow<'_, str> {
    if token.contains('~') {
        Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(token)
    }
}

fn parse_array_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

/// What can index a [`Json`]: a key of an object or a position in an array.
pub trait JsonIndex {
    fn index_into<'v, 'a>(&self, value: &'v Json<'a>) -> Option<&'v Json<'a>>;
    fn index_into_mut<'v, 'a>(&self, value: &'v mut Json<'a>) -> Option<&'v mut Json<'a>>;
}

impl JsonIndex for str {
    fn index_into<'v, 'a>(&self, value: &'v Json<'a>) -> Option<&'v Json<'a>> {
        value.as_object().and_then(|object| object.get(self))
    }

    fn index_into_mut<'v, 'a>(&self, value: &'v mut Json<'a>) -> Option<&'v mut Json<'a>> {
        value
            .as_object_mut()
            .and_then(|object| object.get_mut(self))
    }
}

impl JsonIndex for String {
    fn index_into<'v, 'a>(&self, value: &'v Json<'a>) -> Option<&'v Json<'a>> {
        self.as_str().index_into(value)
    }

    fn index_into_mut<'v, 'a>(&self, value: &'v mut Json<'a>) -> Option<&'v mut Json<'a>> {
        self.as_str().index_into_mut(value)
    }
}

impl JsonIndex for usize {
    fn index_into<'v, 'a>(&self, value: &'v Json<'a>) -> Option<&'v Json<'a>> {
        value.as_array().and_then(|items| items.get(*self))
    }

    fn index_into_mut<'v, 'a>(&self, value: &'v mut Json<'a>) -> Option<&'v mut Json<'a>> {
        value.as_array_mut().and_then(|items| items.get_mut(*self))
    }
}

impl<T: JsonIndex + ?Sized> JsonIndex for &T {
    fn index_into<'v, 'a>(&self, value: &'v Json<'a>) -> Option<&'v Json<'a>> {
        (**self).index_into(value)
    }

    fn index_into_mut<'v, 'a>(&self, value: &'v mut Json<'a>) -> Option<&'v mut Json<'a>> {
        (**self).index_into_mut(value)
    }
}

impl<'a, I: JsonIndex> std::ops::Index<I> for Json<'a> {
    type Output = Json<'a>;

    /// `Null` for a missing key or position, as `Value`'s indexing.
    fn index(&self, index: I) -> &Json<'a> {
        index.index_into(self).unwrap_or(&NULL)
    }
}

impl<'a> std::ops::IndexMut<&str> for Json<'a> {
    /// An object's field, added as `Null` when missing; `Null` itself becomes an empty object
    /// first. As `Value`'s, for trees processing builds itself: on anything but an object or
    /// `Null` the value is replaced by an object (where `Value` would panic).
    fn index_mut(&mut self, key: &str) -> &mut Json<'a> {
        if !self.is_object() {
            *self = Json::Object(Object::new());
        }
        match self {
            Json::Object(object) => object.entry(key.to_owned()).or_insert(Json::Null),
            _ => unreachable!("made an object above"),
        }
    }
}

impl fmt::Display for Json<'_> {
    /// Compact JSON text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.to_json_vec();
        f.write_str(&String::from_utf8_lossy(&text))
    }
}

impl From<serde_json::Value> for Json<'static> {
    fn from(value: serde_json::Value) -> Self {
        match value {
            serde_json::Value::Null => Json::Null,
            serde_json::Value::Bool(b) => Json::Bool(b),
            serde_json::Value::Number(n) => Json::Number(n),
            serde_json::Value::String(s) => Json::String(Cow::Owned(s)),
            serde_json::Value::Array(items) => {
                Json::Array(items.into_iter().map(Json::from).collect())
            }
            serde_json::Value::Object(map) => Json::Object(
                map.into_iter()
                    .map(|(k, v)| (Cow::Owned(k), Json::from(v)))
                    .collect(),
            ),
        }
    }
}

impl From<&Json<'_>> for serde_json::Value {
    fn from(value: &Json<'_>) -> Self {
        value.to_value()
    }
}

impl From<Json<'_>> for serde_json::Value {
    fn from(value: Json<'_>) -> Self {
        value.to_value()
    }
}

impl PartialEq<serde_json::Value> for Json<'_> {
    fn eq(&self, other: &serde_json::Value) -> bool {
        match (self, other) {
            (Json::Null, serde_json::Value::Null) => true,
            (Json::Bool(a), serde_json::Value::Bool(b)) => a == b,
            (Json::Number(a), serde_json::Value::Number(b)) => a == b,
            (Json::String(a), serde_json::Value::String(b)) => a == b,
            (Json::Array(a), serde_json::Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
            }
            (Json::Object(a), serde_json::Value::Object(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| v == w))
            }
            _ => false,
        }
    }
}

impl PartialEq<Json<'_>> for serde_json::Value {
    fn eq(&self, other: &Json<'_>) -> bool {
        other == self
    }
}

impl PartialEq<str> for Json<'_> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Json<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl<'a> From<&'a str> for Json<'a> {
    fn from(s: &'a str) -> Self {
        Json::String(Cow::Borrowed(s))
    }
}

impl From<String> for Json<'_> {
    fn from(s: String) -> Self {
        Json::String(Cow::Owned(s))
    }
}

impl<'a> From<Cow<'a, str>> for Json<'a> {
    fn from(s: Cow<'a, str>) -> Self {
        Json::String(s)
    }
}

impl From<bool> for Json<'_> {
    fn from(b: bool) -> Self {
        Json::Bool(b)
    }
}

macro_rules! from_integer {
    ($($t:ty),*) => {$(
        impl From<$t> for Json<'_> {
            fn from(n: $t) -> Self {
                Json::Number(Number::from(n))
            }
        }
    )*};
}
from_integer!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

impl From<f64> for Json<'_> {
    /// `Null` for NaN and infinities, which JSON cannot write (as `Value::from`).
    fn from(n: f64) -> Self {
        Number::from_f64(n).map_or(Json::Null, Json::Number)
    }
}

impl From<Number> for Json<'_> {
    fn from(n: Number) -> Self {
        Json::Number(n)
    }
}

impl<'a> From<Vec<Json<'a>>> for Json<'a> {
    fn from(items: Vec<Json<'a>>) -> Self {
        Json::Array(items)
    }
}

impl<'a> From<Object<'a>> for Json<'a> {
    fn from(object: Object<'a>) -> Self {
        Json::Object(object)
    }
}

impl<'a, T: Into<Json<'a>>> From<Option<T>> for Json<'a> {
    fn from(value: Option<T>) -> Self {
        value.map_or(Json::Null, Into::into)
    }
}

impl<'a, T: Into<Json<'a>>> FromIterator<T> for Json<'a> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Json::Array(iter.into_iter().map(Into::into).collect())
    }
}

#[cfg(test)]
mod tests;
