-- Inbound filters a project changed from a new Sentry project's defaults (Inbound Filters).
-- legacy_browsers is JSON: false, true (Relay's default set) or a list of subfilters; the
-- pattern lists are JSON arrays of strings.
CREATE TABLE inbound_filters (
    project_id             INTEGER PRIMARY KEY REFERENCES projects (id),
    browser_extensions     INTEGER NOT NULL,
    localhost              INTEGER NOT NULL,
    web_crawlers           INTEGER NOT NULL,
    filtered_transaction   INTEGER NOT NULL,
    legacy_browsers        TEXT    NOT NULL,
    react_hydration_errors INTEGER NOT NULL,
    chunk_load_error       INTEGER NOT NULL,
    error_messages         TEXT    NOT NULL,
    releases               TEXT    NOT NULL,
    blacklisted_ips        TEXT    NOT NULL
) STRICT;
