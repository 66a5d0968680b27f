-- Qingliu sync-server, PostgreSQL schema v1: the same tables as the SQLite schema at its v7
-- (sync-server/migrations/sqlite), written once for PostgreSQL 15 in plain SQL.
--
-- Ids, codes and hashes are text in the C collation (`COLLATE "C"`): ranges (a region's descendant
-- codes), keyset pages and hash order compare bytes, as on SQLite, whatever collation the
-- database was created with. Times are RFC 3339 UTC text exactly as the server wrote them
-- (audit entries are hashed over them; nanoseconds survive), Unix milliseconds where they are
-- compared. Structured payloads are JSON text, stored byte for byte.

CREATE TABLE seqs (
    name  TEXT COLLATE "C" PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO seqs (name, value) VALUES ('change', 0);

CREATE TABLE regions (
    code      TEXT COLLATE "C" PRIMARY KEY,
    name      TEXT NOT NULL,
    level     TEXT COLLATE "C" NOT NULL,
    parent    TEXT COLLATE "C" REFERENCES regions(code),
    generated BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX regions_parent ON regions(parent);
CREATE INDEX regions_level ON regions(level, code);

CREATE TABLE users (
    id            TEXT COLLATE "C" PRIMARY KEY,
    username      TEXT COLLATE "C" NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT COLLATE "C" NOT NULL,
    region        TEXT COLLATE "C" NOT NULL REFERENCES regions(code),
    password_hash TEXT NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX users_role ON users(role);
CREATE INDEX users_region ON users(region);

CREATE TABLE user_villages (
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    village TEXT COLLATE "C" NOT NULL REFERENCES regions(code),
    PRIMARY KEY (user_id, village)
);
CREATE INDEX user_villages_village ON user_villages(village);

CREATE TABLE tokens (
    token_hash BYTEA PRIMARY KEY,
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    issued_at  TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked    BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE devices (
    id            TEXT COLLATE "C" PRIMARY KEY,
    user_id       TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    name          TEXT NOT NULL,
    platform      TEXT NOT NULL,
    last_seq      BIGINT NOT NULL,
    registered_at TEXT NOT NULL,
    public_key    TEXT,
    clock_skew_ms BIGINT,
    clock_read_ms BIGINT
);

-- The original result of every consumed (device, seq): a repeat is answered from here.
CREATE TABLE mutations (
    device_id   TEXT COLLATE "C" NOT NULL REFERENCES devices(id),
    seq         BIGINT NOT NULL,
    mutation_id TEXT COLLATE "C" NOT NULL,
    outcome     TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (device_id, seq)
);

CREATE TABLE sites (
    id         TEXT COLLATE "C" PRIMARY KEY,
    village    TEXT COLLATE "C" NOT NULL REFERENCES regions(code),
    kind       TEXT COLLATE "C" NOT NULL,
    status     TEXT COLLATE "C",
    name       TEXT NOT NULL,
    data       TEXT NOT NULL,
    change_seq BIGINT NOT NULL
);
CREATE INDEX sites_village ON sites(village, change_seq);
CREATE INDEX sites_change ON sites(change_seq);

CREATE TABLE records (
    id              TEXT COLLATE "C" PRIMARY KEY,
    site_id         TEXT COLLATE "C" NOT NULL REFERENCES sites(id),
    village         TEXT COLLATE "C" NOT NULL,
    submitted_by    TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    device_id       TEXT COLLATE "C" NOT NULL REFERENCES devices(id),
    current_version BIGINT NOT NULL,
    status          TEXT COLLATE "C" NOT NULL,
    review          TEXT,
    received_at     TEXT COLLATE "C" NOT NULL,
    change_seq      BIGINT NOT NULL,
    kind            TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX records_user ON records(submitted_by, change_seq);
CREATE INDEX records_village ON records(village, change_seq);
CREATE INDEX records_change ON records(change_seq);
CREATE INDEX records_village_received ON records(village, received_at);

CREATE TABLE versions (
    record_id     TEXT COLLATE "C" NOT NULL REFERENCES records(id),
    version       BIGINT NOT NULL,
    data          TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    device_id     TEXT COLLATE "C" NOT NULL,
    signature     TEXT,
    flags_checked BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (record_id, version)
);

CREATE TABLE blobs (
    sha256     TEXT COLLATE "C" PRIMARY KEY,
    size       BIGINT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE blob_links (
    sha256    TEXT COLLATE "C" NOT NULL REFERENCES blobs(sha256),
    record_id TEXT COLLATE "C" NOT NULL REFERENCES records(id),
    version   BIGINT NOT NULL,
    PRIMARY KEY (sha256, record_id, version)
);

CREATE TABLE counters (
    region TEXT COLLATE "C" NOT NULL,
    metric TEXT COLLATE "C" NOT NULL,
    year   BIGINT NOT NULL,
    value  BIGINT NOT NULL,
    PRIMARY KEY (region, metric, year)
);

-- Each entry carries the SHA-256 over the previous entry's hash and its own content
-- (sync-server/src/audit_chain.rs).
CREATE TABLE audit (
    id        BIGINT PRIMARY KEY,
    at        TEXT NOT NULL,
    user_id   TEXT COLLATE "C",
    device_id TEXT COLLATE "C",
    action    TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT COLLATE "C" NOT NULL,
    detail    TEXT NOT NULL,
    hash      TEXT
);
CREATE INDEX audit_entity ON audit(entity_id);

CREATE TABLE targets (
    year         BIGINT NOT NULL,
    region       TEXT COLLATE "C" NOT NULL REFERENCES regions(code),
    metric       TEXT COLLATE "C" NOT NULL,
    value        DOUBLE PRECISION NOT NULL,
    monthly_plan TEXT NOT NULL,
    PRIMARY KEY (year, region, metric)
);

-- Perceptual fingerprint of each stored blob (sync-server/src/fingerprint.rs), NULL for a blob
-- that is not a decodable JPEG. Several servers write here, so the near-duplicate look-up
-- probes the four 16-bit bands on these indexes rather than in one process's memory.
CREATE TABLE photo_fingerprints (
    sha256 TEXT COLLATE "C" PRIMARY KEY REFERENCES blobs(sha256),
    fp     BIGINT,
    b0     INTEGER,
    b1     INTEGER,
    b2     INTEGER,
    b3     INTEGER
);
CREATE INDEX photo_fingerprints_b0 ON photo_fingerprints(b0);
CREATE INDEX photo_fingerprints_b1 ON photo_fingerprints(b1);
CREATE INDEX photo_fingerprints_b2 ON photo_fingerprints(b2);
CREATE INDEX photo_fingerprints_b3 ON photo_fingerprints(b3);

CREATE TABLE visits (
    record_id    TEXT COLLATE "C" PRIMARY KEY REFERENCES records(id),
    user_id      TEXT COLLATE "C" NOT NULL,
    site_id      TEXT COLLATE "C" NOT NULL,
    at_ms        BIGINT NOT NULL,
    lng          DOUBLE PRECISION,
    lat          DOUBLE PRECISION,
    accuracy_m   DOUBLE PRECISION,
    position_key TEXT COLLATE "C"
);
CREATE INDEX visits_user_time ON visits(user_id, at_ms);
CREATE INDEX visits_position ON visits(position_key);

CREATE TABLE credential_visits (
    credential_no TEXT COLLATE "C" NOT NULL,
    record_id     TEXT COLLATE "C" NOT NULL REFERENCES records(id),
    officer       TEXT NOT NULL,
    started_ms    BIGINT NOT NULL,
    ended_ms      BIGINT NOT NULL,
    lng           DOUBLE PRECISION,
    lat           DOUBLE PRECISION,
    place         TEXT NOT NULL,
    PRIMARY KEY (credential_no, record_id)
);
CREATE INDEX credential_visits_time ON credential_visits(credential_no, started_ms);
CREATE INDEX credential_visits_record ON credential_visits(record_id);

CREATE TABLE photo_originals (
    original_sha256 TEXT COLLATE "C" NOT NULL,
    record_id       TEXT COLLATE "C" NOT NULL REFERENCES records(id),
    version         BIGINT NOT NULL,
    photo           BIGINT NOT NULL,
    PRIMARY KEY (original_sha256, record_id, version, photo)
);

CREATE TABLE version_flags (
    record_id   TEXT COLLATE "C" NOT NULL,
    version     BIGINT NOT NULL,
    n           BIGINT NOT NULL,
    kind        TEXT COLLATE "C" NOT NULL,
    flag        TEXT NOT NULL,
    village     TEXT COLLATE "C" NOT NULL,
    user_id     TEXT COLLATE "C" NOT NULL,
    received_ms BIGINT NOT NULL,
    cites_blob  TEXT COLLATE "C",
    PRIMARY KEY (record_id, version, n),
    FOREIGN KEY (record_id, version) REFERENCES versions(record_id, version)
);
CREATE INDEX version_flags_village ON version_flags(village, received_ms);
CREATE INDEX version_flags_blob ON version_flags(cites_blob) WHERE cites_blob IS NOT NULL;

-- 文书编号 (sync-server/migrations/sqlite/0007_document_numbers.sql says why).
CREATE TABLE document_serials (
    kind TEXT COLLATE "C" NOT NULL,
    year BIGINT NOT NULL,
    next BIGINT NOT NULL,
    PRIMARY KEY (kind, year)
);
CREATE TABLE document_number_blocks (
    kind      TEXT COLLATE "C" NOT NULL,
    year      BIGINT NOT NULL,
    first     BIGINT NOT NULL,
    last      BIGINT NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL REFERENCES devices(id),
    issued_at TEXT NOT NULL,
    PRIMARY KEY (kind, year, first)
);
CREATE INDEX document_number_blocks_device ON document_number_blocks(device_id);
CREATE TABLE document_numbers (
    kind      TEXT COLLATE "C" NOT NULL,
    year      BIGINT NOT NULL,
    serial    BIGINT NOT NULL,
    record_id TEXT COLLATE "C" NOT NULL REFERENCES records(id),
    version   BIGINT NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    used_at   TEXT NOT NULL,
    PRIMARY KEY (kind, year, serial)
);
CREATE INDEX document_numbers_record ON document_numbers(record_id);

-- Login attempts per (normalised) username within the current window: shared by every server,
-- so a guesser spreading attempts across the balancer meets one limit.
CREATE TABLE login_attempts (
    username     TEXT COLLATE "C" PRIMARY KEY,
    window_start BIGINT NOT NULL,
    attempts     BIGINT NOT NULL
);
