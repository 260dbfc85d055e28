//! Event ids: the UUIDs SDKs send in several spellings, and the one spelling Vigil stores.
//!
//! Sentry accepts the 32-hex "simple" form and the 36-character hyphenated form in any case
//! (`sentry-cli` and the Rust SDK put the hyphenated form in the envelope header while the
//! payload has the simple one), and always emits 32 lowercase hex. Comparing ids therefore means
//! comparing normalized ids, never raw strings.

use uuid::Uuid;

/// Normalizes a UUID to 32 lowercase hex characters, or `None` if `s` is not a UUID.
///
/// Accepts what Relay's `EventId` accepts (it parses with `Uuid::parse_str`): simple,
/// hyphenated, braced `{…}` and `urn:uuid:` forms, in any case. Surrounding whitespace is not
/// accepted, as Relay does not accept it.
pub fn normalize_uuid(s: &str) -> Option<String> {
    Uuid::try_parse(s).ok().map(|id| id.simple().to_string())
}

/// A fresh random (v4) event id, 32 lowercase hex characters — for envelopes whose items need an
/// event id but arrived without one.
pub fn new_event_id() -> String {
    Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIMPLE: &str = "ce846a2250224fb4bf5088dd21429c88";

    /// `raw` is read as the id whose simple form is [`SIMPLE`].
    fn assert_simplified(raw: &str) {
        assert_eq!(normalize_uuid(raw).as_deref(), Some(SIMPLE), "{raw}");
    }

    #[test]
    fn simple_form_is_kept() {
        assert_simplified(SIMPLE);
    }

    #[test]
    fn hyphenated_form_from_sentry_cli_is_simplified() {
        assert_simplified("ce846a22-5022-4fb4-bf50-88dd21429c88");
    }

    #[test]
    fn upper_case_is_lowered() {
        assert_simplified("CE846A22-5022-4FB4-BF50-88DD21429C88");
        assert_simplified("CE846A2250224FB4BF5088DD21429C88");
    }

    #[test]
    fn braced_and_urn_forms_are_accepted() {
        assert_simplified("{ce846a22-5022-4fb4-bf50-88dd21429c88}");
        assert_simplified("urn:uuid:ce846a22-5022-4fb4-bf50-88dd21429c88");
    }

    #[test]
    fn non_uuids_are_rejected() {
        for bad in [
            "",
            "ce846a22",
            "ce846a2250224fb4bf5088dd21429c8",   // 31
            "ce846a2250224fb4bf5088dd21429c888", // 33
            "ce846a2250224fb4bf5088dd21429c8g",
            "ce846a22-5022-4fb4-bf50-88dd21429c8",
            " ce846a2250224fb4bf5088dd21429c88",
            "ce846a22_5022_4fb4_bf50_88dd21429c88",
        ] {
            assert_eq!(normalize_uuid(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn new_event_ids_are_simple_lowercase_and_distinct() {
        let a = new_event_id();
        let b = new_event_id();
        assert_ne!(a, b);
        for id in [&a, &b] {
            assert_eq!(id.len(), 32);
            assert!(id.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
            assert_eq!(normalize_uuid(id).as_ref(), Some(id));
        }
    }
}
