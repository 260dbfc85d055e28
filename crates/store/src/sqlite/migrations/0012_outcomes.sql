-- Outcomes: what became of every item received (accepted, filtered, rate limited, invalid,
-- discarded by the SDK), summed per project, hour, data category, outcome and reason, as
-- Sentry's hourly outcomes. `hour` is unix seconds at the hour's start; `outcome` is Sentry's
-- id; `reason` is 'none' when there is none.
CREATE TABLE outcomes (
    project_id INTEGER NOT NULL REFERENCES projects (id),
    hour       INTEGER NOT NULL,
    category   TEXT    NOT NULL,
    outcome    INTEGER NOT NULL,
    reason     TEXT    NOT NULL,
    quantity   INTEGER NOT NULL,
    times_seen INTEGER NOT NULL,
    PRIMARY KEY (project_id, hour, category, outcome, reason)
) STRICT, WITHOUT ROWID;
CREATE INDEX outcomes_hour ON outcomes (hour);
-- Deliveries (queue entries) whose outcomes were added: an envelope processed twice, after a
-- crash between the store's commit and the queue's acknowledgement, counts once. `added` is
-- when they were added: a day later the entry is long acknowledged, and the key is deleted.
CREATE TABLE outcome_sources (
    project_id INTEGER NOT NULL REFERENCES projects (id),
    source     TEXT    NOT NULL,
    added      REAL    NOT NULL,
    PRIMARY KEY (project_id, source)
) STRICT, WITHOUT ROWID;
-- Client reports are outcomes now (`client_discard`); their old per-project sums had no hour
-- and were never shown anywhere.
DROP TABLE client_reports;
DROP TABLE client_report_sources;
