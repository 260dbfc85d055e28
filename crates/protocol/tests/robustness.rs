//! Property-style robustness: `parse_envelope` over truncated and mutated versions of every
//! captured envelope never panics, and whatever it accepts is internally consistent.
//!
//! Deterministic (a fixed-seed xorshift generator) so a failure reproduces; the failing input is
//! printed. `fuzz/` at the repository root holds the cargo-fuzz targets for open-ended searching.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::Bytes;
use vigil_protocol::envelope::{parse_envelope, EnvelopeError};

use common::envelope_fixtures;

/// Parses `body`, failing the test with a reproducible description if the parser panics, and
/// checks the invariants of an accepted envelope.
fn check(label: &str, body: &[u8]) -> Result<(), EnvelopeError> {
    let data = Bytes::copy_from_slice(body);
    let outcome = catch_unwind(AssertUnwindSafe(|| parse_envelope(data.clone())));
    let result = outcome.unwrap_or_else(|_| {
        panic!(
            "parse_envelope panicked on {label}: {:?}",
            String::from_utf8_lossy(body)
        )
    });
    let envelope = result?;

    let range = data.as_ptr_range();
    for item in &envelope.items {
        let payload = item.payload.as_ptr_range();
        assert!(
            item.payload.is_empty() || (range.start <= payload.start && payload.end <= range.end),
            "{label}: payload outside the body"
        );
        assert!(
            item.headers.get("type").is_some_and(|t| t.is_string()),
            "{label}: untyped item"
        );
    }
    // Whatever parsed must survive a write and a re-read unchanged.
    let again = parse_envelope(Bytes::from(envelope.to_vec()))
        .unwrap_or_else(|e| panic!("{label}: reserialized envelope does not parse: {e}"));
    assert_eq!(again.items.len(), envelope.items.len(), "{label}");
    for (a, b) in again.items.iter().zip(&envelope.items) {
        assert_eq!(a.payload, b.payload, "{label}");
    }
    Ok(())
}

/// A small deterministic generator (xorshift64*), enough to spread mutations around.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Bytes that sit on the parser's decision points.
const INTERESTING: &[u8] = b"\n\r \t{}[]\":,0123456789-.e\\\0\xff";

fn mutate(rng: &mut Rng, body: &mut Vec<u8>) {
    let at = rng.below(body.len() + 1);
    match rng.below(7) {
        // Replace a byte with a structural one.
        0 if at < body.len() => body[at] = INTERESTING[rng.below(INTERESTING.len())],
        // Flip bits.
        1 if at < body.len() => body[at] ^= 1 << rng.below(8),
        // Insert a structural byte.
        2 => body.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
        // Delete a run.
        3 => {
            let end = (at + 1 + rng.below(16)).min(body.len());
            body.drain(at.min(end)..end);
        }
        // Duplicate a run (e.g. a header line, giving duplicate keys or extra items).
        4 => {
            let end = (at + 1 + rng.below(64)).min(body.len());
            let run: Vec<u8> = body[at.min(end)..end].to_vec();
            body.splice(at.min(end)..at.min(end), run);
        }
        // Change a declared length.
        5 => {
            if let Some(pos) = find(body, b"\"length\":") {
                let digit = pos + b"\"length\":".len();
                let tweak = ["0", "1", "99999999999", "-1", "1.0", "null", "\"2\""];
                let end = body[digit..]
                    .iter()
                    .position(|b| !b.is_ascii_digit())
                    .map_or(body.len(), |n| digit + n);
                body.splice(digit..end, tweak[rng.below(tweak.len())].bytes());
            }
        }
        // Truncate.
        _ => body.truncate(at),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn truncated_fixtures_never_panic() {
    let fixtures = envelope_fixtures();
    assert!(!fixtures.is_empty());
    let mut accepted = 0usize;
    let mut refused = 0usize;
    for fixture in &fixtures {
        let body = &fixture.body[..];
        // Every cut near a newline (where the parser decides most), plus an even spread.
        let mut cuts: Vec<usize> = body
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .flat_map(|(i, _)| i.saturating_sub(2)..(i + 3).min(body.len() + 1))
            .collect();
        let step = (body.len() / 256).max(1);
        cuts.extend((0..=body.len()).step_by(step));
        for cut in cuts {
            match check(&format!("{} cut at {cut}", fixture.name), &body[..cut]) {
                Ok(()) => accepted += 1,
                Err(_) => refused += 1,
            }
        }
    }
    // Both outcomes must occur, or the test is not exercising the parser.
    assert!(
        accepted > 100 && refused > 100,
        "accepted {accepted}, refused {refused}"
    );
}

#[test]
fn mutated_fixtures_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut outcomes = [0usize; 2];
    for fixture in envelope_fixtures() {
        for round in 0..300 {
            let mut body = fixture.body.to_vec();
            for _ in 0..=rng.below(4) {
                mutate(&mut rng, &mut body);
            }
            let label = format!("{} mutation {round}", fixture.name);
            outcomes[usize::from(check(&label, &body).is_ok())] += 1;
        }
    }
    assert!(
        outcomes[0] > 100 && outcomes[1] > 100,
        "refused/accepted: {outcomes:?}"
    );
}

#[test]
fn hostile_shapes_never_panic() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_header = format!("{{}}\n{{\"type\":{}}}\n", "[".repeat(10_000));
    let cases: Vec<Vec<u8>> = vec![
        b"\n".repeat(10_000),
        deep.into_bytes(),
        deep_header.into_bytes(),
        b"{}\n{\"type\":\"event\",\"length\":4294967296}\n".to_vec(),
        b"{}\n{\"type\":\"event\",\"length\":18446744073709551616}\n".to_vec(),
        b"{}\n{\"type\":\"event\",\"length\":1e3}\n".to_vec(),
        b"{}\n{\"type\":\"\xff\"}\n".to_vec(),
        b"{\"\xc3\":1}".to_vec(),
        b"{}\n".repeat(1000),
        b"{}\n{\"type\":\"a\"}\n".repeat(2000),
        [
            b"{}\n".as_slice(),
            &b"{\"type\":\"attachment\",\"length\":0}\n\n".repeat(5000),
        ]
        .concat(),
    ];
    for (i, body) in cases.iter().enumerate() {
        let _ = check(&format!("hostile case {i}"), body);
    }
}
