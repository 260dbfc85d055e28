-- Data-scrubbing settings a project changed from Sentry's defaults (Security & Privacy).
-- The field lists are JSON arrays of strings.
CREATE TABLE scrubbing_settings (
    project_id             INTEGER PRIMARY KEY REFERENCES projects (id),
    data_scrubber          INTEGER NOT NULL,
    data_scrubber_defaults INTEGER NOT NULL,
    scrub_ip_addresses     INTEGER NOT NULL,
    sensitive_fields       TEXT    NOT NULL,
    safe_fields            TEXT    NOT NULL
) STRICT;
