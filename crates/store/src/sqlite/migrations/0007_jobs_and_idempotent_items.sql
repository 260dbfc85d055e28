-- Background jobs (retention, later alert evaluation) run once per interval across every
-- process sharing the database: a run is claimed by moving `next_run` forward.
CREATE TABLE jobs (
    name     TEXT PRIMARY KEY,
    next_run REAL NOT NULL
) STRICT, WITHOUT ROWID;
-- Where a raw item came from (queue entry and item index): an envelope processed twice, after a
-- crash between the store's commit and the queue's acknowledgement, stores its items once.
ALTER TABLE raw_items ADD COLUMN dedup_key TEXT;
CREATE UNIQUE INDEX raw_items_dedup ON raw_items (project_id, dedup_key)
    WHERE dedup_key IS NOT NULL;
-- Client-report items already added to `client_reports`, for the same reason; kept for the
-- retention period.
CREATE TABLE client_report_sources (
    project_id INTEGER NOT NULL REFERENCES projects (id),
    source     TEXT    NOT NULL,
    received   REAL    NOT NULL,
    PRIMARY KEY (project_id, source)
) STRICT, WITHOUT ROWID;
