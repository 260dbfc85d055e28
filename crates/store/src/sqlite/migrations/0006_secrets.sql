-- Secrets every node must agree on (the web UI's session-signing key), made once by whichever
-- node asks first.
CREATE TABLE secrets (
    name         TEXT PRIMARY KEY,
    value        BLOB NOT NULL,
    date_created REAL NOT NULL
) STRICT;
