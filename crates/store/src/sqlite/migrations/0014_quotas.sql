-- Ingest quotas: a project's own rate limits and spike protection, the counters of rate-limit
-- windows (one row per counter and window; on one SQLite node ingest counts in memory, the
-- table serves the store's contract), and the accepted items per project, category and hour
-- that spike protection takes its baseline from.
CREATE TABLE project_quotas (
    project_id               INTEGER PRIMARY KEY REFERENCES projects (id),
    error_limit_count        INTEGER,
    error_limit_window       INTEGER,
    transaction_limit_count  INTEGER,
    transaction_limit_window INTEGER,
    spike_protection         INTEGER NOT NULL
) STRICT;

CREATE TABLE quota_counters (
    quota_key    TEXT    NOT NULL,
    window_start INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used         INTEGER NOT NULL,
    last_grant   INTEGER NOT NULL,
    PRIMARY KEY (quota_key, window_start)
) STRICT;

CREATE TABLE hourly_volume (
    project_id INTEGER NOT NULL,
    category   TEXT    NOT NULL,
    hour       INTEGER NOT NULL,
    accepted   INTEGER NOT NULL,
    PRIMARY KEY (project_id, category, hour)
) STRICT;
