-- Data-scrubbing settings a project changed from Sentry's defaults (Security & Privacy), as
-- SQLite's migration 11. The field lists are JSON arrays of strings.
CREATE TABLE scrubbing_settings (
    project_id             BIGINT  PRIMARY KEY REFERENCES projects (id),
    data_scrubber          BOOLEAN NOT NULL,
    data_scrubber_defaults BOOLEAN NOT NULL,
    scrub_ip_addresses     BOOLEAN NOT NULL,
    sensitive_fields       TEXT    NOT NULL,
    safe_fields            TEXT    NOT NULL
);
