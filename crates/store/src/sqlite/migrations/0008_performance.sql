-- Performance monitoring: transactions (segments), their spans, hourly rollups for the
-- summaries, per-project thresholds, and the trace id of error events.

-- One row per segment: a Python transaction, or a streamed span with `is_segment`.
CREATE TABLE transactions (
    id             INTEGER PRIMARY KEY,
    project_id     INTEGER NOT NULL REFERENCES projects (id),
    event_id       TEXT    NOT NULL,
    trace_id       TEXT    NOT NULL,
    span_id        TEXT    NOT NULL,
    parent_span_id TEXT,
    name           TEXT    NOT NULL,
    op             TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    start_ts       REAL    NOT NULL,
    duration_ms    REAL    NOT NULL,
    received       REAL    NOT NULL,
    environment    TEXT,
    release        TEXT,
    user_tag       TEXT,
    platform       TEXT    NOT NULL,
    -- JSON array of [key, value] pairs.
    tags           TEXT    NOT NULL,
    -- The normalized transaction without its spans: zstd-compressed JSON.
    data           BLOB    NOT NULL
) STRICT;
CREATE UNIQUE INDEX transactions_project_event_id ON transactions (project_id, event_id);
CREATE INDEX transactions_project_start ON transactions (project_id, start_ts);
CREATE INDEX transactions_project_name_start ON transactions (project_id, name, start_ts);
CREATE INDEX transactions_trace ON transactions (trace_id);

-- Every span below a segment, found by trace and segment whichever arrived first.
CREATE TABLE spans (
    id             INTEGER PRIMARY KEY,
    project_id     INTEGER NOT NULL REFERENCES projects (id),
    trace_id       TEXT    NOT NULL,
    segment_id     TEXT    NOT NULL,
    span_id        TEXT    NOT NULL,
    parent_span_id TEXT,
    transaction_name TEXT  NOT NULL,
    op             TEXT    NOT NULL,
    description    TEXT    NOT NULL,
    -- 16 hex of the normalized description's hash; the text is in span_groups.
    group_hash     TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    start_ts       REAL    NOT NULL,
    duration_ms    REAL    NOT NULL,
    -- The span's data/attributes as JSON; NULL when empty.
    data           TEXT
) STRICT;
CREATE UNIQUE INDEX spans_project_trace_span ON spans (project_id, trace_id, span_id);
CREATE INDEX spans_trace_segment ON spans (trace_id, segment_id);
CREATE INDEX spans_start ON spans (start_ts);

-- The normalized description of each span group.
CREATE TABLE span_groups (
    project_id INTEGER NOT NULL REFERENCES projects (id),
    group_hash TEXT    NOT NULL,
    op         TEXT    NOT NULL,
    normalized TEXT    NOT NULL,
    PRIMARY KEY (project_id, group_hash)
) STRICT, WITHOUT ROWID;

-- Per project, granularity (3600: hourly, 86400: daily), period start, transaction name and
-- environment ('' for none): what the summaries read instead of scanning transactions (see
-- crates/store/src/rollup). The histogram and the users are blobs merged on write.
CREATE TABLE transaction_rollups (
    project_id  INTEGER NOT NULL REFERENCES projects (id),
    granularity INTEGER NOT NULL,
    start       INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    count       INTEGER NOT NULL,
    failures    INTEGER NOT NULL,
    sum_ms      REAL    NOT NULL,
    max_ms      REAL    NOT NULL,
    first_seen  REAL    NOT NULL,
    last_seen   REAL    NOT NULL,
    histogram   BLOB    NOT NULL,
    users       BLOB    NOT NULL,
    PRIMARY KEY (project_id, granularity, start, name, environment)
) STRICT, WITHOUT ROWID;
-- Time in spans per project, granularity, period, transaction name, environment, op and group.
CREATE TABLE span_rollups (
    project_id  INTEGER NOT NULL REFERENCES projects (id),
    granularity INTEGER NOT NULL,
    start       INTEGER NOT NULL,
    transaction_name TEXT NOT NULL,
    environment TEXT    NOT NULL,
    op          TEXT    NOT NULL,
    group_hash  TEXT    NOT NULL,
    count       INTEGER NOT NULL,
    total_ms    REAL    NOT NULL,
    -- Segments the group appeared in (counted once per segment per write batch).
    segments    INTEGER NOT NULL,
    PRIMARY KEY (project_id, granularity, start, transaction_name, environment, op, group_hash)
) STRICT, WITHOUT ROWID;

-- Thresholds a project changed from Sentry's defaults.
CREATE TABLE performance_settings (
    project_id              INTEGER PRIMARY KEY REFERENCES projects (id),
    apdex_threshold_ms      REAL    NOT NULL,
    n_plus_one_min_count    INTEGER NOT NULL,
    n_plus_one_min_total_ms REAL    NOT NULL,
    slow_db_query_ms        REAL    NOT NULL
) STRICT;

-- Errors join their trace.
ALTER TABLE events ADD COLUMN trace_id TEXT;
CREATE INDEX events_trace ON events (trace_id) WHERE trace_id IS NOT NULL;
