-- The CSP filter's settings (Sentry's Security Headers → "Use default ignored sources" and
-- "Additional ignored sources"): the default on, as a new Sentry project has it, and the
-- extra sources as a JSON array of strings.
ALTER TABLE inbound_filters ADD COLUMN csp_ignored_sources_defaults INTEGER NOT NULL DEFAULT 1;
ALTER TABLE inbound_filters ADD COLUMN csp_ignored_sources TEXT NOT NULL DEFAULT '[]';
