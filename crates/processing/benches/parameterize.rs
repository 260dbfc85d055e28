//! How long message parameterization takes on the ingest path.
//!
//! `parameterize` runs on every event's message and on every exception value without a stack
//! trace, so its cost multiplies by the event rate. Run with
//! `cargo bench -p vigil-processing --bench parameterize`.

use divan::{black_box, Bencher};
use vigil_processing::parameterize::parameterize;

// The same generated log lines the snapshot tests check the output of.
#[path = "../tests/common/messages.rs"]
mod messages;

use messages::log_message;

fn main() {
    // The regexes are compiled on first use, once per process (a few milliseconds): keep that
    // out of the first samples.
    for message in [
        SHORT.to_owned(),
        NON_ASCII.to_owned(),
        log_message(12 * 1024),
        log_message_non_ascii(12 * 1024),
    ] {
        parameterize(&message);
    }
    divan::main();
}

/// A typical message: a sentence with a few ids, a duration and a timestamp (~100 bytes).
const SHORT: &str =
    "Failed to charge user 4242: card declined (order 8812, retry in 30s) at 2024-01-02T03:04:05Z";

/// A typical message with nothing variable in it.
const PLAIN: &str =
    "Cannot read properties of undefined (reading 'items') while rendering the cart";

/// A short message in another script, with an id.
const NON_ASCII: &str = "Не удалось списать оплату с пользователя 4242: карта отклонена";

/// [`log_message`] with words in Cyrillic, which a Unicode `\b` treats as word characters.
fn log_message_non_ascii(len: usize) -> String {
    log_message(len)
        .replace("ERROR", "ОШИБКА")
        .replace("request", "запрос")
}

/// About `len` bytes of English prose with nothing variable in it.
fn prose(len: usize) -> String {
    let mut out = String::with_capacity(len + 100);
    while out.len() < len {
        out.push_str(PLAIN);
        out.push('\n');
    }
    out
}

#[divan::bench]
fn short_message() -> usize {
    parameterize(black_box(SHORT)).len()
}

#[divan::bench]
fn short_message_without_variables() -> usize {
    parameterize(black_box(PLAIN)).len()
}

#[divan::bench]
fn short_message_non_ascii() -> usize {
    parameterize(black_box(NON_ASCII)).len()
}

#[divan::bench]
fn log_12kb(bencher: Bencher) {
    let message = log_message(12 * 1024);
    bencher.bench(|| parameterize(black_box(&message)).len());
}

#[divan::bench]
fn log_12kb_non_ascii(bencher: Bencher) {
    let message = log_message_non_ascii(12 * 1024);
    bencher.bench(|| parameterize(black_box(&message)).len());
}

#[divan::bench]
fn prose_12kb_without_variables(bencher: Bencher) {
    let message = prose(12 * 1024);
    bencher.bench(|| parameterize(black_box(&message)).len());
}
