//! A JSON object as a vector of fields in the order they came.
//!
//! Events' objects are small (a frame has a handful of fields, an event a few dozen), where a
//! scan of a vector beats hashing every key; order is kept as `serde_json`'s `preserve_order`
//! map keeps it: a new key goes last, a replaced one keeps its place, a removed one closes the
//! gap.

use std::borrow::Cow;

use super::{Json, Str};

/// A JSON object whose keys and strings may borrow from the parsed bytes.
#[derive(Clone, Debug, Default)]
pub struct Object<'a> {
    fields: Vec<(Str<'a>, Json<'a>)>,
}

impl<'a> Object<'a> {
    pub fn new() -> Self {
        Object { fields: Vec::new() }
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Object {
            fields: Vec::with_capacity(capacity),
        }
    }

    /// Fields as parsed, which may repeat a key: the last value wins, at the first one's place
    /// (as `Value` parses them).
    pub(super) fn from_parsed(mut fields: Vec<(Str<'a>, Json<'a>)>) -> Self {
        if has_duplicate_keys(&fields) {
            let mut kept: Vec<(Str<'a>, Json<'a>)> = Vec::with_capacity(fields.len());
            let mut position: std::collections::HashMap<Str<'a>, usize> =
                std::collections::HashMap::with_capacity(fields.len());
            for (key, value) in fields.drain(..) {
                match position.get(&key) {
                    Some(&at) => kept[at].1 = value,
                    None => {
                        position.insert(key.clone(), kept.len());
                        kept.push((key, value));
                    }
                }
            }
            fields = kept;
        }
        Object { fields }
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.fields.iter().position(|(k, _)| k == key)
    }

    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Json<'a>> {
        self.fields
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn get_key_value(&self, key: &str) -> Option<(&str, &Json<'a>)> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(k, v)| (k.as_ref(), v))
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Sets `key`, returning the value it replaced; a replaced key keeps its place.
    pub fn insert(&mut self, key: impl Into<Str<'a>>, value: Json<'a>) -> Option<Json<'a>> {
        let key = key.into();
        match self.position(&key) {
            Some(at) => Some(std::mem::replace(&mut self.fields[at].1, value)),
            None => {
                self.fields.push((key, value));
                None
            }
        }
    }

    /// Removes `key`, keeping the order of the others.
    pub fn shift_remove(&mut self, key: &str) -> Option<Json<'a>> {
        self.shift_remove_entry(key).map(|(_, v)| v)
    }

    /// The same as [`Object::shift_remove`].
    pub fn remove(&mut self, key: &str) -> Option<Json<'a>> {
        self.shift_remove(key)
    }

    pub fn shift_remove_entry(&mut self, key: &str) -> Option<(Str<'a>, Json<'a>)> {
        let at = self.position(key)?;
        Some(self.fields.remove(at))
    }

    pub fn entry(&mut self, key: impl Into<Str<'a>>) -> Entry<'_, 'a> {
        let key = key.into();
        let at = self.position(&key);
        Entry {
            object: self,
            key,
            at,
        }
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&str, &Json<'a>)> + ExactSizeIterator {
        self.fields.iter().map(|(k, v)| (k.as_ref(), v))
    }

    pub fn iter_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = (&str, &mut Json<'a>)> + ExactSizeIterator {
        self.fields.iter_mut().map(|(k, v)| (shared(k), v))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator {
        self.fields.iter().map(|(k, _)| k.as_ref())
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Json<'a>> + ExactSizeIterator {
        self.fields.iter().map(|(_, v)| v)
    }

    pub fn values_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = &mut Json<'a>> + ExactSizeIterator {
        self.fields.iter_mut().map(|(_, v)| v)
    }

    /// The field at `index` in order.
    pub fn get_index(&self, index: usize) -> Option<(&str, &Json<'a>)> {
        self.fields.get(index).map(|(k, v)| (k.as_ref(), v))
    }

    /// Keeps the fields `keep` says yes to, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &mut Json<'a>) -> bool) {
        self.fields.retain_mut(|(k, v)| keep(k, v));
    }

    /// Keeps the first `len` fields.
    pub fn truncate(&mut self, len: usize) {
        self.fields.truncate(len);
    }

    pub fn clear(&mut self) {
        self.fields.clear();
    }

    /// A copy that borrows nothing.
    pub fn into_owned(self) -> Object<'static> {
        Object {
            fields: self
                .fields
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                .collect(),
        }
    }
}

fn has_duplicate_keys(fields: &[(Str<'_>, Json<'_>)]) -> bool {
    if fields.len() <= 16 {
        return fields
            .iter()
            .enumerate()
            .any(|(i, (k, _))| fields[..i].iter().any(|(other, _)| other == k));
    }
    let mut seen = std::collections::HashSet::with_capacity(fields.len());
    fields.iter().any(|(k, _)| !seen.insert(k.as_ref()))
}

impl PartialEq for Object<'_> {
    /// Equal when both have the same fields with equal values, in any order (as `Value`'s
    /// maps compare).
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(k, v)| other.get(k).is_some_and(|w| v == w))
    }
}

impl<'a> std::ops::Index<&str> for Object<'a> {
    type Output = Json<'a>;

    /// `Null` for a missing key, as [`Json`]'s indexing.
    fn index(&self, key: &str) -> &Json<'a> {
        self.get(key).unwrap_or(&super::NULL)
    }
}

/// A field of an object that may or may not be there yet.
pub struct Entry<'o, 'a> {
    object: &'o mut Object<'a>,
    key: Str<'a>,
    at: Option<usize>,
}

impl<'o, 'a> Entry<'o, 'a> {
    pub fn or_insert(self, value: Json<'a>) -> &'o mut Json<'a> {
        self.or_insert_with(|| value)
    }

    pub fn or_insert_with(self, make: impl FnOnce() -> Json<'a>) -> &'o mut Json<'a> {
        let at = match self.at {
            Some(at) => at,
            None => {
                self.object.fields.push((self.key, make()));
                self.object.fields.len() - 1
            }
        };
        &mut self.object.fields[at].1
    }
}

impl<'a, K: Into<Str<'a>>> FromIterator<(K, Json<'a>)> for Object<'a> {
    /// Later fields replace earlier ones of the same key, at the earlier one's place.
    fn from_iter<I: IntoIterator<Item = (K, Json<'a>)>>(iter: I) -> Self {
        let mut object = Object::new();
        object.extend(iter);
        object
    }
}

impl<'a, K: Into<Str<'a>>> Extend<(K, Json<'a>)> for Object<'a> {
    /// As [`Object::insert`] of each field in turn, without a scan per field: the fields are
    /// appended, and only when a key repeats are they merged (last value at the first place).
    fn extend<I: IntoIterator<Item = (K, Json<'a>)>>(&mut self, iter: I) {
        let start = self.fields.len();
        self.fields
            .extend(iter.into_iter().map(|(k, v)| (k.into(), v)));
        if self.fields.len() > start && has_duplicate_keys(&self.fields) {
            let fields = std::mem::take(&mut self.fields);
            *self = Object::from_parsed(fields);
        }
    }
}

impl<'a> IntoIterator for Object<'a> {
    type Item = (Str<'a>, Json<'a>);
    type IntoIter = std::vec::IntoIter<(Str<'a>, Json<'a>)>;

    fn into_iter(self) -> Self::IntoIter {
        self.fields.into_iter()
    }
}

impl<'o, 'a> IntoIterator for &'o Object<'a> {
    type Item = (&'o str, &'o Json<'a>);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'o, (Str<'a>, Json<'a>)>,
        fn(&'o (Str<'a>, Json<'a>)) -> (&'o str, &'o Json<'a>),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.fields.iter().map(|(k, v)| (k.as_ref(), v))
    }
}

impl<'o, 'a> IntoIterator for &'o mut Object<'a> {
    type Item = (&'o str, &'o mut Json<'a>);
    type IntoIter = std::iter::Map<
        std::slice::IterMut<'o, (Str<'a>, Json<'a>)>,
        fn(&'o mut (Str<'a>, Json<'a>)) -> (&'o str, &'o mut Json<'a>),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.fields.iter_mut().map(|(k, v)| (shared(k), v))
    }
}

/// A key of a field borrowed mutably (for its value), read as text.
fn shared<'o>(key: &'o mut Str<'_>) -> &'o str {
    let key: &'o Str<'_> = key;
    key.as_ref()
}
