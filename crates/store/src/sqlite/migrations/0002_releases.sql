-- Releases (sentry-cli `releases new/finalize`, and every event's `release`) and deploys.

CREATE TABLE releases (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id),
    version         TEXT    NOT NULL,
    reference       TEXT,
    url             TEXT,
    date_created    REAL    NOT NULL,
    date_started    REAL,
    date_released   REAL,
    first_event     REAL,
    last_event      REAL,
    UNIQUE (organization_id, version)
) STRICT;

CREATE INDEX releases_by_date ON releases (organization_id, date_created DESC);

CREATE TABLE release_projects (
    release_id INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    new_groups INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (release_id, project_id)
) STRICT;

CREATE INDEX release_projects_by_project ON release_projects (project_id, release_id);

CREATE TABLE deploys (
    id            INTEGER PRIMARY KEY,
    release_id    INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    environment   TEXT    NOT NULL,
    name          TEXT,
    url           TEXT,
    date_started  REAL,
    date_finished REAL    NOT NULL
) STRICT;

CREATE INDEX deploys_by_release ON deploys (release_id, date_finished DESC);
