-- Event attachments, kept with the event id they name (the event may arrive after them).
CREATE TABLE event_attachments (
    id              INTEGER PRIMARY KEY,
    project_id      INTEGER NOT NULL REFERENCES projects (id),
    event_id        TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    content_type    TEXT    NOT NULL,
    attachment_type TEXT    NOT NULL,
    size            INTEGER NOT NULL,
    sha1            TEXT    NOT NULL,
    received        REAL    NOT NULL,
    payload         BLOB    NOT NULL,
    dedup_key       TEXT
) STRICT;
CREATE INDEX event_attachments_event ON event_attachments (project_id, event_id);
CREATE INDEX event_attachments_received ON event_attachments (received);
CREATE UNIQUE INDEX event_attachments_dedup ON event_attachments (project_id, dedup_key)
    WHERE dedup_key IS NOT NULL;

-- User feedback on an event (`user_report` and `feedback` items, the user-feedback API); its
-- issue is read through the event, so a report that came first links when the event comes.
CREATE TABLE user_reports (
    id         INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    event_id   TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    email      TEXT    NOT NULL,
    comments   TEXT    NOT NULL,
    received   REAL    NOT NULL,
    dedup_key  TEXT
) STRICT;
CREATE INDEX user_reports_event ON user_reports (project_id, event_id);
CREATE INDEX user_reports_project_received ON user_reports (project_id, received);
CREATE UNIQUE INDEX user_reports_dedup ON user_reports (project_id, dedup_key)
    WHERE dedup_key IS NOT NULL;
