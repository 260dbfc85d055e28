//! `save_events`: writing a batch of processed events and upserting their issues.
//!
//! The whole batch is one transaction, so one fsync carries many events and a batch is either
//! stored and counted completely or not at all; a worker that retries a failed batch cannot
//! count an event twice, and the `(project_id, event_id)` check makes a retried *successful*
//! batch a no-op too. Events are handled in order, so an event id repeated inside one batch
//! is a duplicate of the first.
//!
//! Each event is written as it comes (its row, its issue when new, its hashes); its counts go
//! to a [`Tally`] that is written once at the end of the batch.
//!
//! An event may change its issue's status: a resolved issue regresses, an issue ignored until a
//! time that has passed reappears. What it did (and whether it made the issue) is kept on the
//! event row as `alert_flags`, so the same envelope processed again reports the same and fires
//! the same alerts.
//!
//! Grouping follows Sentry's `GroupHash`: an event joins the issue of the first of its hashes
//! that is known in its project; the hashes it brings that are not known yet are mapped to
//! that issue as well (Sentry does so when a grouping config upgrade yields a new hash for an
//! old issue), so later events that carry only the new hash still land there.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::error::DbContext;
use super::events;
use super::references;
use crate::batch::ReleaseTally;
use crate::batch::Tally;
use crate::payload::{EncodedBatch, EncodedEvent, ReferenceLink};
use crate::query::triage::CLEAR_SNOOZE;
use crate::{NewEvent, SavedEvent, StoreError, StoreResult};

/// Writes the batch in one transaction; one result per event, in order, and the ids given to
/// the batch's new references (in the order of [`EncodedBatch::references`]).
pub(crate) fn save(
    conn: &mut Connection,
    batch: &EncodedBatch,
) -> StoreResult<(Vec<SavedEvent>, Vec<i64>)> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .db("saving events")?;
    let reference_ids = batch
        .references
        .iter()
        .map(|r| references::insert(&tx, r.project_id, &r.hash, &r.data_zstd))
        .collect::<StoreResult<Vec<i64>>>()?;
    let mut batch_state = Batch::default();
    let saved = batch
        .events
        .iter()
        .map(|encoded| {
            let reference_id = match encoded.reference {
                ReferenceLink::None => None,
                ReferenceLink::Stored(id) => Some(id),
                ReferenceLink::New(index) => reference_ids.get(index).copied(),
            };
            batch_state.save_one(&tx, encoded, reference_id)
        })
        .collect::<StoreResult<Vec<_>>>()?;
    batch_state.tally.write(&tx)?;
    let touched: Vec<i64> = batch_state.touched.keys().copied().collect();
    let lifted = super::triage::lift_snoozes(&tx, &touched, super::now())?;
    let mut saved = saved;
    mark_reappeared(&tx, batch, &mut saved, lifted)?;
    batch_state.releases.write(&tx)?;
    tx.commit().db("saving events")?;
    Ok((saved, reference_ids))
}

/// Ignores the batch's counts lifted (ignore until N more events or users) end with its last
/// event of each issue: that event made the issue reappear, as Sentry's expired snooze does,
/// and says so in its row, its result and the issue's activity.
fn mark_reappeared(
    tx: &Connection,
    batch: &EncodedBatch,
    saved: &mut [SavedEvent],
    mut lifted: Vec<i64>,
) -> StoreResult<()> {
    for (encoded, result) in batch.events.iter().zip(saved.iter_mut()).rev() {
        if lifted.is_empty() {
            break;
        }
        let Some(at) = lifted.iter().position(|&id| id == result.issue_id) else {
            continue;
        };
        if result.duplicate {
            continue;
        }
        lifted.swap_remove(at);
        result.reappeared = true;
        let event = &encoded.event;
        tx.prepare_cached(
            "UPDATE events SET alert_flags = alert_flags | ?3 WHERE project_id = ?1 AND event_id = ?2",
        )
        .and_then(|mut stmt| stmt.execute(params![event.project_id, event.event_id, REAPPEARED]))
        .db("recording an event's alert flags")?;
        super::triage::record_activity(
            tx,
            result.issue_id,
            "set_unresolved",
            &event.event_id,
            event.received,
        )?;
    }
    Ok(())
}

/// `events.alert_flags`: what storing the event did to its issue.
const NEW_ISSUE: i64 = 1;
const REGRESSED: i64 = 1 << 1;
const REAPPEARED: i64 = 1 << 2;

/// What the events of one batch share.
#[derive(Default)]
struct Batch<'a> {
    tally: Tally<'a>,
    releases: ReleaseTally<'a>,
    /// Issues whose status this batch has seen to already, with the end of a snooze still to
    /// come: only the first event of a batch can find an issue resolved and regress it, and a
    /// later one can only find that snooze over.
    touched: HashMap<i64, Option<f64>>,
}

impl<'a> Batch<'a> {
    fn save_one(
        &mut self,
        tx: &Connection,
        encoded: &'a EncodedEvent,
        reference_id: Option<i64>,
    ) -> StoreResult<SavedEvent> {
        let event = &encoded.event;
        let result = |issue_id, flags: i64, duplicate| SavedEvent {
            event_id: event.event_id.clone(),
            issue_id,
            new_issue: flags & NEW_ISSUE != 0,
            regressed: flags & REGRESSED != 0,
            reappeared: flags & REAPPEARED != 0,
            duplicate,
        };
        if let Some(issue_id) = events::existing(tx, event.project_id, &event.event_id)? {
            // Every event this store writes has an issue; 0 stands for "none" on a row written
            // by a later pipeline without one.
            let flags = stored_alert_flags(tx, event.project_id, &event.event_id)?;
            return Ok(result(issue_id.unwrap_or_default(), flags, true));
        }

        let (issue_id, flags, known_hash) = match find_issue(tx, event)? {
            Some((issue_id, known)) => {
                let flags = self.reopen(tx, issue_id, event.received)?;
                (issue_id, flags, Some(known))
            }
            None => {
                let issue_id = create_issue(tx, event)?;
                self.touched.insert(issue_id, None);
                (issue_id, NEW_ISSUE, None)
            }
        };
        map_hashes(tx, event, issue_id, known_hash)?;
        events::insert(tx, encoded, issue_id, reference_id)?;
        if flags != 0 {
            set_alert_flags(tx, tx.last_insert_rowid(), flags)?;
        }
        // Sentry's activity for what the event did: a regression, or an ignore that ended.
        for (bit, kind) in [
            (REGRESSED, "set_regression"),
            (REAPPEARED, "set_unresolved"),
        ] {
            if flags & bit != 0 {
                super::triage::record_activity(
                    tx,
                    issue_id,
                    kind,
                    &event.event_id,
                    event.received,
                )?;
            }
        }
        self.tally.add(issue_id, event);
        if let Some(release) = event.release.as_deref().filter(|r| !r.is_empty()) {
            self.releases.add(
                event.project_id,
                release,
                event.timestamp,
                flags & NEW_ISSUE != 0,
            );
        }
        Ok(result(issue_id, flags, false))
    }

    /// Makes an existing issue unresolved again if this event regresses it (it was resolved)
    /// or ends its snooze (ignored until a time at or before the event's receipt); returns the
    /// flag for what happened, 0 for nothing.
    fn reopen(&mut self, tx: &Connection, issue_id: i64, received: f64) -> StoreResult<i64> {
        match self.touched.entry(issue_id) {
            Entry::Vacant(vacant) => {
                let (status, ignored_until): (String, Option<f64>) = tx
                    .prepare_cached("SELECT status, ignored_until FROM issues WHERE id = ?1")
                    .and_then(|mut stmt| {
                        stmt.query_row([issue_id], |row| Ok((row.get(0)?, row.get(1)?)))
                    })
                    .db("reading an issue's status")?;
                match (status.as_str(), ignored_until) {
                    ("resolved", _) => {
                        vacant.insert(None);
                        set_unresolved(tx, issue_id, "regressed")?;
                        Ok(REGRESSED)
                    }
                    ("ignored", Some(until)) if until <= received => {
                        vacant.insert(None);
                        set_unresolved(tx, issue_id, "ongoing")?;
                        Ok(REAPPEARED)
                    }
                    ("ignored", Some(until)) => {
                        vacant.insert(Some(until));
                        Ok(0)
                    }
                    _ => {
                        vacant.insert(None);
                        Ok(0)
                    }
                }
            }
            Entry::Occupied(mut occupied) => match *occupied.get() {
                Some(until) if until <= received => {
                    occupied.insert(None);
                    set_unresolved(tx, issue_id, "ongoing")?;
                    Ok(REAPPEARED)
                }
                _ => Ok(0),
            },
        }
    }
}

/// The alert flags of a stored event (duplicates are rare: a second lookup is cheap enough).
fn stored_alert_flags(tx: &Connection, project_id: i64, event_id: &str) -> StoreResult<i64> {
    tx.prepare_cached("SELECT alert_flags FROM events WHERE project_id = ?1 AND event_id = ?2")
        .and_then(|mut stmt| stmt.query_row(params![project_id, event_id], |row| row.get(0)))
        .db("reading an event's alert flags")
}

/// Most events change nothing about their issue, so the flags are written only for the few
/// that do, by the row id just inserted.
fn set_alert_flags(tx: &Connection, row_id: i64, flags: i64) -> StoreResult<()> {
    tx.prepare_cached("UPDATE events SET alert_flags = ?2 WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute(params![row_id, flags]))
        .db("recording an event's alert flags")?;
    Ok(())
}

/// The issue of the first hash already known in the project, and that hash's index.
fn find_issue(tx: &Connection, event: &NewEvent) -> StoreResult<Option<(i64, usize)>> {
    let mut stmt = tx
        .prepare_cached("SELECT issue_id FROM grouphashes WHERE project_id = ?1 AND hash = ?2")
        .db("looking up grouping hashes")?;
    for (index, hash) in event.hashes.iter().enumerate() {
        let found: Option<i64> = stmt
            .query_row(params![event.project_id, hash], |row| row.get(0))
            .optional()
            .db("looking up grouping hashes")?;
        if let Some(issue_id) = found {
            return Ok(Some((issue_id, index)));
        }
    }
    Ok(None)
}

/// A new unresolved issue made from its first event, with nothing counted yet (the batch's
/// tally counts this event like any other); returns its id, never one a deleted issue had.
fn create_issue(tx: &Connection, event: &NewEvent) -> StoreResult<i64> {
    let short_id: i64 = tx
        .prepare_cached(
            "UPDATE projects SET next_short_id = next_short_id + 1 WHERE id = ?1
             RETURNING next_short_id - 1",
        )
        .and_then(|mut stmt| {
            stmt.query_row([event.project_id], |row| row.get(0))
                .optional()
        })
        .db("numbering an issue")?
        .ok_or_else(|| StoreError::NotFound(format!("project {}", event.project_id)))?;
    tx.prepare_cached(
        "INSERT INTO issues (id, project_id, short_id, status, substatus, level, event_type,
             title, culprit, metadata, platform, first_seen, last_seen, times_seen, user_count,
             first_release, is_unhandled)
         VALUES (max(coalesce((SELECT max(id) FROM issues), 0),
                     (SELECT id FROM issue_id_floor)) + 1,
                 ?1, ?2, 'unresolved', 'new', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, 0, 0, ?10, ?11)
         RETURNING id",
    )
    .and_then(|mut stmt| {
        stmt.query_row(
            params![
                event.project_id,
                short_id,
                event.level,
                event.event_type,
                event.title,
                event.culprit,
                event.metadata.to_string(),
                event.platform,
                event.timestamp,
                event.release,
                event.is_unhandled,
            ],
            |row| row.get(0),
        )
    })
    .db("creating an issue")
}

/// Reopens a resolved issue (`regressed`) or one whose snooze ended (`ongoing`, as Sentry
/// does). An issue ignored without an end stays ignored, as `archived_forever` does in Sentry.
fn set_unresolved(tx: &Connection, issue_id: i64, substatus: &str) -> StoreResult<()> {
    tx.prepare_cached(&format!(
        "UPDATE issues SET status = 'unresolved', substatus = ?2, resolved_at = NULL,
                 ignored_until = NULL, reviewed_at = NULL, {CLEAR_SNOOZE}
             WHERE id = ?1"
    ))
    .and_then(|mut stmt| stmt.execute(params![issue_id, substatus]))
    .db("reopening an issue")?;
    Ok(())
}

/// Maps the event's hashes to the issue, but for the one it was found by; a hash that belongs
/// to another issue already stays there.
fn map_hashes(
    tx: &Connection,
    event: &NewEvent,
    issue_id: i64,
    known_hash: Option<usize>,
) -> StoreResult<()> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO grouphashes (project_id, hash, issue_id) VALUES (?1, ?2, ?3)
             ON CONFLICT (project_id, hash) DO NOTHING",
        )
        .db("mapping grouping hashes")?;
    for (index, hash) in event.hashes.iter().enumerate() {
        if Some(index) != known_hash {
            stmt.execute(params![event.project_id, hash, issue_id])
                .db("mapping grouping hashes")?;
        }
    }
    Ok(())
}
