-- Reference events: the first event stored with a grouping hash, kept whole, so that the later
-- events of that hash are compressed against it (a zstd raw-content dictionary) and take a
-- fraction of the space. `data` is the reference's JSON, zstd-compressed on its own.
CREATE TABLE event_references (
    id         INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    hash       TEXT    NOT NULL,
    data       BLOB    NOT NULL
) STRICT;
CREATE INDEX event_references_project_hash ON event_references (project_id, hash, id);
-- The reference an event's `data` was compressed against; NULL: compressed on its own.
ALTER TABLE events ADD COLUMN reference_id INTEGER REFERENCES event_references (id);
