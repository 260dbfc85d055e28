//! The accept side's one-pass event check against a full parse, on arbitrary bytes: it must
//! accept exactly the JSON objects `serde_json` accepts and find the same event id, and the
//! borrowed tree the workers parse must hold exactly what `serde_json::Value` holds.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use vigil_processing::json::Json;
use vigil_processing::payload::{parse_event_tree, scan_event_json};
use vigil_protocol::ids::normalize_uuid;

fuzz_target!(|data: &[u8]| {
    let full = serde_json::from_slice::<Value>(data);
    let scanned = scan_event_json(data);
    match (&full, &scanned) {
        (Ok(Value::Object(event)), Some(id)) => {
            let expected = event
                .get("event_id")
                .and_then(Value::as_str)
                .and_then(normalize_uuid);
            assert_eq!(id, &expected, "the scan found another event id");
        }
        (Ok(Value::Object(_)), None) => panic!("the scan refused an object a full parse accepts"),
        (_, Some(_)) => panic!("the scan accepted what a full parse refuses: {full:?}"),
        _ => {}
    }
    if let Ok(value) = &full {
        let tree = Json::parse(data).expect("the tree parses what serde_json parses");
        assert_eq!(&tree.to_value(), value);
        assert_eq!(
            tree.to_json_vec(),
            serde_json::to_vec(value).expect("writes")
        );
    }
    // The workers' parse (with its NaN repair) never panics, and reads an object or says why.
    if let Ok(event) = parse_event_tree(data) {
        assert!(event.is_object());
    }
});
