//! Sentry's wire formats, as official SDKs, `sentry-cli` and Relay speak them: the DSN, the
//! credentials an ingest request carries, body encodings, envelopes, event ids, timestamps and
//! the `X-Sentry-Rate-Limits` header.
//!
//! This crate is pure: it turns bytes and strings into values and back, and does no I/O. It knows
//! nothing of HTTP servers, storage or what an event *means* (that is `vigil-processing`'s job);
//! it must not grow a dependency on any other Vigil crate. Where Sentry's documentation and Relay
//! disagree, the parsers follow Relay, because SDKs are tested against Relay; the places where
//! Vigil is deliberately more lenient are documented on the function that does it.
//!
//! The reference for every rule here is `docs/sentry-protocol.md` (§1 DSN, §2 auth, §4 envelopes,
//! §10.2 rate limits).

pub mod auth;
pub mod dsn;
pub mod encoding;
pub mod envelope;
pub mod ids;
pub mod multipart;
pub mod rate_limits;
pub mod timestamp;
