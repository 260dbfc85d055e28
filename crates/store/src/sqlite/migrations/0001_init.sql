-- Vigil's first SQLite schema.
--
-- Times are REAL seconds since the Unix epoch (the model's `UnixTime`): an f64 stored as an
-- 8-byte IEEE float round-trips exactly, and `min`/`max`/range comparisons work on it directly.
-- Tables are STRICT so that a wrong type is an error instead of a silently coerced value.

CREATE TABLE organizations (
    id           INTEGER PRIMARY KEY,
    slug         TEXT    NOT NULL UNIQUE,
    name         TEXT    NOT NULL,
    date_created REAL    NOT NULL
) STRICT;

CREATE TABLE projects (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id),
    slug            TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    platform        TEXT,
    date_created    REAL    NOT NULL,
    -- The short id the next new issue of this project gets (Sentry's per-project counter).
    next_short_id   INTEGER NOT NULL DEFAULT 1,
    UNIQUE (organization_id, slug)
) STRICT;

CREATE TABLE project_keys (
    id           INTEGER PRIMARY KEY,
    project_id   INTEGER NOT NULL REFERENCES projects (id),
    public_key   TEXT    NOT NULL UNIQUE,
    secret_key   TEXT    NOT NULL,
    label        TEXT    NOT NULL,
    is_active    INTEGER NOT NULL,
    date_created REAL    NOT NULL
) STRICT;
CREATE INDEX project_keys_project ON project_keys (project_id, id);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    -- As the user typed it, for display.
    email         TEXT    NOT NULL,
    -- Lowercased in Rust (Unicode-aware, unlike SQLite's NOCASE): the uniqueness key.
    email_key     TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    is_admin      INTEGER NOT NULL,
    date_created  REAL    NOT NULL
) STRICT;

CREATE TABLE members (
    organization_id INTEGER NOT NULL REFERENCES organizations (id),
    user_id         INTEGER NOT NULL REFERENCES users (id),
    role            TEXT    NOT NULL,
    date_created    REAL    NOT NULL,
    PRIMARY KEY (organization_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX members_user ON members (user_id);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    -- SHA-256 hex of the secret; the secret itself is never stored.
    token_hash   TEXT    NOT NULL UNIQUE,
    -- JSON array of scope names.
    scopes       TEXT    NOT NULL,
    date_created REAL    NOT NULL
) STRICT;

CREATE TABLE issues (
    id            INTEGER PRIMARY KEY,
    project_id    INTEGER NOT NULL REFERENCES projects (id),
    short_id      INTEGER NOT NULL,
    status        TEXT    NOT NULL,
    -- '' when the status has no substatus (resolved).
    substatus     TEXT    NOT NULL,
    level         TEXT    NOT NULL,
    event_type    TEXT    NOT NULL,
    title         TEXT    NOT NULL,
    culprit       TEXT    NOT NULL,
    -- Sentry's metadata object as JSON.
    metadata      TEXT    NOT NULL,
    platform      TEXT    NOT NULL,
    first_seen    REAL    NOT NULL,
    last_seen     REAL    NOT NULL,
    times_seen    INTEGER NOT NULL,
    user_count    INTEGER NOT NULL,
    first_release TEXT,
    is_unhandled  INTEGER NOT NULL,
    resolved_at   REAL,
    UNIQUE (project_id, short_id)
) STRICT;
-- The default issue list: one project's unresolved issues by last seen.
CREATE INDEX issues_project_status_last_seen ON issues (project_id, status, last_seen);
-- The other sorts, and lists without a status filter.
CREATE INDEX issues_project_last_seen ON issues (project_id, last_seen);
CREATE INDEX issues_project_first_seen ON issues (project_id, first_seen);
CREATE INDEX issues_project_times_seen ON issues (project_id, times_seen);

-- Sentry's GroupHash: every grouping hash an issue was seen with.
CREATE TABLE grouphashes (
    project_id INTEGER NOT NULL,
    hash       TEXT    NOT NULL,
    issue_id   INTEGER NOT NULL REFERENCES issues (id),
    PRIMARY KEY (project_id, hash)
) STRICT, WITHOUT ROWID;
CREATE INDEX grouphashes_issue ON grouphashes (issue_id);

CREATE TABLE events (
    id               INTEGER PRIMARY KEY,
    project_id       INTEGER NOT NULL REFERENCES projects (id),
    event_id         TEXT    NOT NULL,
    issue_id         INTEGER REFERENCES issues (id),
    event_type       TEXT    NOT NULL,
    timestamp        REAL    NOT NULL,
    received         REAL    NOT NULL,
    level            TEXT    NOT NULL,
    platform         TEXT    NOT NULL,
    title            TEXT    NOT NULL,
    culprit          TEXT    NOT NULL,
    environment      TEXT,
    release          TEXT,
    -- `transaction` is an SQL keyword.
    transaction_name TEXT,
    user_tag         TEXT,
    message          TEXT    NOT NULL,
    -- JSON array of [key, value] pairs, the shape of an event's `tags`.
    tags             TEXT    NOT NULL,
    -- The normalized event: zstd-compressed JSON.
    data             BLOB    NOT NULL,
    -- Bytes of the JSON before compression.
    size             INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX events_project_event_id ON events (project_id, event_id);
CREATE INDEX events_issue_timestamp ON events (issue_id, timestamp, received);
CREATE INDEX events_project_timestamp ON events (project_id, timestamp);

-- Distinct users of an issue (the `user` tag); `issues.user_count` counts its rows.
CREATE TABLE issue_users (
    issue_id INTEGER NOT NULL REFERENCES issues (id),
    user_tag TEXT    NOT NULL,
    PRIMARY KEY (issue_id, user_tag)
) STRICT, WITHOUT ROWID;

-- Per-issue counts of each tag value: the issue page's tag breakdown and the search's tag terms.
CREATE TABLE issue_tag_values (
    issue_id   INTEGER NOT NULL REFERENCES issues (id),
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    times_seen INTEGER NOT NULL,
    first_seen REAL    NOT NULL,
    last_seen  REAL    NOT NULL,
    PRIMARY KEY (issue_id, key, value)
) STRICT, WITHOUT ROWID;

-- Events per issue per hour (hour = start of the hour in Unix seconds), for charts.
CREATE TABLE issue_hourly (
    issue_id INTEGER NOT NULL REFERENCES issues (id),
    hour     INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (issue_id, hour)
) STRICT, WITHOUT ROWID;

-- Envelope items that have no pipeline of their own yet, kept as they arrived.
CREATE TABLE raw_items (
    id         INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    item_type  TEXT    NOT NULL,
    event_id   TEXT,
    received   REAL    NOT NULL,
    -- Item headers as JSON.
    headers    TEXT    NOT NULL,
    payload    BLOB    NOT NULL
) STRICT;
CREATE INDEX raw_items_project_type ON raw_items (project_id, item_type, received);

-- Outcomes the SDKs report they discarded (`client_report` items), summed.
CREATE TABLE client_reports (
    project_id INTEGER NOT NULL REFERENCES projects (id),
    reason     TEXT    NOT NULL,
    category   TEXT    NOT NULL,
    quantity   INTEGER NOT NULL,
    PRIMARY KEY (project_id, reason, category)
) STRICT, WITHOUT ROWID;
