-- A release's status, as SQLite's migration 19: open or archived.
ALTER TABLE releases ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
