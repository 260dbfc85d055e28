-- Outcomes: what became of every item received, summed per project, hour, data category,
-- outcome and reason, as SQLite's migration 12. `hour` is unix seconds at the hour's start;
-- `outcome` is Sentry's id; `reason` is 'none' when there is none.
CREATE TABLE outcomes (
    project_id BIGINT   NOT NULL REFERENCES projects (id),
    hour       BIGINT   NOT NULL,
    category   TEXT     NOT NULL,
    outcome    BIGINT   NOT NULL,
    reason     TEXT     NOT NULL,
    quantity   BIGINT   NOT NULL,
    times_seen BIGINT   NOT NULL,
    PRIMARY KEY (project_id, hour, category, outcome, reason)
);
CREATE INDEX outcomes_hour ON outcomes (hour);
-- Deliveries whose outcomes were added, so that an envelope processed twice counts once;
-- deleted a day after `added`.
CREATE TABLE outcome_sources (
    project_id BIGINT           NOT NULL REFERENCES projects (id),
    source     TEXT             NOT NULL,
    added      DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (project_id, source)
);
-- Client reports are outcomes now (`client_discard`).
DROP TABLE client_reports;
DROP TABLE client_report_sources;
