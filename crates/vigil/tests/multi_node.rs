//! Several nodes on one PostgreSQL: two `vigil serve` processes share a fresh database while
//! concurrent clients send them one set of events. Every group's first events reach both nodes
//! at the same moment, some event ids go to both nodes, and one node is killed with `kill -9`
//! midway (its clients carry on against the other node, as an SDK behind a load balancer
//! would). After the killed node is restarted and the queue has drained, every acknowledged
//! event is stored exactly once, each group is exactly one issue, and each issue's event and
//! user counts equal what it holds.
//!
//! Needs `VIGIL_TEST_DATABASE_URL` (`scripts/test.sh` starts a throwaway cluster).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use common::{poll, Vigil};
use vigil_store::postgres::{TestDatabase, STATS_REFRESH};

/// Client threads; even ones send to the first node, odd ones to the second.
const CLIENTS: usize = 8;
/// New groups whose first events every client sends at the same moment.
const GROUPS: usize = 20;
/// Events each client sends after the first round.
const EVENTS_PER_CLIENT: usize = 400;
/// Every this many events, a client sends the same event to the other node too.
const DUPLICATE_EVERY: usize = 5;
/// Distinct users, spread over the groups so that each group has several.
const USERS: usize = 13;
/// Kill the second node once this many events were acknowledged: enough that both nodes' queues
/// and workers are busy when it dies.
const KILL_AFTER: usize = 1200;
/// How long the queue may take to drain once everything was sent. A batch the killed node had
/// claimed waits for its lease to run out first.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(45);

/// One event the clients send: its group and its user decide where it is counted.
#[derive(Clone, Copy)]
struct Planned {
    group: usize,
    user: usize,
}

fn envelope(event_id: &str, event: Planned) -> String {
    let Planned { group, user } = event;
    let event = format!(
        r#"{{"event_id":"{event_id}","platform":"python","level":"error","environment":"production","fingerprint":["multi-node-{group}"],"user":{{"id":"u{user}"}},"exception":{{"values":[{{"type":"MultiNodeError","value":"group {group}"}}]}}}}"#
    );
    format!(
        "{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{event}\n",
        event.len()
    )
}

/// What the clients saw.
#[derive(Default)]
struct Outcomes {
    /// Every event id sent, with its group and user.
    sent: BTreeMap<String, Planned>,
    /// The ids some node answered 200 for.
    acked: BTreeSet<String>,
    /// Answers that were neither 200 nor 429, with the node's port.
    unexpected: Vec<String>,
}

/// Where a client sends: the envelope URLs of both nodes, and whether the second is down.
struct Targets {
    urls: [String; 2],
    auth: String,
    second_down: AtomicBool,
    acked: AtomicUsize,
    outcomes: Mutex<Outcomes>,
}

impl Targets {
    /// Sends one event to `node`; when that node does not answer, to the other one (the client
    /// cannot know whether the dead node had stored it), and records the answer.
    fn send(&self, http: &reqwest::blocking::Client, node: usize, id: &str, event: Planned) {
        self.outcomes
            .lock()
            .expect("outcomes")
            .sent
            .insert(id.to_string(), event);
        let mut node = node;
        if node == 1 && self.second_down.load(Ordering::Relaxed) {
            node = 0;
        }
        loop {
            let answer = http
                .post(&self.urls[node])
                .header("x-sentry-auth", &self.auth)
                .body(envelope(id, event))
                .send();
            match answer {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let mut outcomes = self.outcomes.lock().expect("outcomes");
                    match status {
                        200 => {
                            outcomes.acked.insert(id.to_string());
                            self.acked.fetch_add(1, Ordering::Relaxed);
                        }
                        // Overload is an answer an SDK accepts: the event is dropped.
                        429 => {}
                        other => outcomes.unexpected.push(format!(
                            "{other} from node {node} for {id}: {}",
                            response.text().unwrap_or_default()
                        )),
                    }
                    return;
                }
                Err(err) if node == 1 => {
                    assert!(
                        self.second_down.load(Ordering::Relaxed),
                        "the second node failed before it was killed: {err}"
                    );
                    node = 0;
                }
                Err(err) => panic!("the first node, never killed, did not answer: {err}"),
            }
        }
    }
}

/// The queue depth a node reports at `/metrics`.
fn queue_depth(vigil: &Vigil) -> Result<u64, String> {
    let text = vigil
        .http()
        .get(vigil.url("/metrics"))
        .send()
        .and_then(|r| r.text())
        .map_err(|e| format!("GET /metrics: {e}"))?;
    text.lines()
        .find_map(|line| line.strip_prefix("vigil_queue_depth "))
        .ok_or_else(|| format!("no vigil_queue_depth in /metrics: {text}"))?
        .trim()
        .parse()
        .map_err(|e| format!("vigil_queue_depth: {e}"))
}

#[test]
fn two_nodes_one_database_kill_9_one_events_stored_once_counts_exact() {
    let database = TestDatabase::create_blocking().unwrap_or_else(|err| panic!("{err}"));
    let first = Vigil::start_on_database(database.url());
    let dsn = first.create_project("shop", "python");
    let mut second = Vigil::start_another_node(&first);
    let path = format!("/api/{}/envelope/", dsn.project_id);
    let targets = Arc::new(Targets {
        urls: [first.url(&path), second.url(&path)],
        auth: format!(
            "Sentry sentry_key={}, sentry_version=7, sentry_client=multi-node-test/1.0",
            dsn.public_key
        ),
        second_down: AtomicBool::new(false),
        acked: AtomicUsize::new(0),
        outcomes: Mutex::default(),
    });

    let round = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (targets, round) = (Arc::clone(&targets), Arc::clone(&round));
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(20))
                    .build()
                    .expect("HTTP client");
                let home = client % 2;
                // New groups: every client sends the group's first event at once, half of them
                // to each node.
                for group in 0..GROUPS {
                    round.wait();
                    let id = format!("f{client:07x}{group:024x}");
                    let event = Planned {
                        group,
                        user: (client + group) % USERS,
                    };
                    targets.send(&http, home, &id, event);
                }
                for n in 0..EVENTS_PER_CLIENT {
                    let id = format!("{client:08x}{n:024x}");
                    let event = Planned {
                        group: (n * 7 + client) % GROUPS,
                        user: (n + client) % USERS,
                    };
                    targets.send(&http, home, &id, event);
                    if n % DUPLICATE_EVERY == 0 {
                        targets.send(&http, 1 - home, &id, event);
                    }
                }
            })
        })
        .collect();

    poll(
        "enough acknowledged events to kill a node mid-stream",
        Duration::from_secs(60),
        || match targets.acked.load(Ordering::Relaxed) {
            n if n >= KILL_AFTER => Ok(()),
            n => Err(format!("{n} acknowledged so far")),
        },
    );
    targets.second_down.store(true, Ordering::Relaxed);
    second.kill9();
    for client in clients {
        client.join().expect("a client thread panicked");
    }
    second.restart();

    let outcomes = std::mem::take(&mut *targets.outcomes.lock().expect("outcomes"));
    assert!(
        outcomes.unexpected.is_empty(),
        "answers other than 200 and 429: {:#?}",
        &outcomes.unexpected[..outcomes.unexpected.len().min(10)]
    );
    assert!(
        outcomes.acked.len() > KILL_AFTER,
        "only {} events acknowledged",
        outcomes.acked.len()
    );

    // Drained: each node's depth is counted in the database at most STATS_REFRESH ago; wait that
    // long first, so that a count from before the last enqueue cannot pass for empty.
    std::thread::sleep(STATS_REFRESH + Duration::from_millis(100));
    for node in [&first, &second] {
        poll(
            "the shared ingest queue to drain",
            DRAIN_TIMEOUT,
            || match queue_depth(node)? {
                0 => Ok(()),
                depth => Err(format!("vigil_queue_depth is {depth}")),
            },
        );
    }

    // One issue per group: titles name the group, short ids are 1..=GROUPS with no gaps.
    let issues = second.project_issues("shop", "");
    let mut groups_seen = BTreeMap::new();
    for issue in &issues {
        let title = issue["title"].as_str().expect("issue title");
        let group: usize = title
            .strip_prefix("MultiNodeError: group ")
            .and_then(|g| g.parse().ok())
            .unwrap_or_else(|| panic!("an issue that is no group: {issue}"));
        if let Some(other) = groups_seen.insert(group, issue) {
            panic!("group {group} is two issues:\n{other}\n{issue}");
        }
    }
    assert_eq!(groups_seen.len(), GROUPS, "one issue per group");
    // Short ids are `SHOP-<Crockford base 32>`.
    let short_ids: BTreeSet<i64> = issues
        .iter()
        .map(|issue| {
            issue["shortId"]
                .as_str()
                .and_then(|id| id.strip_prefix("SHOP-"))
                .and_then(crockford_base32)
                .unwrap_or_else(|| panic!("shortId is not SHOP-<base 32>: {issue}"))
        })
        .collect();
    let expected: BTreeSet<i64> = (1..=GROUPS as i64).collect();
    assert_eq!(short_ids, expected, "short ids are unique, with no gaps");

    // Each acknowledged event stored once, in its group's issue; counts equal what is stored.
    let mut stored = BTreeSet::new();
    for (group, issue) in &groups_seen {
        let issue_id = issue["id"].as_str().expect("issue id");
        let events = first.issue_event_ids(issue_id);
        let distinct: BTreeSet<&String> = events.iter().collect();
        assert_eq!(
            distinct.len(),
            events.len(),
            "an event is listed twice in group {group}"
        );
        let mut users = BTreeSet::new();
        for id in &events {
            let planned = outcomes
                .sent
                .get(id)
                .unwrap_or_else(|| panic!("group {group} holds {id}, which nobody sent"));
            assert_eq!(
                planned.group, *group,
                "event {id} is in another group's issue"
            );
            users.insert(planned.user);
            assert!(stored.insert(id.clone()), "event {id} is in two issues");
        }
        let count: usize = issue["count"]
            .as_str()
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("count is not a number string: {issue}"));
        assert_eq!(
            count,
            events.len(),
            "group {group} counts {count} events but holds {}",
            events.len()
        );
        assert_eq!(
            issue["userCount"].as_u64(),
            Some(users.len() as u64),
            "group {group}'s user count, holding {} distinct users: {issue}",
            users.len()
        );
    }
    let lost: Vec<&String> = outcomes.acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged events are not stored, e.g. {:?}",
        lost.len(),
        outcomes.acked.len(),
        &lost[..lost.len().min(5)]
    );
    // Each one readable by id on either node.
    for id in outcomes.acked.iter().step_by(97) {
        for node in [&first, &second] {
            node.api_get(&format!("/api/0/projects/default/shop/events/{id}/"), &[])
                .ok("GET an acknowledged event by id");
        }
    }
}

/// The number a short id's suffix counts, in Sentry's alphabet (`0-9A-Z` without `ILOU`).
fn crockford_base32(digits: &str) -> Option<i64> {
    const DIGITS: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    digits.chars().try_fold(0i64, |n, c| {
        let digit = DIGITS.find(c)?;
        Some(n * 32 + digit as i64)
    })
}
