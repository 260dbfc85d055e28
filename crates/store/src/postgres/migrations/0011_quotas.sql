-- Ingest quotas, as SQLite's migration 14: a project's own rate limits and spike protection,
-- the counters every node leases its slices of a rate-limit window from, and the accepted
-- items per project, category and hour that spike protection takes its baseline from.
CREATE TABLE project_quotas (
    project_id               BIGINT  PRIMARY KEY REFERENCES projects (id),
    error_limit_count        BIGINT,
    error_limit_window       BIGINT,
    transaction_limit_count  BIGINT,
    transaction_limit_window BIGINT,
    spike_protection         BOOLEAN NOT NULL
);

CREATE TABLE quota_counters (
    quota_key    TEXT   NOT NULL,
    window_start BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used         BIGINT NOT NULL,
    last_grant   BIGINT NOT NULL,
    PRIMARY KEY (quota_key, window_start)
);

CREATE TABLE hourly_volume (
    project_id BIGINT NOT NULL,
    category   TEXT   NOT NULL,
    hour       BIGINT NOT NULL,
    accepted   BIGINT NOT NULL,
    PRIMARY KEY (project_id, category, hour)
);
