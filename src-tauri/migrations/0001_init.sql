-- Qingliu field app, local store schema v1.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Sites of the assigned villages, as last pulled.
CREATE TABLE sites (
    id         TEXT PRIMARY KEY,
    village    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    status     TEXT,
    name       TEXT NOT NULL,
    search     TEXT NOT NULL,
    data       TEXT NOT NULL,
    server_seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sites_kind ON sites(kind, status);

-- One row per inspection record: the newest local version and where it stands.
CREATE TABLE records (
    id          TEXT PRIMARY KEY,
    site_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    state       TEXT NOT NULL,
    data        TEXT NOT NULL,
    review      TEXT,
    last_error  TEXT,
    server_seq  INTEGER,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX records_state ON records(state);
CREATE INDEX records_site ON records(site_id);

-- Photos held on the device: the derivative that travels and the original kept until approval.
CREATE TABLE photos (
    sha256          TEXT PRIMARY KEY,
    bytes           INTEGER NOT NULL,
    width           INTEGER NOT NULL,
    height          INTEGER NOT NULL,
    original_sha256 TEXT NOT NULL,
    original_file   TEXT,
    meta            TEXT NOT NULL,
    uploaded        INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL
) WITHOUT ROWID;

-- The outbox: every change to send, in order. `seq` is the device sequence the server sees.
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY,
    mutation_id TEXT NOT NULL UNIQUE,
    record_id   TEXT NOT NULL REFERENCES records(id),
    version     INTEGER NOT NULL,
    payload     TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    result      TEXT,
    created_at  TEXT NOT NULL,
    done_at     TEXT
);
CREATE INDEX outbox_state ON outbox(state, seq);
