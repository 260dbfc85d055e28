//! Transaction mode (`--transactions`): Python-SDK-shaped `transaction` envelopes, each with
//! `--spans` spans, built per send with fresh ids.
//!
//! Modelled on the `django-db-nplus1` capture (sentry-python 2.75 + Django): the envelope
//! header carries the dynamic sampling context, the item is a transaction event whose
//! `contexts.trace` is the root span and whose `spans` are Django signals and middleware,
//! database queries, outgoing HTTP calls, template renders and cache reads, with ISO
//! timestamps, `sdk`, `request` and `tags`. Every send gets a fresh event id, trace id and
//! span ids (the server stores a span once per project, trace and span id, so reused ids would
//! be skipped rather than measured), and a share of sends (`--n-plus-one-percent`) contains an
//! N+1 run: a source query followed by 12 identical `SELECT`s under the same parent, long
//! enough together (12 × ~10 ms) to pass Sentry's default thresholds, so the server's
//! detection work is part of what is measured.
//!
//! Why strings rather than `serde_json` per send: as with the event templates, the generator
//! shares the cores with the server it measures. The constant text (escaped descriptions, the
//! request and sdk blocks) is prepared once per transaction name; a send appends ids,
//! timestamps and durations into one buffer.

use std::fmt::Write as _;

use serde_json::{json, Value};
use vigil_protocol::ids::new_event_id;
use vigil_protocol::timestamp::format_iso;

/// Repeated queries in an N+1 run: over the default threshold of 10.
const N_PLUS_ONE_REPEATS: usize = 12;

/// Routes the transaction names are made from; past ten, a version prefix (`/v2/cart/`).
const ROUTES: [&str; 10] = [
    "/authors/",
    "/api/products/{product_id}/",
    "/api/cart/",
    "/checkout/",
    "/api/orders/{order_id}/",
    "/search/",
    "/account/",
    "/api/reviews/",
    "/books/{slug}/",
    "/",
];

/// Tables of the ordinary (non-repeating) queries.
const TABLES: [&str; 8] = [
    "shop_product",
    "shop_order",
    "shop_cart",
    "shop_review",
    "shop_book",
    "shop_invoice",
    "django_session",
    "shop_stock",
];

/// A Django ORM `SELECT` of a few columns, as the SDK reports it (placeholders, not values).
fn select(table: &str) -> String {
    format!(
        "SELECT \"{table}\".\"id\", \"{table}\".\"name\", \"{table}\".\"created_at\", \
         \"{table}\".\"updated_at\" FROM \"{table}\" WHERE \"{table}\".\"id\" = %s LIMIT 21"
    )
}

/// What a transaction name's sends have in common, serialized once.
#[derive(Debug, Clone)]
struct NameTemplate {
    /// The name as a JSON string, quotes included.
    name_json: String,
    /// `,"request":{…}` with the route's URL.
    request_json: String,
}

/// What to send in transaction mode.
#[derive(Debug, Clone)]
pub struct TransactionPlan {
    /// Spans per transaction (below the root span).
    pub spans: usize,
    /// Percent of sends with an N+1 run (needs at least 13 spans).
    pub n_plus_one_percent: u64,
    names: Vec<NameTemplate>,
    /// `,"sdk":{…},"platform":"python"` and the rest that never changes.
    constant_tail: String,
    /// Escaped descriptions: ordinary selects, then the N+1 source and repeated statements.
    selects: Vec<String>,
    n_plus_one_source: String,
    n_plus_one_repeat: String,
}

/// One send's fresh values.
#[derive(Debug, Clone, Copy)]
pub struct FreshTransaction {
    /// Which of the `--transaction-names`.
    pub name: u64,
    /// Unix seconds: when the transaction ended (the body's `sent_at` is just after).
    pub now: f64,
    /// Seed of this send's ids, durations and whether it has an N+1 run.
    pub seed: u64,
}

impl FreshTransaction {
    /// A send of name `ticket % names`, seeded from a fresh random id.
    pub fn new(ticket: u64, names: u64, now: f64) -> FreshTransaction {
        let random = u128::from_str_radix(&new_event_id(), 16).unwrap_or(u128::from(ticket));
        FreshTransaction {
            name: ticket % names.max(1),
            now,
            seed: (random as u64) ^ ((random >> 64) as u64),
        }
    }
}

/// SplitMix64: a tiny, fast generator; distinct states give distinct outputs, so the span ids
/// of one send never repeat.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[low, high)` milliseconds.
    fn ms(&mut self, low: f64, high: f64) -> f64 {
        low + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (high - low)
    }
}

/// One span before it is written.
struct SpanSpec<'p> {
    op: &'static str,
    /// Already escaped, without quotes.
    description: &'p str,
    origin: &'static str,
    duration_ms: f64,
    /// `db.system` for database spans.
    db: bool,
}

impl TransactionPlan {
    pub fn new(names: u64, spans: usize, n_plus_one_percent: u64) -> TransactionPlan {
        let names = (0..names.max(1))
            .map(|i| {
                let route = ROUTES[(i % ROUTES.len() as u64) as usize];
                let version = i / ROUTES.len() as u64;
                let name = if version == 0 {
                    route.to_owned()
                } else {
                    format!("/v{version}{route}")
                };
                let path = name
                    .replace("{product_id}", "1742")
                    .replace("{order_id}", "88121")
                    .replace("{slug}", "the-trial");
                let request = json!({
                    "url": format!("https://shop.example.com{path}"),
                    "method": "GET",
                    "env": {"SERVER_NAME": "web-1", "SERVER_PORT": "443"},
                    "headers": {
                        "Host": "shop.example.com",
                        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
                        "Accept-Encoding": "gzip",
                        "Cookie": "[Filtered]"
                    },
                    "query_string": "",
                });
                NameTemplate {
                    name_json: Value::from(name).to_string(),
                    request_json: format!(",\"request\":{request}"),
                }
            })
            .collect();
        let tail = json!({
            "user": {"ip_address": "203.0.113.7"},
            "release": "shop@1.4.2",
            "environment": "production",
            "server_name": "web-1",
            "sdk": {
                "name": "sentry.python.django",
                "version": "2.75.0",
                "packages": [{"name": "pypi:sentry-sdk", "version": "2.75.0"}],
                "integrations": ["argv", "atexit", "celery", "dedupe", "django", "excepthook",
                                 "logging", "modules", "stdlib", "threading"]
            },
            "platform": "python",
        });
        let tail = tail.to_string();
        // `{…}` → `,…` so it continues the payload object (and closes it).
        let constant_tail = format!(",{}", &tail[1..]);
        let escape = |text: String| {
            let quoted = Value::from(text).to_string();
            quoted[1..quoted.len() - 1].to_owned()
        };
        TransactionPlan {
            spans,
            n_plus_one_percent,
            names,
            constant_tail,
            selects: TABLES.iter().map(|t| escape(select(t))).collect(),
            n_plus_one_source: escape(
                "SELECT \"shop_author\".\"id\", \"shop_author\".\"name\", \
                 \"shop_author\".\"user_id\" FROM \"shop_author\""
                    .to_owned(),
            ),
            n_plus_one_repeat: escape(select("auth_user")),
        }
    }

    pub fn names(&self) -> u64 {
        self.names.len() as u64
    }

    /// Whether a send with this seed carries an N+1 run.
    fn has_n_plus_one(&self, seed: u64) -> bool {
        self.spans > N_PLUS_ONE_REPEATS && seed % 100 < self.n_plus_one_percent
    }

    /// The spans of one send, in order of start.
    fn span_specs(&self, rng: &mut SplitMix, n_plus_one: bool) -> Vec<SpanSpec<'_>> {
        let mut specs = Vec::with_capacity(self.spans);
        let total = self.spans;
        let signal = SpanSpec {
            op: "event.django",
            description: "django.db.reset_queries",
            origin: "auto.http.django",
            duration_ms: rng.ms(0.02, 0.08),
            db: false,
        };
        specs.push(signal);
        let middleware = SpanSpec {
            op: "middleware.django",
            description: "django.contrib.sessions.middleware.SessionMiddleware.__call__",
            origin: "auto.http.django",
            duration_ms: rng.ms(0.1, 0.4),
            db: false,
        };
        if specs.len() < total {
            specs.push(middleware);
        }
        if n_plus_one {
            specs.push(SpanSpec {
                op: "db",
                description: &self.n_plus_one_source,
                origin: "auto.db.django",
                duration_ms: rng.ms(1.0, 3.0),
                db: true,
            });
            for _ in 0..N_PLUS_ONE_REPEATS {
                specs.push(SpanSpec {
                    op: "db",
                    description: &self.n_plus_one_repeat,
                    origin: "auto.db.django",
                    duration_ms: rng.ms(8.5, 11.5),
                    db: true,
                });
            }
        }
        // The rest rotates so that no two database spans follow each other: an ordinary
        // transaction never looks like an N+1 run, and an N+1 run ends at an HTTP call.
        let mut n = usize::from(n_plus_one);
        while specs.len() < total {
            let spec = match n % 5 {
                0 | 2 => SpanSpec {
                    op: "db",
                    description: &self.selects[(n / 5 * 2 + n % 5 / 2) % self.selects.len()],
                    origin: "auto.db.django",
                    duration_ms: rng.ms(0.3, 3.0),
                    db: true,
                },
                1 => SpanSpec {
                    op: "http.client",
                    description: "GET https://stock.example.com/v1/items",
                    origin: "auto.http.stdlib.httplib",
                    duration_ms: rng.ms(4.0, 30.0),
                    db: false,
                },
                3 => SpanSpec {
                    op: "template.render",
                    description: "shop/product_detail.html",
                    origin: "auto.http.django",
                    duration_ms: rng.ms(1.0, 8.0),
                    db: false,
                },
                _ => SpanSpec {
                    op: "cache.get",
                    description: "views.decorators.cache.cache_page",
                    origin: "auto.cache.django",
                    duration_ms: rng.ms(0.1, 0.6),
                    db: false,
                },
            };
            specs.push(spec);
            n += 1;
        }
        specs.truncate(total);
        specs
    }

    /// The envelope of one send, uncompressed.
    pub fn render(&self, fresh: &FreshTransaction, public_key: &str) -> Vec<u8> {
        let mut rng = SplitMix(fresh.seed);
        let template = &self.names[(fresh.name % self.names.len() as u64) as usize];
        let event_id = format!("{:016x}{:016x}", rng.next(), rng.next());
        let trace_id = format!("{:016x}{:016x}", rng.next(), rng.next());
        let root_span_id = format!("{:016x}", rng.next());
        let n_plus_one = self.has_n_plus_one(fresh.seed);
        let specs = self.span_specs(&mut rng, n_plus_one);

        // Spans run one after the other with small gaps; the root ends just after the last.
        let gaps: f64 = specs.len() as f64 * 0.05;
        let busy: f64 = specs.iter().map(|s| s.duration_ms).sum::<f64>() + gaps;
        let overhead_ms = rng.ms(0.5, 3.0);
        let end = fresh.now;
        let start = end - (busy + overhead_ms * 2.0) / 1000.0;

        let mut payload = String::with_capacity(1500 + specs.len() * 520);
        let _ = write!(
            payload,
            "{{\"type\":\"transaction\",\"transaction\":{},\"transaction_info\":{{\"source\":\"route\"}},\
             \"contexts\":{{\"response\":{{\"status_code\":200}},\"trace\":{{\"trace_id\":\"{trace_id}\",\
             \"span_id\":\"{root_span_id}\",\"parent_span_id\":null,\"op\":\"http.server\",\
             \"description\":null,\"origin\":\"auto.http.django\",\"status\":\"ok\",\
             \"data\":{{\"thread.id\":\"140414685234880\",\"thread.name\":\"Thread-1 (serve_forever)\",\
             \"http.response.status_code\":200}}}},\"runtime\":{{\"name\":\"CPython\",\
             \"version\":\"3.11.7\"}}}},\"tags\":{{\"http.status_code\":\"200\"}},\
             \"timestamp\":\"{}\",\"start_timestamp\":\"{}\",\"measurements\":{{}},\
             \"event_id\":\"{event_id}\"",
            template.name_json,
            format_iso(end),
            format_iso(start),
        );
        payload.push_str(&template.request_json);
        payload.push_str(",\"spans\":[");
        let mut at = start + overhead_ms / 1000.0;
        for (i, spec) in specs.iter().enumerate() {
            let span_start = at;
            let span_end = span_start + spec.duration_ms / 1000.0;
            at = span_end + 0.000_05;
            if i > 0 {
                payload.push(',');
            }
            let _ = write!(
                payload,
                "{{\"trace_id\":\"{trace_id}\",\"span_id\":\"{:016x}\",\
                 \"parent_span_id\":\"{root_span_id}\",\"same_process_as_parent\":true,\
                 \"op\":\"{}\",\"description\":\"{}\",\"start_timestamp\":\"{}\",\
                 \"timestamp\":\"{}\",\"origin\":\"{}\",\"data\":{{\"thread.id\":\"140414685234880\",\
                 \"thread.name\":\"Thread-1 (serve_forever)\"{}}}}}",
                rng.next(),
                spec.op,
                spec.description,
                format_iso(span_start),
                format_iso(span_end),
                spec.origin,
                if spec.db {
                    ",\"db.system\":\"postgresql\",\"db.name\":\"shop\""
                } else {
                    ""
                },
            );
        }
        payload.push(']');
        payload.push_str(&self.constant_tail);

        let mut body = String::with_capacity(payload.len() + 600);
        let _ = writeln!(
            body,
            "{{\"event_id\":\"{event_id}\",\"sent_at\":\"{}\",\"trace\":{{\"trace_id\":\"{trace_id}\",\
             \"sample_rand\":\"0.510813\",\"environment\":\"production\",\"release\":\"shop@1.4.2\",\
             \"public_key\":\"{public_key}\",\"transaction\":{},\"sample_rate\":\"1.0\",\
             \"sampled\":\"true\"}}}}",
            format_iso(end + 0.002),
            template.name_json,
        );
        let _ = writeln!(
            body,
            "{{\"type\":\"transaction\",\"content_type\":\"application/json\",\"length\":{}}}",
            payload.len()
        );
        body.push_str(&payload);
        body.push('\n');
        body.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use bytes::Bytes;
    use vigil_protocol::envelope::{parse_envelope, ItemType};

    use super::*;

    fn transaction(plan: &TransactionPlan, fresh: &FreshTransaction) -> (Value, Value) {
        let body = plan.render(fresh, "0123456789abcdef0123456789abcdef");
        let envelope = parse_envelope(Bytes::from(body)).expect("a valid envelope");
        assert_eq!(envelope.items.len(), 1);
        let item = &envelope.items[0];
        assert_eq!(item.ty(), ItemType::Transaction);
        let payload: Value = serde_json::from_slice(&item.payload).expect("JSON payload");
        (Value::Object(envelope.headers.clone()), payload)
    }

    fn seed_with(n_plus_one: bool, plan: &TransactionPlan) -> u64 {
        (0..1000u64)
            .find(|seed| plan.has_n_plus_one(*seed) == n_plus_one)
            .unwrap()
    }

    /// One send of name `name` at `now` with the plan of 50 names and 30 spans, with or without
    /// an N+1: its envelope headers and its event.
    fn send_of_name(name: u64, now: f64, n_plus_one: bool) -> (Value, Value) {
        let plan = TransactionPlan::new(50, 30, 20);
        let fresh = FreshTransaction {
            name,
            now,
            seed: seed_with(n_plus_one, &plan),
        };
        transaction(&plan, &fresh)
    }

    #[test]
    fn a_send_is_a_python_transaction_with_the_asked_spans() {
        let (headers, event) = send_of_name(3, 1_800_000_000.25, false);
        assert_eq!(event["type"], "transaction");
        assert_eq!(event["transaction"], "/checkout/");
        assert_eq!(event["platform"], "python");
        assert_eq!(event["sdk"]["name"], "sentry.python.django");
        assert_eq!(event["request"]["method"], "GET");
        assert_eq!(headers["event_id"], event["event_id"]);
        let trace = &event["contexts"]["trace"];
        assert_eq!(trace["op"], "http.server");
        assert_eq!(headers["trace"]["trace_id"], trace["trace_id"]);

        let spans = event["spans"].as_array().unwrap();
        assert_eq!(spans.len(), 30);
        let root = trace["span_id"].as_str().unwrap();
        let start = event["start_timestamp"].as_str().unwrap();
        let end = event["timestamp"].as_str().unwrap();
        for span in spans {
            assert_eq!(span["trace_id"], trace["trace_id"]);
            assert_eq!(span["parent_span_id"], root);
            let (s, e) = (
                span["start_timestamp"].as_str().unwrap(),
                span["timestamp"].as_str().unwrap(),
            );
            // ISO strings of one format compare as times do.
            assert!(start <= s && s <= e && e <= end, "{s} {e} in {start} {end}");
        }
        let ops: HashSet<&str> = spans.iter().map(|s| s["op"].as_str().unwrap()).collect();
        for op in ["db", "http.client", "template.render", "cache.get"] {
            assert!(ops.contains(op), "{ops:?}");
        }
        // No two database spans in a row: no accidental N+1.
        let mut run = 0;
        for span in spans {
            run = if span["op"] == "db" { run + 1 } else { 0 };
            assert!(run <= 1);
        }
    }

    #[test]
    fn ids_are_fresh_on_every_send() {
        let plan = TransactionPlan::new(5, 30, 20);
        let mut events = HashSet::new();
        let mut traces = HashSet::new();
        let mut spans = HashSet::new();
        for ticket in 0..200 {
            let fresh = FreshTransaction::new(ticket, plan.names(), 1_800_000_000.0);
            let (_, event) = transaction(&plan, &fresh);
            assert!(events.insert(event["event_id"].as_str().unwrap().to_owned()));
            assert!(traces.insert(event["contexts"]["trace"]["trace_id"].to_string()));
            for span in event["spans"].as_array().unwrap() {
                assert!(spans.insert(span["span_id"].as_str().unwrap().to_owned()));
            }
            assert_eq!(event["event_id"].as_str().unwrap().len(), 32);
        }
        assert_eq!(spans.len(), 200 * 30);
    }

    #[test]
    fn an_n_plus_one_send_repeats_one_select_twelve_times_after_its_source() {
        let (_, event) = send_of_name(0, 1_800_000_000.0, true);
        let spans = event["spans"].as_array().unwrap();
        assert_eq!(spans.len(), 30);
        let source = spans
            .iter()
            .position(|s| s["description"].as_str().unwrap().contains("shop_author"))
            .unwrap();
        let repeated = &spans[source + 1..source + 1 + N_PLUS_ONE_REPEATS];
        let statement = &repeated[0]["description"];
        assert!(statement.as_str().unwrap().contains("\"auth_user\""));
        assert!(repeated
            .iter()
            .all(|s| s["description"] == *statement && s["op"] == "db"));
        assert_ne!(spans[source + 1 + N_PLUS_ONE_REPEATS]["op"], "db");
    }

    #[test]
    fn about_the_asked_share_of_sends_has_an_n_plus_one_run() {
        let plan = TransactionPlan::new(50, 30, 20);
        let with = (0..10_000)
            .filter(|ticket| plan.has_n_plus_one(FreshTransaction::new(*ticket, 50, 0.0).seed))
            .count();
        assert!((1_700..2_300).contains(&with), "{with}");
        // Too few spans for a run: none.
        let short = TransactionPlan::new(50, 10, 100);
        assert!(!short.has_n_plus_one(0));
    }

    #[test]
    fn names_rotate_over_the_asked_count() {
        let plan = TransactionPlan::new(12, 3, 0);
        let names: HashSet<String> = (0..24)
            .map(|ticket| {
                let fresh = FreshTransaction::new(ticket, plan.names(), 1_800_000_000.0);
                transaction(&plan, &fresh).1["transaction"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(names.len(), 12);
        assert!(names.contains("/v1/authors/"), "{names:?}");
        assert_eq!(
            transaction(&plan, &FreshTransaction::new(0, 12, 0.0)).1["spans"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
    }
}
