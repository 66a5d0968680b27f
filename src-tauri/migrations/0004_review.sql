-- Review mode: a reviewer's tablet holds the township's records and queues decisions.

-- The outbox carries decisions on other people's records too, so it no longer references
-- `records`; `kind` says what an entry is (submit | review).
CREATE TABLE outbox_v4 (
    seq             INTEGER PRIMARY KEY,
    mutation_id     TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL DEFAULT 'submit',
    record_id       TEXT NOT NULL,
    version         INTEGER NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    result          TEXT,
    created_at      TEXT NOT NULL,
    done_at         TEXT,
    last_attempt_at TEXT
);
INSERT INTO outbox_v4 (seq, mutation_id, kind, record_id, version, payload, state, attempts, result, created_at, done_at, last_attempt_at)
    SELECT seq, mutation_id, 'submit', record_id, version, payload, state, attempts, result, created_at, done_at, last_attempt_at
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v4 RENAME TO outbox;
CREATE INDEX outbox_state ON outbox(state, seq);
CREATE INDEX outbox_record ON outbox(record_id, seq);

-- The records of the reviewer's scope as last pulled (`data`: the server's InspectionRecord),
-- and the detail (every version, history, flags) fetched for the change it describes.
CREATE TABLE review_records (
    id          TEXT PRIMARY KEY,
    site_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    data        TEXT NOT NULL,
    server_seq  INTEGER NOT NULL,
    detail      TEXT,
    detail_seq  INTEGER,
    flags       INTEGER NOT NULL DEFAULT 0,
    -- The other photos the detail's reuse flags name (JSON array of hashes): lists and counts
    -- read this instead of the whole detail.
    evidence    TEXT NOT NULL DEFAULT '[]',
    -- Set while the scope is fetched again from the start, cleared when a page brings the
    -- record (a record no page brought is out of scope by the end).
    unconfirmed INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX review_records_status ON review_records(status, received_at);

-- Decisions made on this tablet, one per outbox entry (same `seq`).
CREATE TABLE review_decisions (
    seq        INTEGER PRIMARY KEY,
    record_id  TEXT NOT NULL,
    version    INTEGER NOT NULL,
    decision   TEXT NOT NULL,
    comment    TEXT NOT NULL,
    state      TEXT NOT NULL,
    error      TEXT,
    server     TEXT,
    decided_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX review_decisions_record ON review_decisions(record_id, seq);
