//! `save_events`: writing a batch of processed events and upserting their issues, race-free
//! across nodes, in a handful of round trips.
//!
//! The rules are SQLite's (`sqlite/ingest.rs`): the whole batch is one transaction; an event id
//! seen before in the project (or earlier in the batch) is a duplicate and counts nothing; an
//! event joins the issue of the first of its grouping hashes known in its project, and the hashes
//! it brings that are not known yet are mapped to that issue as well (Sentry's `GroupHash`).
//!
//! ## One batch, five round trips
//! 1. `BEGIN`.
//! 2. Read which event ids and which hashes of the batch are known (two statements, pipelined).
//! 3. Plan in memory, event by event in batch order, exactly as SQLite would apply them one at a
//!    time: duplicates, issues found, issues to create, hashes to map, counts to add.
//! 4. Only when the batch creates issues or brings reference events: their ids (`nextval`)
//!    and the issues' short ids (one `UPDATE projects … RETURNING` per project, whose row lock
//!    makes the numbers unique across nodes).
//! 5. Everything else in one pipeline: insert issues, map hashes, insert reference events and
//!    events, lock the existing issues, reopen resolved ones and snoozed ones whose time came,
//!    add the counts; then `COMMIT`.
//!
//! What an event did to its issue (new, regressed, reappeared) is kept in its row's
//! `alert_flags`, so that a duplicate reports what the event did when first stored and an
//! envelope processed again fires the same alerts. "New" is known when the row is written;
//! a batch that reopened issues sets the other two bits in one more statement.
//!
//! ## Races with other nodes
//! The plan is made from what was committed when it was read, and another node may commit the
//! same new hash or the same event id in between. The unique keys catch that: hashes and events
//! are inserted with `ON CONFLICT DO NOTHING`, which waits for the other transaction and then
//! skips the row, and a batch that did not insert every row it planned is rolled back and
//! planned again from the new state (it then finds the other node's issue, or sees its event as
//! a duplicate). Two nodes seeing the first event of a new group at once therefore make one
//! issue, and every count is added by exactly one transaction. Deadlocks and serialization
//! failures are retried the same way. Rows are written in key order and the issues a batch
//! counts into are locked in id order first, so concurrent batches rarely wait in a cycle.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::LazyLock;
use std::time::Duration;

use deadpool_postgres::{Client, Transaction};

use super::error::{classify, is_transient, DbContext};
use super::sql::{get, Failure, Pipeline};
use crate::batch::ReleaseTally;
use crate::batch::Tally;
use crate::payload::{EncodedBatch, EncodedEvent};
use crate::query::triage::CLEAR_SNOOZE;
use crate::{SavedEvent, StoreError, StoreResult};

/// Reopens the snoozed issues whose time came by the batch's latest receive time; the ignore's
/// other conditions end with it.
static REAPPEAR_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH due AS (
             SELECT i.id, i.ignored_until
             FROM UNNEST($1::BIGINT[], $2::DOUBLE PRECISION[]) AS b(id, received)
             JOIN issues i ON i.id = b.id
             WHERE i.status = 'ignored' AND i.ignored_until <= b.received)
         UPDATE issues SET status = 'unresolved', substatus = 'ongoing',
             ignored_until = NULL, reviewed_at = NULL, {CLEAR_SNOOZE}
         FROM due WHERE issues.id = due.id
         RETURNING issues.id, due.ignored_until"
    )
});

/// Lifts the ignores whose count or user conditions the batch met.
static LIFT_SQL: LazyLock<String> = LazyLock::new(super::triage::lift_snoozes_sql);

/// How often a batch is planned again after racing another transaction before it fails.
const MAX_ATTEMPTS: u32 = 10;

/// Writes the batch in one transaction; one result per event, in order, and the ids given to
/// the batch's new references (in the order of [`EncodedBatch::references`]).
pub(crate) async fn save(
    client: &mut Client,
    batch: &EncodedBatch,
) -> StoreResult<(Vec<SavedEvent>, Vec<i64>)> {
    let mut attempt = 1;
    loop {
        let tx = client.transaction().await.db("saving events")?;
        let outcome = match attempt_save(&tx, batch).await {
            Ok(saved) => tx.commit().await.map(|()| saved).map_err(|error| {
                Attempt::from(Failure {
                    error,
                    what: "saving events",
                })
            }),
            Err(err) => Err(err),
        };
        // A transaction still open here (a failed attempt) rolls back when dropped.
        match outcome {
            Ok(saved) => return Ok(saved),
            Err(Attempt::Failed(err)) => return Err(err),
            Err(Attempt::Raced(reason)) if attempt < MAX_ATTEMPTS => {
                tracing::debug!(attempt, reason, "a batch raced another transaction; again");
                // Jitter, so that two nodes that collided do not collide again in step.
                let pause = rand::random::<u64>() % (5 * u64::from(attempt)) + 1;
                tokio::time::sleep(Duration::from_millis(pause)).await;
                attempt += 1;
            }
            Err(Attempt::Raced(reason)) => {
                return Err(StoreError::Database(format!(
                    "saving events: still racing other transactions after {MAX_ATTEMPTS} \
                     attempts ({reason})"
                )))
            }
        }
    }
}

/// Why an attempt did not commit.
enum Attempt {
    /// Another transaction got in the way; plan again.
    Raced(&'static str),
    Failed(StoreError),
}

impl From<StoreError> for Attempt {
    fn from(err: StoreError) -> Attempt {
        Attempt::Failed(err)
    }
}

impl From<Failure> for Attempt {
    fn from(failure: Failure) -> Attempt {
        if is_transient(&failure.error) {
            Attempt::Raced("deadlock or serialization failure")
        } else {
            Attempt::Failed(classify(&failure.error, failure.what))
        }
    }
}

/// Where an event's issue is: already in the database, or the n-th one this batch creates.
#[derive(Clone, Copy, PartialEq, Debug)]
enum IssueRef {
    Existing(i64),
    New(usize),
}

/// Bits of `events.alert_flags`.
const FLAG_NEW_ISSUE: i16 = 1;
const FLAG_REGRESSED: i16 = 2;
const FLAG_REAPPEARED: i16 = 4;

/// Whose flags a duplicate reports.
#[derive(Clone, Copy, PartialEq, Debug)]
enum FlagsOf {
    /// The stored row's.
    Stored(i16),
    /// Those of the batch's event at this index (the first with the same id).
    Event(usize),
}

/// What the plan does with one event.
enum Outcome {
    /// Stored before (its issue, when the row has one) or earlier in this batch.
    Duplicate(Option<IssueRef>, FlagsOf),
    Stored {
        issue: IssueRef,
        new_issue: bool,
        /// The first event of the batch for an existing issue: it reopens the issue when the
        /// issue is resolved.
        may_regress: bool,
    },
}

/// The batch applied in memory, event by event, to what the database had.
struct Plan<'a> {
    outcomes: Vec<Outcome>,
    /// For each issue to create, the index of the event that creates it.
    new_issues: Vec<usize>,
    /// Hashes to map, in key order.
    claims: BTreeMap<(i64, &'a str), IssueRef>,
    /// Existing issues the batch counts into, in id order.
    existing_issues: Vec<i64>,
}

impl<'a> Plan<'a> {
    /// `known_events[(project, event id)]`: the stored event's issue and alert flags;
    /// `known_hashes`: the issue of each known hash.
    fn make(
        batch: &'a [EncodedEvent],
        known_events: &KnownEvents<'a>,
        known_hashes: HashMap<(i64, &'a str), i64>,
    ) -> Plan<'a> {
        let mut mapping: HashMap<(i64, &'a str), IssueRef> = known_hashes
            .into_iter()
            .map(|(key, issue_id)| (key, IssueRef::Existing(issue_id)))
            .collect();
        let mut in_batch: HashMap<(i64, &'a str), (IssueRef, usize)> = HashMap::new();
        let mut touched: HashSet<i64> = HashSet::new();
        let mut plan = Plan {
            outcomes: Vec::with_capacity(batch.len()),
            new_issues: Vec::new(),
            claims: BTreeMap::new(),
            existing_issues: Vec::new(),
        };
        for (index, encoded) in batch.iter().enumerate() {
            let event = &encoded.event;
            let key = (event.project_id, event.event_id.as_str());
            if let Some((issue_id, flags)) = known_events.get(&key) {
                plan.outcomes.push(Outcome::Duplicate(
                    issue_id.map(IssueRef::Existing),
                    FlagsOf::Stored(*flags),
                ));
                continue;
            }
            if let Some((issue, first)) = in_batch.get(&key) {
                plan.outcomes
                    .push(Outcome::Duplicate(Some(*issue), FlagsOf::Event(*first)));
                continue;
            }
            let found = event
                .hashes
                .iter()
                .enumerate()
                .find_map(|(position, hash)| {
                    mapping
                        .get(&(event.project_id, hash.as_str()))
                        .map(|issue| (*issue, position))
                });
            let (issue, new_issue, may_regress, known_position) = match found {
                Some((issue @ IssueRef::Existing(issue_id), position)) => {
                    (issue, false, touched.insert(issue_id), Some(position))
                }
                Some((issue, position)) => (issue, false, false, Some(position)),
                None => {
                    plan.new_issues.push(index);
                    (IssueRef::New(plan.new_issues.len() - 1), true, false, None)
                }
            };
            // The event's other hashes go to its issue, but for those another issue has.
            for (position, hash) in event.hashes.iter().enumerate() {
                if Some(position) == known_position {
                    continue;
                }
                if let Entry::Vacant(slot) = mapping.entry((event.project_id, hash.as_str())) {
                    slot.insert(issue);
                    plan.claims.insert((event.project_id, hash.as_str()), issue);
                }
            }
            in_batch.insert(key, (issue, index));
            plan.outcomes.push(Outcome::Stored {
                issue,
                new_issue,
                may_regress,
            });
        }
        plan.existing_issues = touched.into_iter().collect();
        plan.existing_issues.sort_unstable();
        plan
    }
}

/// One attempt: plan, write, check that nothing raced.
async fn attempt_save(
    tx: &Transaction<'_>,
    encoded: &EncodedBatch,
) -> Result<(Vec<SavedEvent>, Vec<i64>), Attempt> {
    let batch = &encoded.events[..];
    let (known_events, known_hashes) = read_known(tx, batch).await?;
    let plan = Plan::make(batch, &known_events, known_hashes);
    let (new_ids, reference_ids) = allocate_ids(tx, encoded, &plan).await?;
    let resolve = |issue: IssueRef| match issue {
        IssueRef::Existing(id) => id,
        IssueRef::New(n) => new_ids[n].0,
    };

    let new_issues = NewIssueRows::new(batch, &plan, &new_ids);
    let claims = ClaimRows::new(&plan, resolve);
    let references = ReferenceRows::new(encoded, &reference_ids);
    let events = EventRows::new(batch, &plan, resolve, &reference_ids);
    let mut tally = Tally::default();
    let mut releases = ReleaseTally::default();
    // The latest receive time of the batch's events per existing issue: a snoozed issue whose
    // time has come by then reappears.
    let mut latest_received: BTreeMap<i64, f64> = BTreeMap::new();
    for (encoded, outcome) in batch.iter().zip(&plan.outcomes) {
        if let Outcome::Stored {
            issue, new_issue, ..
        } = outcome
        {
            let event = &encoded.event;
            tally.add(resolve(*issue), event);
            if let Some(release) = event.release.as_deref().filter(|r| !r.is_empty()) {
                releases.add(event.project_id, release, event.timestamp, *new_issue);
            }
            if let IssueRef::Existing(issue_id) = issue {
                let latest = latest_received.entry(*issue_id).or_insert(event.received);
                *latest = latest.max(event.received);
            }
        }
    }
    let tally = tally.rows();
    let releases = releases.rows();
    let (snooze_issues, snooze_received): (Vec<i64>, Vec<f64>) =
        latest_received.into_iter().unzip();

    let lift_at = super::now();

    let mut pipeline = Pipeline::default();
    new_issues.push(&mut pipeline);
    let claimed = claims.push(&mut pipeline);
    references.push(&mut pipeline);
    let inserted = events.push(&mut pipeline);
    let mut regressed_at = None;
    let mut reappeared_at = None;
    if !plan.existing_issues.is_empty() {
        // The counts below update these rows: locking them in id order first keeps two
        // batches from taking them in opposite orders. NO KEY UPDATE: the foreign-key checks of
        // other batches' inserts (KEY SHARE) need not wait for it.
        pipeline.push(
            "SELECT id FROM issues WHERE id = ANY($1::BIGINT[]) ORDER BY id FOR NO KEY UPDATE",
            vec![&plan.existing_issues],
            "locking issues",
        );
        // An ignored issue stays ignored, as `archived_forever` does in Sentry.
        regressed_at = Some(pipeline.push(
            "UPDATE issues SET status = 'unresolved', substatus = 'regressed', resolved_at = NULL,
                 reviewed_at = NULL
             WHERE id = ANY($1::BIGINT[]) AND status = 'resolved' RETURNING id",
            vec![&plan.existing_issues],
            "reopening resolved issues",
        ));
        // ... unless it was ignored until a time that has come (Sentry's "ignore for N
        // minutes"): then it is unresolved again. Its `ignored_until` comes back to find the
        // event that made it reappear.
        reappeared_at = Some(pipeline.push(
            REAPPEAR_SQL.as_str(),
            vec![&snooze_issues, &snooze_received],
            "reopening snoozed issues",
        ));
    }
    tally.push(&mut pipeline);
    releases.push(&mut pipeline);
    // Ignores lifted by what this batch counted (ignore until N more events or users).
    let lifted_at = (!plan.existing_issues.is_empty()).then(|| {
        pipeline.push(
            LIFT_SQL.as_str(),
            vec![&plan.existing_issues, &lift_at],
            "lifting ignores",
        )
    });
    let results = pipeline.run(tx).await?;

    if claimed.is_some_and(|at| results[at].len() < claims.len()) {
        return Err(Attempt::Raced(
            "a new grouping hash was mapped by another node",
        ));
    }
    if inserted.is_some_and(|at| results[at].len() < events.len()) {
        return Err(Attempt::Raced("an event was stored by another node"));
    }
    let regressed: HashSet<i64> = match regressed_at {
        Some(at) => results[at]
            .iter()
            .map(|row| get(row, 0))
            .collect::<StoreResult<_>>()?,
        None => HashSet::new(),
    };
    // Snoozed issue → the time it was ignored until.
    let mut reappeared: HashMap<i64, f64> = match reappeared_at {
        Some(at) => results[at]
            .iter()
            .map(|row| Ok((get(row, 0)?, get(row, 1)?)))
            .collect::<StoreResult<_>>()?,
        None => HashMap::new(),
    };
    // Issues whose ignore conditions the batch met: its last event of each made it reappear.
    let mut lifted: HashSet<i64> = match lifted_at {
        Some(at) => results[at]
            .iter()
            .map(|row| get(row, 0))
            .collect::<StoreResult<_>>()?,
        None => HashSet::new(),
    };

    // The flags of each stored event, in batch order: the first event of the batch for a
    // resolved issue regressed it; the first one received at or after a snoozed issue's time
    // made it reappear.
    let mut flags = vec![0_i16; batch.len()];
    for (index, (encoded, outcome)) in batch.iter().zip(&plan.outcomes).enumerate() {
        if let Outcome::Stored {
            issue,
            new_issue,
            may_regress,
        } = outcome
        {
            let issue_id = resolve(*issue);
            if *new_issue {
                flags[index] |= FLAG_NEW_ISSUE;
            }
            if *may_regress && regressed.contains(&issue_id) {
                flags[index] |= FLAG_REGRESSED;
            }
            if let Entry::Occupied(until) = reappeared.entry(issue_id) {
                if encoded.event.received >= *until.get() {
                    until.remove();
                    flags[index] |= FLAG_REAPPEARED;
                }
            }
        }
    }
    for (index, outcome) in plan.outcomes.iter().enumerate().rev() {
        if let Outcome::Stored { issue, .. } = outcome {
            if lifted.remove(&resolve(*issue)) {
                flags[index] |= FLAG_REAPPEARED;
            }
        }
    }
    let issue_ids: Vec<i64> = plan
        .outcomes
        .iter()
        .map(|outcome| match outcome {
            Outcome::Stored { issue, .. } => resolve(*issue),
            Outcome::Duplicate(..) => 0,
        })
        .collect();
    write_reopened_flags(tx, batch, &flags, &issue_ids).await?;

    let saved = batch
        .iter()
        .zip(&plan.outcomes)
        .enumerate()
        .map(|(index, (encoded, outcome))| {
            let event_id = encoded.event.event_id.clone();
            let (issue_id, flags, duplicate) = match outcome {
                // Every event this store writes has an issue; 0 stands for "none" on a row
                // written by a later pipeline without one.
                Outcome::Duplicate(issue, of) => {
                    let flags = match of {
                        FlagsOf::Stored(flags) => *flags,
                        FlagsOf::Event(first) => flags[*first],
                    };
                    (issue.map_or(0, resolve), flags, true)
                }
                Outcome::Stored { issue, .. } => (resolve(*issue), flags[index], false),
            };
            SavedEvent {
                event_id,
                issue_id,
                new_issue: flags & FLAG_NEW_ISSUE != 0,
                regressed: flags & FLAG_REGRESSED != 0,
                reappeared: flags & FLAG_REAPPEARED != 0,
                duplicate,
            }
        })
        .collect();
    Ok((saved, reference_ids))
}

/// Adds the regressed and reappeared bits to the rows of the events that reopened their issue
/// (the new-issue bit was written with the row): one statement, only when there are some.
async fn write_reopened_flags(
    tx: &Transaction<'_>,
    batch: &[EncodedEvent],
    flags: &[i16],
    issue_ids: &[i64],
) -> Result<(), Attempt> {
    let reopening = FLAG_REGRESSED | FLAG_REAPPEARED;
    let mut project_ids = Vec::new();
    let mut event_ids = Vec::new();
    let mut bits = Vec::new();
    // Sentry's activity for each: `set_regression`, or `set_unresolved` for an ignore ended.
    let mut activity_issues = Vec::new();
    let mut activity_kinds = Vec::new();
    let mut activity_data = Vec::new();
    let mut activity_at = Vec::new();
    for ((encoded, flags), issue_id) in batch.iter().zip(flags).zip(issue_ids) {
        if flags & reopening != 0 {
            project_ids.push(encoded.event.project_id);
            event_ids.push(encoded.event.event_id.as_str());
            bits.push(flags & reopening);
            let kind = if flags & FLAG_REGRESSED != 0 {
                "set_regression"
            } else {
                "set_unresolved"
            };
            activity_issues.push(*issue_id);
            activity_kinds.push(kind);
            activity_data.push(serde_json::json!({"event_id": encoded.event.event_id}).to_string());
            activity_at.push(encoded.event.received);
        }
    }
    if bits.is_empty() {
        return Ok(());
    }
    let mut pipeline = Pipeline::default();
    pipeline.push(
        "UPDATE events e SET alert_flags = e.alert_flags | u.bits
         FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::SMALLINT[]) AS u(project_id, event_id, bits)
         WHERE e.project_id = u.project_id AND e.event_id = u.event_id",
        vec![&project_ids, &event_ids, &bits],
        "recording what events did to their issues",
    );
    pipeline.push(
        "INSERT INTO issue_activities (issue_id, kind, data, user_id, date_created)
         SELECT u.issue_id, u.kind, u.data, NULL, u.at
         FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::DOUBLE PRECISION[])
             AS u(issue_id, kind, data, at)",
        vec![
            &activity_issues,
            &activity_kinds,
            &activity_data,
            &activity_at,
        ],
        "recording what events did to their issues",
    );
    pipeline.run(tx).await?;
    Ok(())
}

type KnownEvents<'a> = HashMap<(i64, &'a str), (Option<i64>, i16)>;
type KnownHashes<'a> = HashMap<(i64, &'a str), i64>;

/// Which of the batch's event ids and hashes the database has: one round trip.
async fn read_known<'a>(
    tx: &Transaction<'_>,
    batch: &'a [EncodedEvent],
) -> Result<(KnownEvents<'a>, KnownHashes<'a>), Attempt> {
    let mut event_keys: Vec<(i64, &str)> = batch
        .iter()
        .map(|e| (e.event.project_id, e.event.event_id.as_str()))
        .collect();
    event_keys.sort_unstable();
    event_keys.dedup();
    let mut hash_keys: Vec<(i64, &str)> = batch
        .iter()
        .flat_map(|e| {
            e.event
                .hashes
                .iter()
                .map(|hash| (e.event.project_id, hash.as_str()))
        })
        .collect();
    hash_keys.sort_unstable();
    hash_keys.dedup();
    let (event_projects, event_ids): (Vec<i64>, Vec<&str>) = event_keys.iter().copied().unzip();
    let (hash_projects, hashes): (Vec<i64>, Vec<&str>) = hash_keys.iter().copied().unzip();

    // The rows come back with their position in the arrays (1-based), which maps them to the
    // keys borrowed from the batch.
    let mut pipeline = Pipeline::default();
    pipeline.push(
        "SELECT u.n, e.issue_id, e.alert_flags
         FROM UNNEST($1::BIGINT[], $2::TEXT[]) WITH ORDINALITY AS u(project_id, event_id, n)
         JOIN events e ON e.project_id = u.project_id AND e.event_id = u.event_id",
        vec![&event_projects, &event_ids],
        "looking up event ids",
    );
    pipeline.push(
        "SELECT u.n, g.issue_id
         FROM UNNEST($1::BIGINT[], $2::TEXT[]) WITH ORDINALITY AS u(project_id, hash, n)
         JOIN grouphashes g ON g.project_id = u.project_id AND g.hash = u.hash",
        vec![&hash_projects, &hashes],
        "looking up grouping hashes",
    );
    let results = pipeline.run(tx).await?;
    let key_at = |keys: &[(i64, &'a str)], n: i64| {
        usize::try_from(n - 1)
            .ok()
            .and_then(|i| keys.get(i).copied())
            .ok_or_else(|| StoreError::Database(format!("looking up keys: no key {n}")))
    };
    let mut known_events = HashMap::new();
    for row in &results[0] {
        known_events.insert(
            key_at(&event_keys, get(row, 0)?)?,
            (get(row, 1)?, get(row, 2)?),
        );
    }
    let mut known_hashes = HashMap::new();
    for row in &results[1] {
        known_hashes.insert(key_at(&hash_keys, get(row, 0)?)?, get(row, 1)?);
    }
    Ok((known_events, known_hashes))
}

/// Ids and short ids of the issues the plan creates, in the plan's order, and the ids of the
/// batch's new references: one round trip, none when the batch creates neither.
async fn allocate_ids(
    tx: &Transaction<'_>,
    encoded: &EncodedBatch,
    plan: &Plan<'_>,
) -> Result<(Vec<(i64, i64)>, Vec<i64>), Attempt> {
    let batch = &encoded.events[..];
    if plan.new_issues.is_empty() && encoded.references.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    // How many issues each project gets, in project order (the order the counter rows are
    // locked in).
    let mut per_project: BTreeMap<i64, i64> = BTreeMap::new();
    for index in &plan.new_issues {
        *per_project
            .entry(batch[*index].event.project_id)
            .or_default() += 1;
    }
    let wanted = i64::try_from(plan.new_issues.len()).unwrap_or(i64::MAX);
    let references_wanted = i64::try_from(encoded.references.len()).unwrap_or(i64::MAX);
    let projects: Vec<(i64, i64)> = per_project.into_iter().collect();

    let mut pipeline = Pipeline::default();
    pipeline.push(
        "SELECT nextval(pg_get_serial_sequence('event_references', 'id'))
         FROM generate_series(1, $1::BIGINT)",
        vec![&references_wanted],
        "numbering reference events",
    );
    pipeline.push(
        "SELECT nextval(pg_get_serial_sequence('issues', 'id'))
         FROM generate_series(1, $1::BIGINT)",
        vec![&wanted],
        "numbering issues",
    );
    for (project_id, count) in &projects {
        pipeline.push(
            "UPDATE projects SET next_short_id = next_short_id + $2 WHERE id = $1
             RETURNING next_short_id - $2",
            vec![project_id, count],
            "numbering issues",
        );
    }
    let results = pipeline.run(tx).await?;
    let ids_of = |rows: &[tokio_postgres::Row]| {
        rows.iter()
            .map(|row| get::<i64>(row, 0))
            .collect::<StoreResult<Vec<_>>>()
    };
    let reference_ids = ids_of(&results[0])?;
    let ids = ids_of(&results[1])?;
    let mut next_short_id: HashMap<i64, i64> = HashMap::new();
    for ((project_id, _), rows) in projects.iter().zip(&results[2..]) {
        let row = rows
            .first()
            .ok_or_else(|| StoreError::NotFound(format!("project {project_id}")))?;
        next_short_id.insert(*project_id, get(row, 0)?);
    }
    let issue_ids = plan
        .new_issues
        .iter()
        .zip(ids)
        .map(|(index, id)| {
            let project_id = batch[*index].event.project_id;
            let short_id = next_short_id
                .get_mut(&project_id)
                .ok_or_else(|| StoreError::Database("numbering issues: lost a project".into()))?;
            *short_id += 1;
            Ok((id, *short_id - 1))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok((issue_ids, reference_ids))
}

mod rows;
#[cfg(test)]
mod tests;

use rows::{ClaimRows, EventRows, NewIssueRows, ReferenceRows};
