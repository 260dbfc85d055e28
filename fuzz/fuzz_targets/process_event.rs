//! The whole event pipeline (normalize, scrub, group, title, tags; transactions and streamed
//! spans too) on arbitrary payloads, as the workers run it on whatever the accept side queued:
//! no input may panic it. Seeded with the SDK fixtures' payloads, the fuzzer mutates real events.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_processing::payload::parse_event_tree;
use vigil_processing::performance::{process_span_item, process_transaction, Thresholds};
use vigil_processing::{process_event, NormalizeContext, Outcome};

fuzz_target!(|data: &[u8]| {
    let ctx = NormalizeContext {
        received: 1_795_576_123.0,
        ..NormalizeContext::default()
    };
    let thresholds = Thresholds::default();
    if let Ok(event) = parse_event_tree(data) {
        if let Ok(Outcome::Kept(processed)) = process_event(event.clone(), &ctx) {
            assert!(!processed.hashes.is_empty(), "an event always gets a hash");
        }
        let _ = process_transaction(event, 1, &ctx, &thresholds);
    }
    let _ = process_span_item(data, None, None, 1, &ctx, &thresholds);
    let _ = process_span_item(
        data,
        Some("application/vnd.sentry.items.span.v2+json"),
        None,
        1,
        &ctx,
        &thresholds,
    );
});
