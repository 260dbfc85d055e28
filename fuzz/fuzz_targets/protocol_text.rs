//! The string parsers (DSN, auth header and query, timestamps, rate limits, UUIDs) on arbitrary
//! text: none may panic, and formatting what they accept must parse back.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_protocol::{auth, dsn::Dsn, ids, rate_limits, timestamp};

fuzz_target!(|text: &str| {
    if let Ok(dsn) = text.parse::<Dsn>() {
        let _ = dsn.to_string().parse::<Dsn>();
        let _ = dsn.api_url("envelope");
    }
    let _ = auth::parse_auth_header(text);
    let _ = auth::parse_auth_query(text);
    let _ = auth::is_valid_public_key(text);
    if let Some(id) = ids::normalize_uuid(text) {
        assert_eq!(ids::normalize_uuid(&id).as_ref(), Some(&id));
    }
    if let Some(ts) = timestamp::parse_rfc3339(text) {
        let _ = timestamp::format_iso(ts);
    }
    let limits = rate_limits::parse_rate_limits(text);
    let formatted = rate_limits::format_rate_limits(&limits);
    assert_eq!(
        rate_limits::parse_rate_limits(&formatted).len(),
        limits.len()
    );
});
