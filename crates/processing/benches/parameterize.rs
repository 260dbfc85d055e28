//! How long message parameterization takes on the ingest path.
//!
//! `parameterize` runs on every event's message and on every exception value without a stack
//! trace, so its cost multiplies by the event rate. Run with
//! `cargo bench -p vigil-processing --bench parameterize`.

use std::fmt::Write as _;

use divan::{black_box, Bencher};
use vigil_processing::parameterize::parameterize;

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

/// A log-like message of about `len` bytes whose lines carry ids, addresses, times and sizes.
fn log_message(len: usize) -> String {
    let mut out = String::with_capacity(len + 200);
    let mut i: u64 = 0;
    while out.len() < len {
        i += 1;
        let n = i * 7919 % 100_000;
        writeln!(
            out,
            "2024-01-02T03:{:02}:{:02}.{:03}Z ERROR [worker-{}] request {:08x}-1eb3-4e9f-9174-f281b9dc{:04} \
             from 10.0.{}.{} user=bob{}@example.com took {}ms status={} path=/api/orders/{}?expand=items \
             retry='attempt {}' ok=false",
            i % 60,
            n % 60,
            n % 1000,
            i % 8,
            n * 4099,
            n % 10_000,
            i % 256,
            n % 256,
            n % 100,
            n % 5000,
            500 + n % 4,
            n,
            i % 5,
        )
        .unwrap();
    }
    out
}

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
