-- Qingliu sync-server, SQLite schema v1.
-- Ids are UUID text, times RFC 3339 UTC text, structured payloads JSON text.

CREATE TABLE seqs (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO seqs (name, value) VALUES ('change', 0);

CREATE TABLE regions (
    code      TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    level     TEXT NOT NULL,
    parent    TEXT REFERENCES regions(code),
    generated INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX regions_parent ON regions(parent);
CREATE INDEX regions_level ON regions(level);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    region        TEXT NOT NULL REFERENCES regions(code),
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX users_role ON users(role);

CREATE TABLE user_villages (
    user_id TEXT NOT NULL REFERENCES users(id),
    village TEXT NOT NULL REFERENCES regions(code),
    PRIMARY KEY (user_id, village)
) WITHOUT ROWID;

CREATE TABLE tokens (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    issued_at  TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE devices (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id),
    name          TEXT NOT NULL,
    platform      TEXT NOT NULL,
    last_seq      INTEGER NOT NULL,
    registered_at TEXT NOT NULL
) WITHOUT ROWID;

-- The original result of every consumed (device, seq): a repeat is answered from here.
CREATE TABLE mutations (
    device_id   TEXT NOT NULL REFERENCES devices(id),
    seq         INTEGER NOT NULL,
    mutation_id TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (device_id, seq)
) WITHOUT ROWID;

CREATE TABLE sites (
    id         TEXT PRIMARY KEY,
    village    TEXT NOT NULL REFERENCES regions(code),
    kind       TEXT NOT NULL,
    status     TEXT,
    name       TEXT NOT NULL,
    data       TEXT NOT NULL,
    change_seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sites_village ON sites(village, change_seq);
CREATE INDEX sites_change ON sites(change_seq);

CREATE TABLE records (
    id              TEXT PRIMARY KEY,
    site_id         TEXT NOT NULL REFERENCES sites(id),
    village         TEXT NOT NULL,
    submitted_by    TEXT NOT NULL REFERENCES users(id),
    device_id       TEXT NOT NULL REFERENCES devices(id),
    current_version INTEGER NOT NULL,
    status          TEXT NOT NULL,
    review          TEXT,
    received_at     TEXT NOT NULL,
    change_seq      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX records_user ON records(submitted_by, change_seq);
CREATE INDEX records_village ON records(village, change_seq);
CREATE INDEX records_change ON records(change_seq);

CREATE TABLE versions (
    record_id   TEXT NOT NULL REFERENCES records(id),
    version     INTEGER NOT NULL,
    data        TEXT NOT NULL,
    received_at TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    PRIMARY KEY (record_id, version)
) WITHOUT ROWID;

CREATE TABLE blobs (
    sha256     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    created_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE blob_links (
    sha256    TEXT NOT NULL REFERENCES blobs(sha256),
    record_id TEXT NOT NULL REFERENCES records(id),
    version   INTEGER NOT NULL,
    PRIMARY KEY (sha256, record_id, version)
) WITHOUT ROWID;

CREATE TABLE counters (
    region TEXT NOT NULL,
    metric TEXT NOT NULL,
    year   INTEGER NOT NULL,
    value  INTEGER NOT NULL,
    PRIMARY KEY (region, metric, year)
) WITHOUT ROWID;

CREATE TABLE audit (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    user_id   TEXT,
    device_id TEXT,
    action    TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    detail    TEXT NOT NULL
);
CREATE INDEX audit_entity ON audit(entity_id);

CREATE TABLE targets (
    year         INTEGER NOT NULL,
    region       TEXT NOT NULL REFERENCES regions(code),
    metric       TEXT NOT NULL,
    value        REAL NOT NULL,
    monthly_plan TEXT NOT NULL,
    PRIMARY KEY (year, region, metric)
) WITHOUT ROWID;
