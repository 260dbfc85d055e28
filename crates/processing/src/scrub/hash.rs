//! The `hash` redaction: Relay writes the HMAC-SHA1 (empty key) of the matched text as
//! upper-case hex. It pseudonymizes, it does not protect anything.

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// HMAC-SHA1 with an empty key, upper-case hex: what Relay's `hash` redaction writes.
pub fn hash_value(data: &[u8]) -> String {
    // HMAC takes a key of any length, the empty one included: this cannot fail.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&[]) else {
        return String::new();
    };
    mac.update(data);
    hex::encode_upper(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_as_relay() {
        // Relay 0.10.1: `@anything:hash` on "foobar" and on "10.0.0.1".
        assert_eq!(
            hash_value(b"foobar"),
            "168197CA3A9D4FE60EDE05116B0A125DA1AB3BD0"
        );
        assert_eq!(
            hash_value(b"10.0.0.1"),
            "F467564A4BA6F6D7D00E4534D5DCB601B1FA220D"
        );
    }
}
