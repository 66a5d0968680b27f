-- Webhooks (issue 15): a system's subscription to the change feed of its region. One cursor
-- per subscription, advanced only when the receiver accepted a delivery (or after giving up on
-- it), so deliveries keep feed order; a lease so one server at a time delivers each. Times the
-- dispatcher compares are Unix milliseconds.
CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    owner           TEXT NOT NULL REFERENCES users(id),
    url             TEXT NOT NULL,
    secret          TEXT NOT NULL,
    events          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    cursor          INTEGER NOT NULL,
    delivered       INTEGER NOT NULL DEFAULT 0,
    given_up        INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    failing_since   INTEGER,
    next_attempt_at INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    last_attempt_at INTEGER,
    lease_until     INTEGER
);
CREATE INDEX webhooks_owner ON webhooks(owner);
