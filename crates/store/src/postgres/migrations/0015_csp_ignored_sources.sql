-- The CSP filter's settings, as SQLite's migration 18: the default ignored sources on, the
-- extra sources as a JSON array of strings.
ALTER TABLE inbound_filters ADD COLUMN csp_ignored_sources_defaults BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE inbound_filters ADD COLUMN csp_ignored_sources TEXT NOT NULL DEFAULT '[]';
