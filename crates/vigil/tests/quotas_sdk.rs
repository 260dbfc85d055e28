//! The real Python SDK (`tests/python/rate_limited_sdk.py`) backs off exactly the category a
//! project's rate limit names: after the 429 whose `X-Sentry-Rate-Limits` lists
//! `default;error;security`, it sends no more errors (Vigil sees no request for the third one)
//! while its transaction still goes out and is accepted.

mod common;

use common::python::run_python;
use common::Vigil;
use serde_json::json;

#[test]
fn python_sdk_stops_sending_the_limited_category_only() {
    let vigil = Vigil::start();
    let dsn = vigil.create_project("flood", "python");
    vigil
        .api_put(
            "/api/0/projects/default/flood/",
            &json!({"vigilRateLimits": {"error": {"window": 3600, "count": 1}}}),
        )
        .ok("PUT vigilRateLimits");
    let steps = run_python("rate_limited_sdk.py", &[&dsn.raw, &vigil.url("/metrics")]);
    let step = |name: &str| {
        steps
            .iter()
            .find(|s| s["step"] == name)
            .unwrap_or_else(|| panic!("no step {name}: {steps:?}"))
            .clone()
    };
    let accepted = |s: &serde_json::Value| s["counters"]["vigil_envelopes_accepted_total"].clone();
    let rejected = |s: &serde_json::Value| s["counters"]["vigil_requests_rejected_total"].clone();

    let first = step("first");
    assert_eq!(first["errors_held_back"], false, "{first}");
    assert_eq!(accepted(&first), 1, "{first}");
    let second = step("second");
    assert_eq!(
        rejected(&second),
        1,
        "the second error was answered 429: {second}"
    );
    assert_eq!(second["errors_held_back"], true, "{second}");
    assert_eq!(second["transactions_held_back"], false, "{second}");
    let third = step("third");
    assert_eq!(rejected(&third), 1, "the SDK kept the third error: {third}");
    assert_eq!(accepted(&third), 1, "{third}");
    let transaction = step("transaction");
    assert_eq!(
        accepted(&transaction),
        2,
        "the transaction went out: {transaction}"
    );
}
