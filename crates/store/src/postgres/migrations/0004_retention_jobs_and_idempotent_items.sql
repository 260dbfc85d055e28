-- Retention takes an expired event's user off its issue's count only when no other stored event
-- of the issue has that user: this index answers that without reading the issue's events.
CREATE INDEX events_issue_user ON events (issue_id, user_tag) WHERE user_tag IS NOT NULL;
-- Raw items expire by their receive time.
CREATE INDEX raw_items_received ON raw_items (received);
-- Background jobs (retention, later alert evaluation) run once per interval across every node:
-- a run is claimed by moving `next_run` forward.
CREATE TABLE jobs (
    name     TEXT COLLATE "C" PRIMARY KEY,
    next_run DOUBLE PRECISION NOT NULL
);
-- Where a raw item came from (queue entry and item index): an envelope processed twice stores
-- its items once.
ALTER TABLE raw_items ADD COLUMN dedup_key TEXT COLLATE "C";
CREATE UNIQUE INDEX raw_items_dedup ON raw_items (project_id, dedup_key)
    WHERE dedup_key IS NOT NULL;
-- Client-report items already added to `client_reports`, for the same reason.
CREATE TABLE client_report_sources (
    project_id BIGINT           NOT NULL REFERENCES projects (id),
    source     TEXT COLLATE "C" NOT NULL,
    received   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (project_id, source)
);
