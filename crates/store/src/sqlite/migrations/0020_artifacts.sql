-- Source maps and other release artifacts, as sentry-cli uploads them.

-- Chunks, content-addressed by their SHA-1: a blob is written once however often (and by
-- whichever organization) it is uploaded; who uploaded it is kept apart, so that one
-- organization's `missingChunks` never reveals another's.
CREATE TABLE file_blobs (
    checksum   TEXT    PRIMARY KEY,
    size       INTEGER NOT NULL,
    data       BLOB    NOT NULL,
    date_added REAL    NOT NULL
) STRICT;
CREATE TABLE file_blob_owners (
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    checksum        TEXT    NOT NULL REFERENCES file_blobs (checksum),
    date_added      REAL    NOT NULL,
    PRIMARY KEY (organization_id, checksum)
) STRICT;

-- Artifact bundles: the whole is the concatenation of its chunks (never copied), identified in
-- its organization by the checksum of that whole.
CREATE TABLE artifact_bundles (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    bundle_id       TEXT    NOT NULL,
    checksum        TEXT    NOT NULL,
    note            TEXT,
    file_count      INTEGER NOT NULL,
    size            INTEGER NOT NULL,
    date_added      REAL    NOT NULL,
    date_modified   REAL    NOT NULL
) STRICT;
CREATE UNIQUE INDEX artifact_bundles_checksum ON artifact_bundles (organization_id, checksum);
CREATE INDEX artifact_bundles_bundle_id ON artifact_bundles (organization_id, bundle_id);
CREATE TABLE artifact_bundle_chunks (
    bundle_row_id INTEGER NOT NULL REFERENCES artifact_bundles (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    checksum      TEXT    NOT NULL REFERENCES file_blobs (checksum),
    PRIMARY KEY (bundle_row_id, position)
) STRICT;
CREATE TABLE artifact_bundle_projects (
    bundle_row_id INTEGER NOT NULL REFERENCES artifact_bundles (id) ON DELETE CASCADE,
    project_id    INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    PRIMARY KEY (bundle_row_id, project_id)
) STRICT;
CREATE INDEX artifact_bundle_projects_project ON artifact_bundle_projects (project_id);
-- Release + dist associations (dist '' for none), as Sentry's ReleaseArtifactBundle.
CREATE TABLE artifact_bundle_releases (
    bundle_row_id INTEGER NOT NULL REFERENCES artifact_bundles (id) ON DELETE CASCADE,
    release       TEXT    NOT NULL,
    dist          TEXT    NOT NULL,
    PRIMARY KEY (bundle_row_id, release, dist)
) STRICT;
CREATE INDEX artifact_bundle_releases_release ON artifact_bundle_releases (release, dist);
-- Debug id → bundle, with the type of the file that carries it.
CREATE TABLE artifact_bundle_debug_ids (
    debug_id      TEXT    NOT NULL,
    bundle_row_id INTEGER NOT NULL REFERENCES artifact_bundles (id) ON DELETE CASCADE,
    file_type     TEXT    NOT NULL,
    PRIMARY KEY (debug_id, bundle_row_id, file_type)
) STRICT;
CREATE INDEX artifact_bundle_debug_ids_bundle ON artifact_bundle_debug_ids (bundle_row_id);
-- URL (as the manifest writes it) → bundle.
CREATE TABLE artifact_bundle_urls (
    url           TEXT    NOT NULL,
    bundle_row_id INTEGER NOT NULL REFERENCES artifact_bundles (id) ON DELETE CASCADE,
    PRIMARY KEY (url, bundle_row_id)
) STRICT;
CREATE INDEX artifact_bundle_urls_bundle ON artifact_bundle_urls (bundle_row_id);

-- Release files (`releases files upload`, the release-file API): one file per release, dist
-- ('' for none) and name; uploaded for one project or (org-level) for all of the release's.
CREATE TABLE release_files (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    release_id      INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    project_id      INTEGER REFERENCES projects (id) ON DELETE CASCADE,
    dist            TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    headers         TEXT    NOT NULL,
    size            INTEGER NOT NULL,
    sha1            TEXT    NOT NULL,
    payload         BLOB    NOT NULL,
    date_created    REAL    NOT NULL
) STRICT;
CREATE UNIQUE INDEX release_files_name ON release_files (release_id, dist, name);
