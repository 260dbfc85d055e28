-- A release's status as Sentry's API sets it (`sentry-cli releases archive|restore`): open, or
-- archived (left out of release lists unless asked for).
ALTER TABLE releases ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
