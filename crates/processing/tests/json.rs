//! The event tree processing parses into writes every SDK payload exactly as
//! `serde_json::Value` does, so events stored through it keep their bytes.

mod common;

use common::{dir_name, parse_envelope, request_dirs, Captured};
use vigil_processing::json::Json;

#[test]
fn every_fixture_payload_round_trips_byte_for_byte() {
    let mut checked = 0;
    for dir in request_dirs() {
        let captured = Captured::read(&dir);
        let body = captured.body;
        let mut payloads: Vec<Vec<u8>> = Vec::new();
        if dir_name(&dir).ends_with("-store") {
            payloads.push(body);
        } else if dir_name(&dir).ends_with("-envelope") {
            let (_, items) = parse_envelope(&body);
            payloads.extend(items.into_iter().map(|(_, payload)| payload));
        }
        for payload in payloads {
            let Ok(value) = serde_json::from_slice::<serde_json::Value>(&payload) else {
                continue;
            };
            let json = Json::parse(&payload).expect("what Value parses, Json parses");
            assert_eq!(
                json.to_json_vec(),
                serde_json::to_vec(&value).expect("writes"),
                "{}",
                dir.display()
            );
            assert_eq!(json, value);
            checked += 1;
        }
    }
    assert!(
        checked > 30,
        "only {checked} JSON payloads among the fixtures"
    );
}
