-- What an export prints of each version, as flat columns written when the version is stored
-- (and its flags when the push's checks find them), so that exporting a million records reads
-- rows instead of decoding a million JSON documents (issue 12). Rows for versions stored before
-- this table existed are filled in by the server at start (domain::export::backfill).
CREATE TABLE version_exports (
    record_id       TEXT COLLATE "C" NOT NULL,
    version         BIGINT NOT NULL,
    device_time     TEXT COLLATE "C" NOT NULL,
    lng             DOUBLE PRECISION,
    lat             DOUBLE PRECISION,
    accuracy_m      DOUBLE PRECISION,
    fix_count       BIGINT,
    position_source TEXT NOT NULL DEFAULT '',
    manual_reason   TEXT NOT NULL DEFAULT '',
    photos          TEXT NOT NULL DEFAULT '',
    notes           TEXT NOT NULL DEFAULT '',
    flag_kinds      TEXT NOT NULL DEFAULT '',
    flags_zh        TEXT NOT NULL DEFAULT '',
    flags_json      TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (record_id, version)
);
-- Exports and the queue list newest first; over a whole province this walks the index in order
-- instead of sorting a million rows.
CREATE INDEX records_received ON records(received_at, id);
