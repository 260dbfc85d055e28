-- Inbound filters a project changed from a new Sentry project's defaults, as SQLite's
-- migration 13. legacy_browsers is JSON: false, true or a list of subfilters; the pattern
-- lists are JSON arrays of strings.
CREATE TABLE inbound_filters (
    project_id             BIGINT  PRIMARY KEY REFERENCES projects (id),
    browser_extensions     BOOLEAN NOT NULL,
    localhost              BOOLEAN NOT NULL,
    web_crawlers           BOOLEAN NOT NULL,
    filtered_transaction   BOOLEAN NOT NULL,
    legacy_browsers        TEXT    NOT NULL,
    react_hydration_errors BOOLEAN NOT NULL,
    chunk_load_error       BOOLEAN NOT NULL,
    error_messages         TEXT    NOT NULL,
    releases               TEXT    NOT NULL,
    blacklisted_ips        TEXT    NOT NULL
);
