-- Evidence the server checks by itself at push time: photo fingerprints, visits (who was where
-- when), enforcement credentials on site, claimed photo originals, device clocks, and the flags
-- computed for each version with their evidence. Times used for ordering are integer Unix
-- milliseconds (RFC 3339 text does not sort when fractions of seconds come and go).

-- Perceptual fingerprint of each stored blob, with its four 16-bit bands indexed for the
-- near-duplicate look-up (sync-server/src/fingerprint.rs); NULL for a blob that is not a
-- decodable JPEG (looked at once, never again).
CREATE TABLE photo_fingerprints (
    sha256 TEXT PRIMARY KEY REFERENCES blobs(sha256),
    fp     INTEGER,
    b0     INTEGER,
    b1     INTEGER,
    b2     INTEGER,
    b3     INTEGER
) WITHOUT ROWID;
CREATE INDEX photo_fingerprints_b0 ON photo_fingerprints(b0);
CREATE INDEX photo_fingerprints_b1 ON photo_fingerprints(b1);
CREATE INDEX photo_fingerprints_b2 ON photo_fingerprints(b2);
CREATE INDEX photo_fingerprints_b3 ON photo_fingerprints(b3);

-- One row per record (its latest version): whose visit, where, and when (device time corrected
-- by the device's known clock skew).
CREATE TABLE visits (
    record_id    TEXT PRIMARY KEY REFERENCES records(id),
    user_id      TEXT NOT NULL,
    site_id      TEXT NOT NULL,
    at_ms        INTEGER NOT NULL,
    lng          REAL,
    lat          REAL,
    accuracy_m   REAL,
    position_key TEXT
) WITHOUT ROWID;
CREATE INDEX visits_user_time ON visits(user_id, at_ms);
CREATE INDEX visits_position ON visits(position_key);

-- Officers' credentials on enforcement records, with the record's on-site times and place.
CREATE TABLE credential_visits (
    credential_no TEXT NOT NULL,
    record_id     TEXT NOT NULL REFERENCES records(id),
    officer       TEXT NOT NULL,
    started_ms    INTEGER NOT NULL,
    ended_ms      INTEGER NOT NULL,
    lng           REAL,
    lat           REAL,
    place         TEXT NOT NULL,
    PRIMARY KEY (credential_no, record_id)
) WITHOUT ROWID;
CREATE INDEX credential_visits_time ON credential_visits(credential_no, started_ms);

-- Camera originals a record's photos claim to come from.
CREATE TABLE photo_originals (
    original_sha256 TEXT NOT NULL,
    record_id       TEXT NOT NULL REFERENCES records(id),
    version         INTEGER NOT NULL,
    photo           INTEGER NOT NULL,
    PRIMARY KEY (original_sha256, record_id, version, photo)
) WITHOUT ROWID;

-- Each device's clock as read at its last push that said what it read.
ALTER TABLE devices ADD COLUMN clock_skew_ms INTEGER;
ALTER TABLE devices ADD COLUMN clock_read_ms INTEGER;

-- Flags of each version in order, with their evidence (JSON of shared::flags::Flag). A version
-- checked at push has `flags_checked = 1` even when it raised none; older versions are checked
-- on read from what they say about themselves.
ALTER TABLE versions ADD COLUMN flags_checked INTEGER NOT NULL DEFAULT 0;
CREATE TABLE version_flags (
    record_id   TEXT NOT NULL,
    version     INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    flag        TEXT NOT NULL,
    village     TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    cites_blob  TEXT,
    PRIMARY KEY (record_id, version, n),
    FOREIGN KEY (record_id, version) REFERENCES versions(record_id, version)
) WITHOUT ROWID;
CREATE INDEX version_flags_village ON version_flags(village, received_ms);
CREATE INDEX version_flags_blob ON version_flags(cites_blob) WHERE cites_blob IS NOT NULL;
