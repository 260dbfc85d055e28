//! Reads one JSON header (envelope or item) from the front of a byte slice.
//!
//! Headers are read with serde_json's stream deserializer, as Relay reads them: leading
//! whitespace (blank lines included) is skipped, and the position right after the object is
//! reported so the caller can insist on the `\n` that must follow. Unlike a plain
//! `Map` deserialization, a key that appears twice is an error — Sentry rejects an envelope with
//! two `sent_at`s, and two `length`s would make the item boundary ambiguous.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// What a header line held.
pub(super) enum Header {
    /// A JSON object without duplicate keys.
    Object(Map<String, Value>),
    /// Valid JSON that is not an object.
    NotObject,
}

/// Reads the first JSON value in `data`. `None` if `data` is only whitespace; otherwise the value
/// and the offset of the first byte after it.
pub(super) fn read_header(data: &[u8]) -> Option<Result<(Header, usize), serde_json::Error>> {
    let mut stream = serde_json::Deserializer::from_slice(data).into_iter::<Header>();
    match stream.next()? {
        Ok(header) => Some(Ok((header, stream.byte_offset()))),
        Err(error) => Some(Err(error)),
    }
}

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Header, D::Error> {
        deserializer.deserialize_any(HeaderVisitor)
    }
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = Header;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Header, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            let value = access.next_value::<Value>()?;
            map.insert(key, value);
        }
        Ok(Header::Object(map))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Header, A::Error> {
        while access.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Header::NotObject)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Header, E> {
        Ok(Header::NotObject)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Header, E> {
        Ok(Header::NotObject)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Header, E> {
        Ok(Header::NotObject)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Header, E> {
        Ok(Header::NotObject)
    }

    fn visit_str<E>(self, _: &str) -> Result<Header, E> {
        Ok(Header::NotObject)
    }

    fn visit_unit<E>(self) -> Result<Header, E> {
        Ok(Header::NotObject)
    }
}
