-- Retention takes an expired event's user off its issue's count only when no other stored event
-- of the issue has that user: this index answers that without reading the issue's events.
CREATE INDEX events_issue_user ON events (issue_id, user_tag) WHERE user_tag IS NOT NULL;
-- Raw items expire by their receive time.
CREATE INDEX raw_items_received ON raw_items (received);
-- The highest issue id retention has deleted: SQLite gives a new row the largest id plus one,
-- so without this floor a new issue could take the id (and the permalinks) of a deleted one.
CREATE TABLE issue_id_floor (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    id       INTEGER NOT NULL
) STRICT;
INSERT INTO issue_id_floor (only_row, id) VALUES (1, 0);
