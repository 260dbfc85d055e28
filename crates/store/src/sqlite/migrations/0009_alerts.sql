-- Issue alerts: rules, their firings, the outbox of notifications, and issue activity.

-- Issue-alert rules (Sentry's `/projects/{org}/{project}/rules/`). `conditions`, `filters` and
-- `actions` are Sentry's JSON arrays as the API received them; the alerts crate interprets them.
CREATE TABLE alert_rules (
    id                INTEGER PRIMARY KEY,
    project_id        INTEGER NOT NULL REFERENCES projects (id),
    name              TEXT    NOT NULL,
    -- NULL: events of every environment.
    environment       TEXT,
    -- Minutes between two firings of the rule for one issue.
    frequency_minutes INTEGER NOT NULL,
    action_match      TEXT    NOT NULL,
    filter_match      TEXT    NOT NULL,
    conditions        TEXT    NOT NULL,
    filters           TEXT    NOT NULL,
    actions           TEXT    NOT NULL,
    -- The user who made it; NULL for the default rule.
    created_by        INTEGER,
    date_created      REAL    NOT NULL
) STRICT;
CREATE INDEX alert_rules_project ON alert_rules (project_id, id);

-- Every time a rule fired for an issue. `dedup_key` ({rule}:{issue}:{trigger}:{event}) makes an
-- envelope processed twice fire once.
CREATE TABLE alert_firings (
    id         INTEGER PRIMARY KEY,
    rule_id    INTEGER NOT NULL,
    project_id INTEGER NOT NULL,
    issue_id   INTEGER NOT NULL,
    event_id   TEXT    NOT NULL,
    -- first_seen, regression, reappeared, frequency, unique_users.
    trigger    TEXT    NOT NULL,
    fired_at   REAL    NOT NULL,
    dedup_key  TEXT    NOT NULL UNIQUE
) STRICT;
CREATE INDEX alert_firings_rule ON alert_firings (rule_id);
CREATE INDEX alert_firings_issue ON alert_firings (issue_id);

-- When each rule last fired for each issue: the rule's frequency is checked against it.
CREATE TABLE rule_issue_state (
    rule_id    INTEGER NOT NULL,
    issue_id   INTEGER NOT NULL,
    last_fired REAL    NOT NULL,
    PRIMARY KEY (rule_id, issue_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX rule_issue_state_issue ON rule_issue_state (issue_id);

-- The outbox: one row per email address, webhook or Slack post to deliver. Written in the
-- firing's transaction; senders claim due `pending` rows by setting `leased_until`, and end the
-- claim as sent, retried (attempts + 1, a later next_attempt), postponed, failed or
-- undeliverable.
CREATE TABLE notifications (
    id           INTEGER PRIMARY KEY,
    rule_id      INTEGER NOT NULL,
    project_id   INTEGER NOT NULL,
    issue_id     INTEGER NOT NULL,
    event_id     TEXT    NOT NULL,
    trigger      TEXT    NOT NULL,
    -- email, webhook, slack.
    kind         TEXT    NOT NULL,
    -- The address or URL.
    target       TEXT    NOT NULL,
    -- What to send, rendered when the rule fired (JSON).
    payload      TEXT    NOT NULL,
    -- pending, sent, failed, undeliverable.
    status       TEXT    NOT NULL,
    attempts     INTEGER NOT NULL,
    next_attempt REAL    NOT NULL,
    -- A sender holds the row until then; NULL or past: free to claim.
    leased_until REAL,
    last_error   TEXT,
    created      REAL    NOT NULL,
    sent_at      REAL
) STRICT;
-- What senders claim.
CREATE INDEX notifications_due ON notifications (status, next_attempt);
-- A project's list, newest first.
CREATE INDEX notifications_project ON notifications (project_id, id);
-- The digest's "last sent to this target by this rule"; also deleting a rule's rows.
CREATE INDEX notifications_rule_target ON notifications (rule_id, kind, target, sent_at);
-- Retention of an expired issue's rows.
CREATE INDEX notifications_issue ON notifications (issue_id);
-- Retention of old finished rows.
CREATE INDEX notifications_created ON notifications (created);

-- Sentry's issue activity (`/issues/{id}/activities/`): `notification` for each alert sent.
CREATE TABLE issue_activities (
    id           INTEGER PRIMARY KEY,
    issue_id     INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    -- JSON object, e.g. {"rule": id, "kind": "email", "target": "…"}.
    data         TEXT    NOT NULL,
    user_id      INTEGER,
    date_created REAL    NOT NULL
) STRICT;
CREATE INDEX issue_activities_issue ON issue_activities (issue_id, id);

-- Events per issue per minute (minute = start of the minute in Unix seconds), written by ingest
-- beside `issue_hourly`: frequency conditions count the minutes of their window's first partial
-- hour here and the whole hours in `issue_hourly`, instead of reading the events. Retention
-- keeps only the last two hours.
CREATE TABLE issue_minutely (
    issue_id INTEGER NOT NULL REFERENCES issues (id),
    minute   INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (issue_id, minute)
) STRICT, WITHOUT ROWID;
-- Retention of old minutes.
CREATE INDEX issue_minutely_minute ON issue_minutely (minute);

-- An issue ignored until a time (Sentry's "ignore for N minutes"); NULL otherwise. The first
-- event received at or after it makes the issue unresolved again (`reappeared`).
ALTER TABLE issues ADD COLUMN ignored_until REAL;

-- What storing the event did to its issue, kept so an envelope processed again fires the same
-- alerts: bit 0 new issue, bit 1 regressed, bit 2 reappeared.
ALTER TABLE events ADD COLUMN alert_flags INTEGER NOT NULL DEFAULT 0;

-- Every existing project gets Sentry's default rule, as new projects do: a new issue emails the
-- issue owners, falling through to the active members.
INSERT INTO alert_rules (project_id, name, environment, frequency_minutes, action_match,
                         filter_match, conditions, filters, actions, created_by, date_created)
SELECT id, 'Send a notification for new issues', NULL, 30, 'all', 'all',
       '[{"id":"sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"}]',
       '[]',
       '[{"id":"sentry.mail.actions.NotifyEmailAction","targetType":"IssueOwners","targetIdentifier":null,"fallthroughType":"ActiveMembers"}]',
       NULL, (julianday('now') - 2440587.5) * 86400.0
FROM projects ORDER BY id;
