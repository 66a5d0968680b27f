-- Webhooks (issue 15): see the SQLite migration 0015.
CREATE TABLE webhooks (
    id              TEXT COLLATE "C" PRIMARY KEY,
    owner           TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    url             TEXT NOT NULL,
    secret          TEXT NOT NULL,
    events          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    cursor          BIGINT NOT NULL,
    delivered       BIGINT NOT NULL DEFAULT 0,
    given_up        BIGINT NOT NULL DEFAULT 0,
    attempts        BIGINT NOT NULL DEFAULT 0,
    failing_since   BIGINT,
    next_attempt_at BIGINT,
    last_status     BIGINT,
    last_error      TEXT,
    last_attempt_at BIGINT,
    lease_until     BIGINT
);
CREATE INDEX webhooks_owner ON webhooks(owner);
