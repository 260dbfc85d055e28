-- Secrets every node must agree on (the web UI's session-signing key), made once by whichever
-- node asks first.
CREATE TABLE secrets (
    name         TEXT             PRIMARY KEY,
    value        BYTEA            NOT NULL,
    date_created DOUBLE PRECISION NOT NULL
);
