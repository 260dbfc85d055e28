//! Nothing acknowledged is lost: `kill -9` in the middle of concurrent ingest, restart on the
//! same data dir, and every event that got a 200 is stored exactly once, with issue counts
//! equal to the stored events.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Vigil;

const CLIENTS: usize = 8;
const GROUPS: usize = 5;
/// Kill once this many events were acknowledged: enough that the queue and the workers are
/// busy when the process dies.
const KILL_AFTER: usize = 1500;

fn envelope(event_id: &str, group: usize) -> String {
    let event = format!(
        r#"{{"event_id":"{event_id}","platform":"python","level":"error","fingerprint":["crash-test-{group}"],"exception":{{"values":[{{"type":"CrashTestError","value":"group {group}"}}]}}}}"#
    );
    format!(
        "{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{event}\n",
        event.len()
    )
}

#[test]
fn acknowledged_events_survive_kill_9_exactly_once() {
    let mut vigil = Vigil::start();
    let dsn = vigil.create_project("shop", "python");
    let url = vigil.url(&format!("/api/{}/envelope/", dsn.project_id));
    let auth = format!(
        "Sentry sentry_key={}, sentry_version=7, sentry_client=crash-test/1.0",
        dsn.public_key
    );

    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let acked_count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (url, auth) = (url.clone(), auth.clone());
            let (acked, acked_count, stop) = (
                Arc::clone(&acked),
                Arc::clone(&acked_count),
                Arc::clone(&stop),
            );
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .expect("HTTP client");
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let event_id = format!("{client:08x}{n:024x}");
                    let answer = http
                        .post(&url)
                        .header("x-sentry-auth", &auth)
                        .body(envelope(&event_id, n % GROUPS))
                        .send();
                    match answer {
                        Ok(response) if response.status() == 200 => {
                            acked.lock().expect("acked set").insert(event_id);
                            acked_count.fetch_add(1, Ordering::Relaxed);
                        }
                        // The server is gone: this client is done.
                        Err(_) => break,
                        Ok(_) => {}
                    }
                }
            })
        })
        .collect();

    common::poll(
        "enough acknowledged events to kill mid-stream",
        Duration::from_secs(120),
        || {
            let n = acked_count.load(Ordering::Relaxed);
            if n >= KILL_AFTER {
                Ok(())
            } else {
                Err(format!("{n} acknowledged so far"))
            }
        },
    );
    vigil.kill9();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().expect("client thread");
    }
    let acked = acked.lock().expect("acked set").clone();
    assert!(acked.len() >= KILL_AFTER);

    vigil.restart();
    vigil.settle();

    // Every acknowledged event is readable by id.
    let mut missing = Vec::new();
    for id in &acked {
        let response = vigil.api_get(&format!("/api/0/projects/default/shop/events/{id}/"), &[]);
        if response.status != 200 {
            missing.push(id.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged events are lost, e.g. {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );

    // Exactly once: each issue's count equals its distinct stored events, and there are GROUPS
    // issues holding at least every acknowledged event.
    let issues = vigil.project_issues("shop", "");
    assert_eq!(issues.len(), GROUPS, "one issue per fingerprint");
    let mut stored = BTreeSet::new();
    for issue in &issues {
        let id = issue["id"].as_str().expect("issue id");
        let count: usize = issue["count"]
            .as_str()
            .expect("count is a string")
            .parse()
            .expect("a number");
        let events = vigil.issue_event_ids(id);
        let distinct: BTreeSet<String> = events.iter().cloned().collect();
        assert_eq!(
            distinct.len(),
            events.len(),
            "an event is stored twice in issue {id}"
        );
        assert_eq!(
            count,
            events.len(),
            "issue {id} counts {count} but holds {} events",
            events.len()
        );
        stored.extend(distinct);
    }
    assert!(
        acked.is_subset(&stored),
        "acknowledged events missing from the issues"
    );
}

/// Over the queue's bound the answer is 429 with Sentry's headers, never an error or a lost
/// event: with no workers draining it, a queue bounded at 5 takes exactly 5 envelopes; a
/// restart with workers then stores exactly those.
#[test]
fn full_queue_answers_429_and_keeps_what_it_acknowledged() {
    let mut vigil = Vigil::start_with(&["--workers", "0", "--max-queue-depth", "5"]);
    let dsn = vigil.create_project("shop", "python");
    let url = vigil.url(&format!("/api/{}/envelope/", dsn.project_id));
    let auth = format!("Sentry sentry_key={}, sentry_version=7", dsn.public_key);
    let mut acked = Vec::new();
    let mut limited = 0;
    for n in 0..20 {
        let event_id = format!("{n:032x}");
        let response = vigil
            .http()
            .post(&url)
            .header("x-sentry-auth", &auth)
            .body(envelope(&event_id, n % GROUPS))
            .send()
            .expect("the server answers");
        match response.status().as_u16() {
            200 => acked.push(event_id),
            429 => {
                limited += 1;
                let headers = response.headers();
                assert!(
                    headers.get("retry-after").is_some(),
                    "429 without Retry-After"
                );
                let limits = headers
                    .get("x-sentry-rate-limits")
                    .expect("429 without X-Sentry-Rate-Limits")
                    .to_str()
                    .expect("ASCII header");
                assert!(limits.contains(":organization"), "{limits}");
            }
            other => panic!("a full queue answered {other}"),
        }
    }
    assert_eq!((acked.len(), limited), (5, 15));
    assert_eq!(
        vigil
            .http()
            .get(vigil.url("/_health"))
            .send()
            .expect("health")
            .status(),
        200
    );

    vigil.kill9();
    vigil.restart();
    vigil.settle();
    for id in &acked {
        vigil.api_poll(
            "an acknowledged event",
            &format!("/api/0/projects/default/shop/events/{id}/"),
            &[],
            |_| true,
        );
    }
    let stored: usize = vigil
        .project_issues("shop", "")
        .iter()
        .map(|issue| {
            issue["count"]
                .as_str()
                .and_then(|c| c.parse::<usize>().ok())
                .expect("count")
        })
        .sum();
    assert_eq!(stored, 5, "exactly the acknowledged events");
}
