//! JSON text that processing wrote once, carried to the store as bytes.
//!
//! An event is parsed, normalized and written out by processing; the store only compresses and
//! keeps the text. Carrying a `serde_json::Value` between them would mean building a second
//! tree of the whole event just to write it again.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// Valid, compact JSON text (one value).
#[derive(Clone, PartialEq, Eq)]
pub struct JsonText(String);

impl JsonText {
    /// Text the caller wrote with a JSON serializer, so known to be valid.
    pub fn from_serialized(text: String) -> JsonText {
        JsonText(text)
    }

    /// The compact text of anything serializable: `Null` for what cannot be written (a map
    /// with non-string keys), which no caller builds.
    pub fn of(value: &impl Serialize) -> JsonText {
        JsonText(serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0.into_bytes()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The text parsed back into a tree, for readers that want one (tests, rare paths).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }
}

impl Default for JsonText {
    fn default() -> Self {
        JsonText("null".to_owned())
    }
}

impl From<&serde_json::Value> for JsonText {
    fn from(value: &serde_json::Value) -> Self {
        JsonText::of(value)
    }
}

impl From<serde_json::Value> for JsonText {
    fn from(value: serde_json::Value) -> Self {
        JsonText::of(&value)
    }
}

impl fmt::Debug for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for JsonText {
    /// Embedded as the JSON it is, not as a string.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for JsonText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Ok(JsonText(String::from(Box::<str>::from(raw))))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn embeds_as_json_and_reads_back() {
        let text = JsonText::of(&json!({"b": [1, "two"], "a": null}));
        assert_eq!(text.as_str(), r#"{"b":[1,"two"],"a":null}"#);
        let outer = serde_json::to_string(&json!({"data": text})).unwrap_or_default();
        assert_eq!(outer, r#"{"data":{"b":[1,"two"],"a":null}}"#);
        #[derive(Deserialize)]
        struct Outer {
            data: JsonText,
        }
        let back: Outer = serde_json::from_str(&outer).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.data, text);
        assert_eq!(back.data.to_value(), json!({"b": [1, "two"], "a": null}));
    }
}
