//! Sentry's issue-search syntax on arbitrary text (it arrives in `?query=` from the web UI, the
//! API and the MCP server): parsing never panics, and is deterministic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_model::search::{parse_issue_search, parse_search};

fuzz_target!(|text: &str| {
    let first = parse_search(text);
    assert_eq!(first, parse_search(text));
    // The issue list's stricter reading refuses more, never accepts what the shared one refuses.
    let issues = parse_issue_search(text);
    assert!(first.is_ok() || issues.is_err());
    if let Ok(issues) = issues {
        assert_eq!(Ok(issues), first);
    }
});
