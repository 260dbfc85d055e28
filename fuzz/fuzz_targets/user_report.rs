//! What users write about an error, as SDKs send it: `user_report` and `feedback` item payloads
//! on arbitrary bytes never panic, and a report read from one names a well-formed event id and
//! stays within Sentry's field lengths.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_processing::user_report::{parse_feedback, parse_user_report, ParsedReport};

fn check(report: &ParsedReport) {
    assert_eq!(report.event_id.len(), 32);
    assert!(report
        .event_id
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert!(report.name.chars().count() <= 128);
    assert!(report.email.chars().count() <= 128);
    assert!(report.comments.chars().count() <= 4096);
}

fuzz_target!(|payload: &[u8]| {
    for envelope_id in [None, Some("b734577d50fd48ea9070b488e32bdbf7")] {
        if let Ok(report) = parse_user_report(payload, envelope_id) {
            check(&report);
        }
        if let Ok(report) = parse_feedback(payload, envelope_id) {
            check(&report);
        }
    }
});
