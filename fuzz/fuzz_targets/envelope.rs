//! `parse_envelope` on arbitrary bytes: it must never panic, and whatever it accepts must
//! survive `to_vec` and a second parse with the same payloads.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use vigil_protocol::envelope::parse_envelope;

fuzz_target!(|data: &[u8]| {
    let Ok(envelope) = parse_envelope(Bytes::copy_from_slice(data)) else {
        return;
    };
    let again =
        parse_envelope(Bytes::from(envelope.to_vec())).expect("a reserialized envelope parses");
    assert_eq!(again.items.len(), envelope.items.len());
    for (a, b) in again.items.iter().zip(&envelope.items) {
        assert_eq!(a.payload, b.payload);
        assert_eq!(a.ty(), b.ty());
    }
    let _ = envelope.event_id();
    let _ = envelope.sent_at();
});
