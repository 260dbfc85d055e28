//! One test per envelope rule of protocol §4, named for the behaviour.

use bytes::Bytes;
use serde_json::{json, Value};

use super::*;

const HEADER: &str = r#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","dsn":"https://e12d836b15bb49d7bbf99e64295d995b@sentry.io/42"}"#;

fn parse(body: &[u8]) -> Result<Envelope, EnvelopeError> {
    parse_envelope(Bytes::copy_from_slice(body))
}

fn with_header(items: &str) -> Vec<u8> {
    format!("{HEADER}\n{items}").into_bytes()
}

fn payloads(envelope: &Envelope) -> Vec<&[u8]> {
    envelope
        .items
        .iter()
        .map(|item| &item.payload[..])
        .collect()
}

// Rule 1: the envelope header.

#[test]
fn header_without_newline_is_zero_items() {
    let envelope = parse(HEADER.as_bytes()).unwrap();
    assert!(envelope.items.is_empty());
    assert_eq!(
        envelope.event_id().as_deref(),
        Some("9ec79c33ec9942ab8353589fcb2e04dc")
    );
}

#[test]
fn zero_items_is_valid() {
    let envelope = parse(format!("{HEADER}\n").as_bytes()).unwrap();
    assert!(envelope.items.is_empty());
    assert!(parse(b"{}").unwrap().items.is_empty());
    assert!(parse(b"{}\n").unwrap().items.is_empty());
}

#[test]
fn empty_body_is_missing_header() {
    assert_eq!(parse(b""), Err(EnvelopeError::MissingHeader));
    assert_eq!(parse(b" \n\r\n"), Err(EnvelopeError::MissingHeader));
}

#[test]
fn envelope_header_must_be_a_json_object() {
    for body in [&b"[]\n"[..], b"42\n", b"\"x\"\n", b"null"] {
        assert_eq!(
            parse(body),
            Err(EnvelopeError::InvalidHeader("not a JSON object".into())),
            "{body:?}"
        );
    }
}

#[test]
fn envelope_header_must_be_valid_json() {
    let error = parse(b"{\"event_id\":\n").unwrap_err();
    assert!(
        matches!(error, EnvelopeError::InvalidHeader(_)),
        "{error:?}"
    );
    assert!(error.to_string().starts_with("invalid envelope header: "));
    assert!(!error.to_string().contains('\n'));
}

#[test]
fn envelope_header_must_end_with_newline() {
    assert_eq!(
        parse(b"{} \n"),
        Err(EnvelopeError::MissingNewlineAfterHeader)
    );
    assert_eq!(
        parse(b"{}\r\n"),
        Err(EnvelopeError::MissingNewlineAfterHeader)
    );
    assert_eq!(
        parse(b"{}{}"),
        Err(EnvelopeError::MissingNewlineAfterHeader)
    );
}

#[test]
fn duplicate_sent_at_is_rejected() {
    let error = parse(br#"{"sent_at":"2026-11-25T02:41:26Z","sent_at":"2026-11-25T02:41:27Z"}"#)
        .unwrap_err();
    assert!(
        matches!(&error, EnvelopeError::InvalidHeader(reason) if reason.contains("duplicate key `sent_at`")),
        "{error:?}"
    );
}

#[test]
fn unknown_envelope_header_keys_are_kept_in_order() {
    let envelope = parse(br#"{"zeta":1,"remote_addr":"1.2.3.4","alpha":{"x":true}}"#).unwrap();
    let keys: Vec<&str> = envelope.headers.keys().map(String::as_str).collect();
    assert_eq!(keys, ["zeta", "remote_addr", "alpha"]);
}

// Rule 7 and §4.1: header fields.

#[test]
fn dashed_event_id_is_compared_as_uuid() {
    // sentry-cli: hyphenated in the envelope header, simple in the payload.
    let body = concat!(
        r#"{"event_id":"ce846a22-5022-4fb4-bf50-88dd21429c88"}"#,
        "\n",
        r#"{"type":"event","length":47}"#,
        "\n",
        r#"{"event_id":"ce846a2250224fb4bf5088dd21429c88"}"#,
        "\n"
    );
    let envelope = parse(body.as_bytes()).unwrap();
    let payload: Value = serde_json::from_slice(&envelope.items[0].payload).unwrap();
    let payload_id = payload["event_id"]
        .as_str()
        .and_then(crate::ids::normalize_uuid);
    assert_eq!(envelope.event_id(), payload_id);
    assert_eq!(
        envelope.event_id().as_deref(),
        Some("ce846a2250224fb4bf5088dd21429c88")
    );
}

#[test]
fn upper_case_event_id_is_normalized() {
    let envelope = parse(br#"{"event_id":"9EC79C33EC9942AB8353589FCB2E04DC"}"#).unwrap();
    assert_eq!(
        envelope.event_id().as_deref(),
        Some("9ec79c33ec9942ab8353589fcb2e04dc")
    );
}

#[test]
fn invalid_event_id_is_rejected() {
    for header in [
        &br#"{"event_id":"not-a-uuid"}"#[..],
        br#"{"event_id":""}"#,
        br#"{"event_id":42}"#,
    ] {
        assert_eq!(
            parse(header),
            Err(EnvelopeError::InvalidHeader(
                "event_id is not a UUID".into()
            )),
            "{header:?}"
        );
    }
}

#[test]
fn null_or_missing_event_id_is_none() {
    assert_eq!(parse(br#"{"event_id":null}"#).unwrap().event_id(), None);
    assert_eq!(parse(b"{}").unwrap().event_id(), None);
}

#[test]
fn dsn_header_is_exposed() {
    let envelope = parse(HEADER.as_bytes()).unwrap();
    assert_eq!(
        envelope.dsn(),
        Some("https://e12d836b15bb49d7bbf99e64295d995b@sentry.io/42")
    );
    assert_eq!(parse(b"{}").unwrap().dsn(), None);
}

#[test]
fn sent_at_is_unix_seconds() {
    let envelope = parse(br#"{"sent_at":"1970-01-01T00:02:03.5Z"}"#).unwrap();
    assert_eq!(envelope.sent_at(), Some(123.5));
}

#[test]
fn unreadable_sent_at_is_ignored_not_fatal() {
    let envelope = parse(br#"{"sent_at":"yesterday"}"#).unwrap();
    assert_eq!(envelope.sent_at(), None);
    assert_eq!(parse(br#"{"sent_at":null}"#).unwrap().sent_at(), None);
}

// Rules 2–4: items and payloads.

#[test]
fn item_with_length_reads_exactly_that_many_bytes() {
    let body = [
        HEADER.as_bytes(),
        b"\n{\"type\":\"attachment\",\"length\":7}\n",
        b"a\nb\r\0\xffz",
        b"\n",
    ]
    .concat();
    let envelope = parse(&body).unwrap();
    assert_eq!(payloads(&envelope), [&b"a\nb\r\0\xffz"[..]]);
}

#[test]
fn item_without_length_runs_to_newline() {
    let envelope = parse(&with_header(
        "{\"type\":\"event\"}\n{\"message\":\"hi\"}\n{\"type\":\"session\"}\n{}\n",
    ))
    .unwrap();
    assert_eq!(payloads(&envelope), [&b"{\"message\":\"hi\"}"[..], b"{}"]);
    assert_eq!(envelope.items[0].ty(), ItemType::Event);
    assert_eq!(envelope.items[1].ty(), ItemType::Session);
}

#[test]
fn item_without_length_runs_to_eof() {
    // What the JS SDKs send: no trailing newline after the last payload.
    let envelope = parse(&with_header("{\"type\":\"event\"}\n{\"message\":\"hi\"}")).unwrap();
    assert_eq!(payloads(&envelope), [&b"{\"message\":\"hi\"}"[..]]);
}

#[test]
fn null_length_means_no_length() {
    let envelope = parse(&with_header("{\"type\":\"event\",\"length\":null}\nabc\n")).unwrap();
    assert_eq!(payloads(&envelope), [&b"abc"[..]]);
}

#[test]
fn crlf_payload_keeps_carriage_return() {
    // A CRLF after a header is not a line end: the header line must end in a bare `\n`.
    let error = parse(&with_header("{\"type\":\"event\"}\r\n")).unwrap_err();
    assert_eq!(error, EnvelopeError::MissingNewlineAfterItemHeader);

    let envelope = parse(&with_header("{\"type\":\"attachment\"}\nhello\r\n")).unwrap();
    assert_eq!(payloads(&envelope), [&b"hello\r"[..]]);
}

#[test]
fn documented_example_with_bom_and_crlf() {
    let body = [
        br#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","dsn":"https://e12d836b15bb49d7bbf99e64295d995b@sentry.io/42","sent_at":"2026-11-25T02:41:11.487Z"}"#.as_slice(),
        b"\n",
        br#"{"type":"attachment","length":10,"content_type":"text/plain","filename":"hello.txt"}"#,
        b"\n\xef\xbb\xbfHello\r\n\n",
        br#"{"type":"event","length":41,"content_type":"application/json"}"#,
        b"\n",
        br#"{"message":"hello world","level":"error"}"#,
        b"\n",
    ]
    .concat();
    let envelope = parse(&body).unwrap();
    assert_eq!(envelope.items.len(), 2);
    let attachment = &envelope.items[0];
    assert_eq!(attachment.ty(), ItemType::Attachment);
    assert_eq!(&attachment.payload[..], b"\xef\xbb\xbfHello\r\n");
    assert_eq!(attachment.content_type(), Some("text/plain"));
    assert_eq!(attachment.filename(), Some("hello.txt"));
    let event = &envelope.items[1];
    assert_eq!(event.ty(), ItemType::Event);
    assert_eq!(
        &event.payload[..],
        br#"{"message":"hello world","level":"error"}"#
    );
    assert_eq!(event.content_type(), Some("application/json"));
    assert!(envelope.sent_at().is_some());
}

#[test]
fn length_mismatch_is_an_error() {
    // Too short: the byte after the payload is not a newline.
    assert_eq!(
        parse(&with_header("{\"type\":\"event\",\"length\":2}\nabc\n")),
        Err(EnvelopeError::MissingNewlineAfterPayload)
    );
    // A `\r` after a length-delimited payload is not a line end either.
    assert_eq!(
        parse(&with_header("{\"type\":\"event\",\"length\":3}\nabc\r\n")),
        Err(EnvelopeError::MissingNewlineAfterPayload)
    );
    // A space after the payload, likewise.
    assert_eq!(
        parse(&with_header("{\"type\":\"event\",\"length\":3}\nabc \n")),
        Err(EnvelopeError::MissingNewlineAfterPayload)
    );
}

#[test]
fn length_past_end_is_unexpected_eof() {
    assert_eq!(
        parse(&with_header("{\"type\":\"event\",\"length\":10}\nabc\n")),
        Err(EnvelopeError::UnexpectedEof)
    );
    assert_eq!(
        parse(&with_header("{\"type\":\"event\",\"length\":1}")),
        Err(EnvelopeError::UnexpectedEof)
    );
    assert_eq!(
        parse(&with_header(
            "{\"type\":\"event\",\"length\":18446744073709551615}\nabc"
        )),
        Err(EnvelopeError::UnexpectedEof)
    );
    assert_eq!(
        EnvelopeError::UnexpectedEof.to_string(),
        "unexpected end of file"
    );
}

#[test]
fn length_must_be_a_non_negative_integer() {
    for length in ["-1", "1.5", "\"3\"", "true", "[]"] {
        let body = with_header(&format!(
            "{{\"type\":\"event\",\"length\":{length}}}\nabc\n"
        ));
        assert_eq!(
            parse(&body),
            Err(EnvelopeError::InvalidItemLength),
            "{length}"
        );
    }
}

#[test]
fn empty_payload_at_eof() {
    // A last header with no newline after it has an empty payload, with or without length.
    for items in [
        "{\"type\":\"attachment\"}",
        "{\"type\":\"attachment\",\"length\":0}",
    ] {
        let envelope = parse(&with_header(items)).unwrap();
        assert_eq!(payloads(&envelope), [&b""[..]], "{items}");
    }
    let envelope = parse(&with_header("{\"type\":\"attachment\"}\n")).unwrap();
    assert_eq!(payloads(&envelope), [&b""[..]]);
}

#[test]
fn empty_payloads_with_terminators() {
    let envelope = parse(&with_header(
        "{\"type\":\"attachment\",\"length\":0}\n\n{\"type\":\"attachment\",\"length\":0}\n\n",
    ))
    .unwrap();
    assert_eq!(payloads(&envelope), [&b""[..], b""]);

    let envelope = parse(&with_header(
        "{\"type\":\"attachment\"}\n\n{\"type\":\"event\"}\n{}",
    ))
    .unwrap();
    assert_eq!(payloads(&envelope), [&b""[..], b"{}"]);
}

// Rule 5: what comes between and after items.

#[test]
fn trailing_newlines_are_tolerated() {
    let envelope = parse(&with_header("{\"type\":\"event\",\"length\":2}\n{}\n\n\n")).unwrap();
    assert_eq!(payloads(&envelope), [&b"{}"[..]]);
    let envelope = parse(&with_header("{\"type\":\"event\"}\n{}\n\r\n \t\n")).unwrap();
    assert_eq!(payloads(&envelope), [&b"{}"[..]]);
    assert!(parse(b"{}\n\n\n").unwrap().items.is_empty());
}

#[test]
fn blank_lines_before_an_item_header_are_skipped() {
    // Relay reads each header with a JSON stream reader, which skips whitespace.
    let envelope = parse(&with_header(
        "{\"type\":\"event\",\"length\":2}\n{}\n\n\n{\"type\":\"session\"}\n{}",
    ))
    .unwrap();
    assert_eq!(envelope.items.len(), 2);
    assert_eq!(envelope.items[1].ty(), ItemType::Session);
}

#[test]
fn next_header_starts_right_after_terminator() {
    // Without length, the line after the header is payload even if it looks like a header.
    let envelope = parse(&with_header(
        "{\"type\":\"attachment\"}\n{\"type\":\"event\"}\n",
    ))
    .unwrap();
    assert_eq!(envelope.items.len(), 1);
    assert_eq!(payloads(&envelope), [&b"{\"type\":\"event\"}"[..]]);
}

// Rule 6: headers are JSON objects with a type; unknowns are kept.

#[test]
fn unknown_item_type_is_kept_and_its_payload_skipped() {
    let envelope = parse(&with_header(
        "{\"type\":\"future_thing\",\"length\":5}\na\nb\nc\n{\"type\":\"invalid_unknown\"}\nhelloworld\n{\"type\":\"event\"}\n{}\n",
    ))
    .unwrap();
    let types: Vec<ItemType> = envelope.items.iter().map(Item::ty).collect();
    assert_eq!(
        types,
        [
            ItemType::Unknown("future_thing".into()),
            ItemType::Unknown("invalid_unknown".into()),
            ItemType::Event
        ]
    );
    assert_eq!(payloads(&envelope), [&b"a\nb\nc"[..], b"helloworld", b"{}"]);
}

#[test]
fn unknown_item_header_keys_are_kept() {
    let envelope = parse(&with_header(
        "{\"type\":\"log\",\"item_count\":3,\"content_type\":\"application/vnd.sentry.items.log+json\",\"x-custom\":[1]}\n{}\n",
    ))
    .unwrap();
    let item = &envelope.items[0];
    assert_eq!(item.ty(), ItemType::Log);
    assert_eq!(item.item_count(), Some(3));
    assert_eq!(
        item.content_type(),
        Some("application/vnd.sentry.items.log+json")
    );
    assert_eq!(item.headers.get("x-custom"), Some(&json!([1])));
}

#[test]
fn missing_item_type_is_an_error() {
    assert_eq!(
        parse(&with_header("{\"length\":2}\n{}\n")),
        Err(EnvelopeError::MissingItemType)
    );
    assert_eq!(
        parse(&with_header("{\"type\":null}\n{}\n")),
        Err(EnvelopeError::MissingItemType)
    );
    assert_eq!(
        EnvelopeError::MissingItemType.to_string(),
        "missing item type"
    );
}

#[test]
fn item_type_must_be_a_string() {
    assert_eq!(
        parse(&with_header("{\"type\":1}\n{}\n")),
        Err(EnvelopeError::InvalidItemType)
    );
}

#[test]
fn item_header_is_not_a_json_object() {
    for items in ["[\"event\"]\n{}\n", "\"event\"\n{}\n", "7\n{}\n", "null\n"] {
        assert_eq!(
            parse(&with_header(items)),
            Err(EnvelopeError::ItemHeaderNotObject),
            "{items}"
        );
    }
    assert_eq!(
        EnvelopeError::ItemHeaderNotObject.to_string(),
        "item header is not a JSON object"
    );
}

#[test]
fn invalid_item_header_json_is_an_error() {
    let error = parse(&with_header("{\"type\":\"event\"\n{}\n")).unwrap_err();
    assert!(
        matches!(error, EnvelopeError::InvalidItemHeader(_)),
        "{error:?}"
    );
    assert!(error.to_string().starts_with("invalid item header: "));
}

#[test]
fn duplicate_item_header_key_is_an_error() {
    let error = parse(&with_header(
        "{\"type\":\"event\",\"length\":2,\"length\":3}\n{}\n",
    ))
    .unwrap_err();
    assert!(
        matches!(&error, EnvelopeError::InvalidItemHeader(reason) if reason.contains("duplicate key `length`")),
        "{error:?}"
    );
}

#[test]
fn item_header_must_end_with_newline() {
    assert_eq!(
        parse(&with_header("{\"type\":\"event\"} {}\n")),
        Err(EnvelopeError::MissingNewlineAfterItemHeader)
    );
    assert_eq!(
        parse(&with_header("{\"type\":\"event\"}{}\n")),
        Err(EnvelopeError::MissingNewlineAfterItemHeader)
    );
}

#[test]
fn missing_newline_after_item_payload_message() {
    assert_eq!(
        EnvelopeError::MissingNewlineAfterPayload.to_string(),
        "missing newline after item payload"
    );
}

// Zero copy, event ids and serialization.

#[test]
fn payloads_are_slices_of_the_body() {
    let body = Bytes::from(with_header(
        "{\"type\":\"event\",\"length\":2}\n{}\n{\"type\":\"session\"}\n{}",
    ));
    let range = body.as_ptr_range();
    let envelope = parse_envelope(body.clone()).unwrap();
    for item in &envelope.items {
        let payload = item.payload.as_ptr_range();
        assert!(range.start <= payload.start && payload.end <= range.end);
    }
}

#[test]
fn requires_event_id_when_an_item_is_event_bound() {
    let sessions = parse(&with_header("{\"type\":\"session\"}\n{}\n")).unwrap();
    assert!(!sessions.requires_event_id());
    let attachment = parse(&with_header("{\"type\":\"attachment\"}\nx\n")).unwrap();
    assert!(attachment.requires_event_id());
}

#[test]
fn to_vec_round_trips_and_fixes_lengths() {
    let body = with_header(
        "{\"type\":\"event\"}\n{\"a\":1}\n{\"type\":\"attachment\",\"length\":4,\"filename\":\"x\"}\na\r\nb\n{\"type\":\"x\"}",
    );
    let envelope = parse(&body).unwrap();
    let reparsed = parse_envelope(Bytes::from(envelope.to_vec())).unwrap();
    assert_eq!(reparsed.headers, envelope.headers);
    assert_eq!(reparsed.items.len(), 3);
    for (a, b) in reparsed.items.iter().zip(&envelope.items) {
        assert_eq!(a.payload, b.payload);
        assert_eq!(a.ty(), b.ty());
        assert_eq!(a.headers.get("length"), Some(&Value::from(b.payload.len())));
    }
    // A payload with a newline needs the length that to_vec writes.
    let built = Envelope {
        headers: Map::new(),
        items: vec![Item::new(
            ItemType::Attachment,
            Bytes::from_static(b"two\nlines"),
        )],
    };
    assert_eq!(parse_envelope(Bytes::from(built.to_vec())).unwrap(), built);
}
