//! The scrubber's advanced rules (`relayPiiConfig`, set through the project API) and its
//! selector language on arbitrary text: parsing never panics, and a config that validates
//! scrubs an event without panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_model::ScrubbingSettings;
use vigil_processing::json::Json;
use vigil_processing::scrub::selector::Selector;
use vigil_processing::scrub::{scrub_event, validate_pii_config};

const EVENT: &str = r#"{"event_id":"b734577d50fd48ea9070b488e32bdbf7","extra":{"password":"hunter2",
"order_id":"ORDER-1","card":"4111 1111 1111 1111"},"user":{"email":"a@example.com",
"ip_address":"10.0.0.1"},"request":{"headers":[["Authorization","Bearer abc"]],
"query_string":[["token","t0k3n"]]},"exception":{"values":[{"type":"E","value":"v 4111111111111111",
"stacktrace":{"frames":[{"function":"f","vars":{"secret":"s","n":1,"l":[1,"x"]}}]}}]},
"breadcrumbs":{"values":[{"message":"m","data":{"api_key":"k"}}]}}"#;

fuzz_target!(|text: &str| {
    let _ = Selector::parse(text);
    if validate_pii_config(text).is_ok() {
        let settings = ScrubbingSettings {
            relay_pii_config: Some(text.to_owned()),
            ..ScrubbingSettings::default()
        };
        let mut event = Json::parse(EVENT.as_bytes()).expect("the sample event parses");
        scrub_event(&mut event, &settings);
        assert!(event.is_object());
    }
});
