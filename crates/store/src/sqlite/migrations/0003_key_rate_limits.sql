-- Per-DSN-key rate limits (Sentry's "rate limit" of a client key): at most `count` events per
-- `window` seconds; both NULL for no limit.
ALTER TABLE project_keys ADD COLUMN rate_limit_count INTEGER;
ALTER TABLE project_keys ADD COLUMN rate_limit_window INTEGER;
