-- 文书编号 blocks the server handed this device, and the numbers records have spent. A number
-- is spent in the same transaction that writes it into its record, and never handed out again
-- (also not when the record is discarded).
CREATE TABLE number_blocks (
    kind  TEXT NOT NULL,
    year  INTEGER NOT NULL,
    first INTEGER NOT NULL,
    last  INTEGER NOT NULL,
    PRIMARY KEY (kind, year, first)
) WITHOUT ROWID;
CREATE TABLE used_numbers (
    kind      TEXT NOT NULL,
    year      INTEGER NOT NULL,
    serial    INTEGER NOT NULL,
    record_id TEXT NOT NULL,
    used_at   TEXT NOT NULL,
    PRIMARY KEY (kind, year, serial)
) WITHOUT ROWID;
