-- What an export prints of each version, as flat columns written when the version is stored
-- (and its flags when the push's checks find them), so that exporting a million records reads
-- rows instead of decoding a million JSON documents (issue 12). Rows for versions stored before
-- this table existed are filled in by the server at start (domain::export::backfill).
CREATE TABLE version_exports (
    record_id       TEXT NOT NULL,
    version         INTEGER NOT NULL,
    device_time     TEXT NOT NULL,
    lng             REAL,
    lat             REAL,
    accuracy_m      REAL,
    fix_count       INTEGER,
    position_source TEXT NOT NULL DEFAULT '',
    manual_reason   TEXT NOT NULL DEFAULT '',
    photos          TEXT NOT NULL DEFAULT '',
    notes           TEXT NOT NULL DEFAULT '',
    flag_kinds      TEXT NOT NULL DEFAULT '',
    flags_zh        TEXT NOT NULL DEFAULT '',
    flags_json      TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (record_id, version)
) WITHOUT ROWID;
-- Exports and the queue list newest first; over a whole province this walks the index in order
-- instead of sorting a million rows.
CREATE INDEX records_received ON records(received_at, id);
